"""serviceRegistries through UpdateService: the record types ECS accepts, and what it registers.

ECS's guide: with awsvpc "you can create any combination of A or SRV records";
with bridge or host only SRV; and each task is registered with
AWS_INSTANCE_IPV4, AWS_INSTANCE_PORT, AVAILABILITY_ZONE, REGION,
ECS_SERVICE_NAME, ECS_CLUSTER_NAME, EC2_INSTANCE_ID and
ECS_TASK_DEFINITION_FAMILY. A registry of CNAME records, or of AAAA records
alone (no portside task has an IPv6 address), is refused.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.contract.agent_client import report_network
from tests.contract.ecs_fixtures import cluster_with_instances, register_td
from tests.helpers import Server, unique, until

AWSVPC = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}


def ecs_task(server: Server, cluster: str, task: str) -> dict[str, Any]:
    return dict(server.client().describe_tasks(cluster=cluster, tasks=[task])["tasks"][0])


def _registry(server: Server, records: list[str]) -> dict[str, Any]:
    sd = server.client("servicediscovery")
    op = sd.create_private_dns_namespace(Name=f"{unique('z')}.local", Vpc="vpc-1")
    ns_id = sd.get_operation(OperationId=op["OperationId"])["Operation"]["Targets"]["NAMESPACE"]
    return dict(sd.create_service(
        Name="web", NamespaceId=ns_id,
        DnsConfig={"RoutingPolicy": "WEIGHTED" if records == ["CNAME"] else "MULTIVALUE",
                   "DnsRecords": [{"Type": t, "TTL": 5} for t in records]},
    )["Service"])


@pytest.mark.parametrize("records", [["AAAA"], ["CNAME"]])
def test_aaaa_only_and_cname_registries_are_refused(server: Server, records: list[str]) -> None:
    ecs = server.client()
    arn = _registry(server, records)["Arn"]
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs, network_mode="awsvpc")
    name = unique("svc")
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=td["family"],
                       desiredCount=0, networkConfiguration=AWSVPC)
    for call, kw in (
        (ecs.update_service, {"service": name}),
        (ecs.create_service, {"serviceName": unique("svc"), "taskDefinition": td["family"],
                              "networkConfiguration": AWSVPC, "desiredCount": 0}),
    ):
        with pytest.raises(ClientError) as err:
            call(cluster=cluster, serviceRegistries=[{"registryArn": arn, "port": 80}], **kw)
        assert err.value.response["Error"]["Code"] == "InvalidParameterException"
        assert records[0] in err.value.response["Error"]["Message"]
    (svc,) = ecs.describe_services(cluster=cluster, services=[name])["services"]
    assert svc["serviceRegistries"] == []


def test_a_registry_added_by_update_service_registers_every_attribute(server: Server) -> None:
    ecs = server.client()
    sd = server.client("servicediscovery")
    registry = _registry(server, ["A", "AAAA", "SRV"])  # AAAA beside A is accepted
    ec2_id = f"i-{unique('x')[2:]}"
    cluster, _ = cluster_with_instances(ecs, 1, az="us-east-1b", instance_id=ec2_id)
    td = register_td(ecs, network_mode="awsvpc")
    name = unique("svc")
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=td["family"],
                       desiredCount=1, networkConfiguration=AWSVPC)
    (arn,) = until(lambda: ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"])
    report_network(server, cluster, arn, "10.0.3.7")
    ecs.submit_task_state_change(
        cluster=cluster, task=arn, status="RUNNING",
        containers=[{"containerName": "web", "status": "RUNNING", "runtimeId": "r"}],
    )
    entry = {"registryArn": registry["Arn"], "port": 9090}
    ecs.update_service(cluster=cluster, service=name, serviceRegistries=[entry])
    (svc,) = ecs.describe_services(cluster=cluster, services=[name])["services"]
    assert svc["serviceRegistries"] == [entry]

    (inst,) = until(lambda: sd.list_instances(ServiceId=registry["Id"])["Instances"])
    assert inst["Id"] == arn.rsplit("/", 1)[-1]
    assert inst["Attributes"] == {
        "AWS_INSTANCE_IPV4": "10.0.3.7",  # the task's own (its ENI's) address
        "AWS_INSTANCE_PORT": "9090",  # the registry's port field
        "AVAILABILITY_ZONE": "us-east-1b",
        "REGION": "us-east-1",
        "ECS_SERVICE_NAME": name,
        "ECS_CLUSTER_NAME": cluster,
        "EC2_INSTANCE_ID": ec2_id,
        "ECS_TASK_DEFINITION_FAMILY": td["family"],
    }


def test_an_awsvpc_task_is_registered_only_under_its_own_reported_address(server: Server) -> None:
    """No host-address stand-in: nothing until the agent reports the task's ENI address.

    A bridge service in the same registry is the witness: the awsvpc task runs before the
    bridge task does, so the pass that registers the bridge task has seen the awsvpc task
    running (without an address) and must have left it out."""
    ecs = server.client()
    sd = server.client("servicediscovery")
    registry = _registry(server, ["A", "SRV"])
    cluster, _ = cluster_with_instances(ecs, 1)
    vpc_td, bridge_td = register_td(ecs, network_mode="awsvpc"), register_td(ecs)
    vpc, bridge = unique("vpc"), unique("br")
    ecs.create_service(cluster=cluster, serviceName=vpc, taskDefinition=vpc_td["family"],
                       desiredCount=1, networkConfiguration=AWSVPC,
                       serviceRegistries=[{"registryArn": registry["Arn"], "port": 9090}])
    (vpc_arn,) = until(lambda: ecs.list_tasks(cluster=cluster, serviceName=vpc)["taskArns"])
    (eni,) = ecs_task(server, cluster, vpc_arn)["attachments"]
    assert eni["status"] == "PRECREATED"  # an ENI, without an address yet
    ecs.submit_task_state_change(
        cluster=cluster, task=vpc_arn, status="RUNNING",
        containers=[{"containerName": "web", "status": "RUNNING", "runtimeId": "v"}],
    )
    ecs.create_service(cluster=cluster, serviceName=bridge, taskDefinition=bridge_td["family"],
                       desiredCount=1, serviceRegistries=[{
                           "registryArn": registry["Arn"], "containerName": "web",
                           "containerPort": 80}])
    (bridge_arn,) = until(lambda: ecs.list_tasks(cluster=cluster, serviceName=bridge)["taskArns"])
    ecs.submit_task_state_change(
        cluster=cluster, task=bridge_arn, status="RUNNING",
        containers=[{"containerName": "web", "status": "RUNNING", "runtimeId": "b",
                     "networkBindings": [{"bindIP": "0.0.0.0", "containerPort": 80,
                                          "hostPort": 32000, "protocol": "tcp"}]}],
    )

    def addresses() -> dict[str, str]:
        return {i["Id"]: i["Attributes"]["AWS_INSTANCE_IPV4"]
                for i in sd.list_instances(ServiceId=registry["Id"])["Instances"]}

    assert until(addresses) == {bridge_arn.rsplit("/", 1)[-1]: "127.0.0.1"}  # the host's

    report_network(server, cluster, vpc_arn, "10.0.3.8")
    vpc_id = vpc_arn.rsplit("/", 1)[-1]
    until(lambda: vpc_id in addresses())
    assert addresses()[vpc_id] == "10.0.3.8"

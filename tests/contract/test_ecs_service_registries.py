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

from tests.contract.ecs_fixtures import cluster_with_instances, register_td
from tests.helpers import Server, unique, until

AWSVPC = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}


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
        "AWS_INSTANCE_IPV4": "127.0.0.1",  # the instance's address: API-only tasks report none
        "AWS_INSTANCE_PORT": "9090",  # the registry's port field
        "AVAILABILITY_ZONE": "us-east-1b",
        "REGION": "us-east-1",
        "ECS_SERVICE_NAME": name,
        "ECS_CLUSTER_NAME": cluster,
        "EC2_INSTANCE_ID": ec2_id,
        "ECS_TASK_DEFINITION_FAMILY": td["family"],
    }

"""ECS services register their tasks in Cloud Map, and DNS follows within a query."""

from __future__ import annotations

import dns.message
import dns.query
import pytest
from botocore.exceptions import ClientError

from tests.contract.ecs_fixtures import cluster_with_instances, register_td
from tests.helpers import Server, unique, until


def _srv_ports(server: Server, name: str) -> list[int]:
    reply = dns.query.udp(dns.message.make_query(name, "SRV"), "127.0.0.1",
                          port=server.dns_port, timeout=3)
    return sorted(r.port for rrset in reply.answer for r in rrset)


def _registry(server: Server, records: list[str]) -> tuple[str, str, str]:
    sd = server.client("servicediscovery")
    zone = f"{unique('z')}.local"
    op = sd.create_private_dns_namespace(Name=zone, Vpc="vpc-1")["OperationId"]
    ns_id = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    svc = sd.create_service(
        Name="web", NamespaceId=ns_id,
        DnsConfig={"DnsRecords": [{"Type": t, "TTL": 5} for t in records]},
        HealthCheckCustomConfig={},
    )["Service"]
    return zone, svc["Id"], svc["Arn"]


def test_tasks_register_with_srv_and_leave_when_stopped(server: Server) -> None:
    ecs = server.client()
    sd = server.client("servicediscovery")
    zone, sd_id, sd_arn = _registry(server, ["SRV"])
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)  # bridge, containerPort 80, dynamic host port
    name = unique("svc")
    ecs.create_service(
        cluster=cluster, serviceName=name, taskDefinition=td["family"], desiredCount=2,
        serviceRegistries=[{"registryArn": sd_arn, "containerName": "web", "containerPort": 80}],
    )
    arns = until(lambda: ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"]
                  if len(ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"]) == 2
                  else None)
    for i, arn in enumerate(arns):
        ecs.submit_task_state_change(
            cluster=cluster, task=arn, status="RUNNING",
            containers=[{"containerName": "web", "status": "RUNNING", "runtimeId": f"r{i}",
                         "networkBindings": [{"bindIP": "0.0.0.0", "containerPort": 80,
                                              "hostPort": 32000 + i, "protocol": "tcp"}]}],
        )
    assert until(lambda: _srv_ports(server, f"web.{zone}") == [32000, 32001])
    inst = sd.list_instances(ServiceId=sd_id)["Instances"]
    attrs = inst[0]["Attributes"]
    assert attrs["ECS_SERVICE_NAME"] == name
    assert attrs["ECS_CLUSTER_NAME"] == cluster
    assert attrs["AVAILABILITY_ZONE"] == "us-east-1a"
    assert attrs["ECS_TASK_DEFINITION_FAMILY"] == td["family"]
    assert {i["Id"] for i in inst} == {a.rsplit("/", 1)[-1] for a in arns}

    ecs.stop_task(cluster=cluster, task=arns[0])
    assert until(lambda: len(_srv_ports(server, f"web.{zone}")) == 1)


def test_bridge_service_refuses_an_a_only_registry(server: Server) -> None:
    ecs = server.client()
    _, _, sd_arn = _registry(server, ["A"])
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)
    with pytest.raises(ClientError) as err:
        ecs.create_service(
            cluster=cluster, serviceName=unique("s"), taskDefinition=td["family"], desiredCount=1,
            serviceRegistries=[{"registryArn": sd_arn, "containerName": "web",
                                "containerPort": 80}],
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "SRV" in err.value.response["Error"]["Message"]


def test_stop_reaches_the_agent_only_after_deregistration(server: Server) -> None:
    """Drain before kill: the manifest's STOPPED arrives once Cloud Map has let go."""
    import asyncio

    from tests.contract.agent_client import connect, register_instance

    ecs = server.client()
    sd = server.client("servicediscovery")
    zone, sd_id, sd_arn = _registry(server, ["SRV"])
    cluster = unique("cl")
    ecs.create_cluster(clusterName=cluster)
    instance = register_instance(ecs, cluster)
    td = register_td(ecs)
    name = unique("svc")
    ecs.create_service(
        cluster=cluster, serviceName=name, taskDefinition=td["family"], desiredCount=1,
        serviceRegistries=[{"registryArn": sd_arn, "containerName": "web", "containerPort": 80}],
    )
    (arn,) = until(lambda: ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"])
    task_id = arn.rsplit("/", 1)[-1]

    async def body() -> None:
        agent = await connect(server, cluster, instance)
        try:
            await agent.next("TaskManifest", when=lambda m: any(
                t["taskArn"] == arn for t in m["tasks"]))
            ecs.submit_task_state_change(
                cluster=cluster, task=arn, status="RUNNING",
                containers=[{"containerName": "web", "status": "RUNNING", "runtimeId": "r",
                             "networkBindings": [{"bindIP": "0.0.0.0", "containerPort": 80,
                                                  "hostPort": 33000, "protocol": "tcp"}]}],
            )
            until(lambda: sd.list_instances(ServiceId=sd_id)["Instances"])
            ecs.stop_task(cluster=cluster, task=arn, reason="bye")
            stop = await agent.next("TaskManifest", when=lambda m: any(
                t["taskArn"] == arn and t["desiredStatus"] == "STOPPED" for t in m["tasks"]))
            assert stop
            ids = {i["Id"] for i in sd.list_instances(ServiceId=sd_id)["Instances"]}
            assert task_id not in ids
            assert _srv_ports(server, f"web.{zone}") == []
        finally:
            await agent.close()

    asyncio.run(body())

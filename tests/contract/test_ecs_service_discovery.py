"""ECS services register their tasks in Cloud Map, and DNS follows within a query."""

from __future__ import annotations

from typing import Any

import dns.message
import dns.query
import pytest
from botocore.exceptions import ClientError

from tests.contract.ecs_fixtures import cluster_with_instances, register_td
from tests.helpers import Server, unique, until


def _srv_ports(server: Server, name: str) -> list[int]:
    reply = dns.query.udp(dns.message.make_query(name, "SRV"), "127.0.0.1",
                          port=server.dns_port, timeout=10)
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


def _running(ecs: Any, cluster: str, arn: str, host_port: int, runtime: str = "r") -> None:
    """What the agent reports once the task runs: container ``web``'s port 80 on ``host_port``."""
    ecs.submit_task_state_change(
        cluster=cluster, task=arn, status="RUNNING",
        containers=[{"containerName": "web", "status": "RUNNING", "runtimeId": runtime,
                     "networkBindings": [{"bindIP": "0.0.0.0", "containerPort": 80,
                                          "hostPort": host_port, "protocol": "tcp"}]}],
    )


def _tasks(ecs: Any, cluster: str, name: str, n: int) -> list[str]:
    def listed() -> list[str] | None:
        arns = ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"]
        return list(arns) if len(arns) == n else None
    return list(until(listed))


# bridge: a dynamic host port per task; host: the container port itself (two instances, since
# two tasks cannot both bind port 80 on one)
MODES = [("bridge", 1, [32000, 32001]), ("host", 2, [80, 80])]


@pytest.mark.parametrize(("mode", "instances", "ports"), MODES, ids=[m[0] for m in MODES])
def test_tasks_register_with_srv_and_leave_when_stopped(
    server: Server, mode: str, instances: int, ports: list[int]
) -> None:
    ecs = server.client()
    sd = server.client("servicediscovery")
    zone, sd_id, sd_arn = _registry(server, ["SRV"])
    cluster, _ = cluster_with_instances(ecs, instances)
    td = register_td(ecs, network_mode=mode)  # containerPort 80; bridge: dynamic host port
    name = _registered_service(ecs, cluster, td["family"], sd_arn, 2)
    arns = _tasks(ecs, cluster, name, 2)
    for i, (arn, port) in enumerate(zip(arns, ports, strict=True)):
        _running(ecs, cluster, arn, port, runtime=f"r{i}")
    assert until(lambda: _srv_ports(server, f"web.{zone}") == ports)
    inst = sd.list_instances(ServiceId=sd_id)["Instances"]
    attrs = inst[0]["Attributes"]
    assert attrs["ECS_SERVICE_NAME"] == name
    assert attrs["ECS_CLUSTER_NAME"] == cluster
    assert attrs["AVAILABILITY_ZONE"] == "us-east-1a"
    assert attrs["ECS_TASK_DEFINITION_FAMILY"] == td["family"]
    assert {i["Id"] for i in inst} == {a.rsplit("/", 1)[-1] for a in arns}
    assert sorted(int(i["Attributes"]["AWS_INSTANCE_PORT"]) for i in inst) == ports

    ecs.stop_task(cluster=cluster, task=arns[0])
    assert until(lambda: len(_srv_ports(server, f"web.{zone}")) == 1)


@pytest.mark.parametrize("mode", ["bridge", "host"])
def test_bridge_and_host_services_refuse_an_a_only_registry(server: Server, mode: str) -> None:
    ecs = server.client()
    _, _, sd_arn = _registry(server, ["A"])
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs, network_mode=mode)
    with pytest.raises(ClientError) as err:
        ecs.create_service(
            cluster=cluster, serviceName=unique("s"), taskDefinition=td["family"], desiredCount=1,
            serviceRegistries=[{"registryArn": sd_arn, "containerName": "web",
                                "containerPort": 80}],
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "SRV" in err.value.response["Error"]["Message"]


@pytest.mark.parametrize("after", ["other registry", "no registry"])
def test_a_registry_the_service_no_longer_lists_lets_go_of_its_tasks(
    server: Server, after: str
) -> None:
    """UpdateService away from R1 starts a new deployment; the old task stays in R1 until it
    stops, then leaves it (only R1's ECS instances: one registered by hand stays)."""
    ecs = server.client()
    sd = server.client("servicediscovery")
    _, r1_id, r1_arn = _registry(server, ["SRV"])
    _, r2_id, r2_arn = _registry(server, ["SRV"])
    sd.register_instance(ServiceId=r1_id, InstanceId="by-hand",
                         Attributes={"AWS_INSTANCE_IPV4": "10.0.0.9", "AWS_INSTANCE_PORT": "80"})
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)
    name = _registered_service(ecs, cluster, td["family"], r1_arn, 1)
    (arn,) = _tasks(ecs, cluster, name, 1)
    task_id = arn.rsplit("/", 1)[-1]
    _running(ecs, cluster, arn, 32000)
    until(lambda: len(sd.list_instances(ServiceId=r1_id)["Instances"]) == 2)

    entries = ([{"registryArn": r2_arn, "containerName": "web", "containerPort": 80}]
               if after == "other registry" else [])
    ecs.update_service(cluster=cluster, service=name, serviceRegistries=entries)
    _tasks(ecs, cluster, name, 2)  # the new deployment's task (it never runs: no agent)
    ecs.stop_task(cluster=cluster, task=arn)

    def ids(sd_id: str) -> set[str]:
        return {i["Id"] for i in sd.list_instances(ServiceId=sd_id)["Instances"]}

    until(lambda: task_id not in ids(r1_id))
    assert ids(r1_id) == {"by-hand"}
    (task,) = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"]
    assert task["desiredStatus"] == "STOPPED"
    assert task_id not in ids(r2_id)


def test_a_new_host_port_moves_discover_instances_revision(server: Server) -> None:
    """ECS rewriting an instance's attributes moves the revision, as RegisterInstance does."""
    ecs = server.client()
    sd = server.client("servicediscovery")
    zone, _, sd_arn = _registry(server, ["SRV"])
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)
    name = _registered_service(ecs, cluster, td["family"], sd_arn, 1)
    (arn,) = _tasks(ecs, cluster, name, 1)
    _running(ecs, cluster, arn, 32000)
    assert until(lambda: _srv_ports(server, f"web.{zone}") == [32000])
    before = sd.discover_instances_revision(NamespaceName=zone, ServiceName="web")[
        "InstancesRevision"]

    _running(ecs, cluster, arn, 32001)  # the container restarted on another host port
    assert until(lambda: _srv_ports(server, f"web.{zone}") == [32001])
    after = sd.discover_instances_revision(NamespaceName=zone, ServiceName="web")[
        "InstancesRevision"]
    assert after > before


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
    name = _registered_service(ecs, cluster, td["family"], sd_arn, 1)
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


def _registered_service(ecs: Any, cluster: str, family: str, registry_arn: str,
                        desired: int) -> str:
    """A service of ``desired`` tasks registered in ``registry_arn`` (container web, port 80)."""
    name = unique("svc")
    ecs.create_service(
        cluster=cluster, serviceName=name, taskDefinition=family, desiredCount=desired,
        serviceRegistries=[{"registryArn": registry_arn, "containerName": "web", "containerPort": 80}],
    )
    return name

"""An awsvpc task's ENI attachment, as ECS shows it: PRECREATED with its subnet, then
ATTACHED, and DELETED once the agent reports the task STOPPED.

RunTask, StartTask and a service's scheduler give the task the attachment when
they create it; the agent's TaskNetwork report (built here by the agent's own
``Outbox``) adds the address and keeps the subnet; its SubmitTaskStateChange for
the stopped task deletes the attachment (ECS: DETACHED, then DELETED).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_server
from tests.contract import ecs_fixtures
from tests.contract.agent_client import (
    connect,
    describe,
    register_instance,
    report_network,
    run,
)
from tests.helpers import Server, unique, until

SUBNETS = ["subnet-0a1", "subnet-0b2"]
NET = {"awsvpcConfiguration": {"subnets": SUBNETS, "securityGroups": ["sg-1"]}}


def _awsvpc_setup(ecs: Any) -> tuple[str, str, str]:
    cluster = ecs.create_cluster(clusterName=unique("att"))["cluster"]["clusterArn"]
    td = ecs.register_task_definition(
        family=unique("att"), networkMode="awsvpc",
        containerDefinitions=[{"name": "web", "image": "busybox", "memory": 64, "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]
    return cluster, register_instance(ecs, cluster), td


def _eni(task: dict[str, Any]) -> dict[str, Any]:
    (eni,) = [a for a in task.get("attachments") or () if a["type"] == "ElasticNetworkInterface"]
    return dict(eni)


def _details(eni: dict[str, Any]) -> dict[str, str]:
    return {d["name"]: d["value"] for d in eni["details"]}


def _assert_precreated(task: dict[str, Any]) -> dict[str, Any]:
    eni = _eni(task)
    assert eni["status"] == "PRECREATED" and eni["id"]
    assert eni["details"] == [{"name": "subnetId", "value": SUBNETS[0]}]
    return eni


def _assert_attached(
    srv: Server, cluster: str, instance: str, task_arn: str, precreated: dict[str, Any],
    agent_cluster: str | None = None,
) -> None:
    """The agent (of ``instance``, in ``agent_cluster`` if not the task's) reports the network."""
    ecs = srv.client()
    report_network(srv, cluster, task_arn, "10.0.3.7", agent_cluster=agent_cluster,
                   instance=instance)

    def attached() -> dict[str, Any] | None:
        eni = _eni(describe(ecs, cluster, task_arn))
        return eni if eni["status"] == "ATTACHED" else None

    eni = until(attached, timeout=30)
    assert eni["id"] == precreated["id"]
    details = _details(eni)
    assert details["subnetId"] == SUBNETS[0]
    assert details["privateIPv4Address"] == "10.0.3.7"
    assert details["macAddress"] == "02:42:0a:00:00:07"
    assert details["networkInterfaceId"].startswith("eni-")
    (container,) = describe(ecs, cluster, task_arn)["containers"]
    assert container["networkInterfaces"] == [
        {"attachmentId": eni["id"], "privateIpv4Address": "10.0.3.7"}
    ]


def test_run_task_precreates_the_eni_and_the_agent_attaches_it(server: Server) -> None:
    ecs = server.client()
    cluster, instance, td = _awsvpc_setup(ecs)
    out = ecs.run_task(cluster=cluster, taskDefinition=td, networkConfiguration=NET)
    assert out["failures"] == []
    (task,) = out["tasks"]
    precreated = _assert_precreated(task)
    assert _eni(describe(ecs, cluster, task["taskArn"])) == precreated
    _assert_attached(server, cluster, instance, task["taskArn"], precreated)


def _report(srv: Server, cluster: str, instance: str, task_arn: str, status: str) -> None:
    """The agent's SubmitTaskStateChange for the task, signed with its instance keys."""

    async def body() -> None:
        agent = await connect(srv, cluster, instance)
        try:
            await agent.next("Credentials")
            agent.ecs(srv).submit_task_state_change(
                cluster=cluster, task=task_arn, status=status,
                containers=[{"containerName": "web", "status": status,
                             **({"exitCode": 0} if status == "STOPPED" else {})}])
        finally:
            await agent.close()

    run(body())


def test_the_eni_is_deleted_once_the_agent_reports_the_task_stopped(server: Server) -> None:
    ecs = server.client()
    cluster, instance, td = _awsvpc_setup(ecs)
    (task,) = ecs.run_task(cluster=cluster, taskDefinition=td, networkConfiguration=NET)["tasks"]
    arn = task["taskArn"]
    _assert_attached(server, cluster, instance, arn, _assert_precreated(task))
    _report(server, cluster, instance, arn, "RUNNING")
    attached = _eni(describe(ecs, cluster, arn))
    ecs.stop_task(cluster=cluster, task=arn, reason="done")
    # still attached while the agent stops the task
    stopping = describe(ecs, cluster, arn)
    assert (stopping["lastStatus"], stopping["desiredStatus"]) == ("RUNNING", "STOPPED")
    assert _eni(stopping) == attached
    _report(server, cluster, instance, arn, "STOPPED")
    stopped = describe(ecs, cluster, arn)
    assert stopped["lastStatus"] == "STOPPED"
    assert _eni(stopped) == {**attached, "status": "DELETED"}  # id and details kept


def test_the_eni_is_deleted_when_a_task_the_agent_never_started_stops(server: Server) -> None:
    # StopTask stops a task still PROVISIONING (its agent has not reported it) at once
    ecs = server.client()
    cluster, _instance, td = _awsvpc_setup(ecs)
    (task,) = ecs.run_task(cluster=cluster, taskDefinition=td, networkConfiguration=NET)["tasks"]
    precreated = _assert_precreated(task)
    ecs.stop_task(cluster=cluster, task=task["taskArn"], reason="done")
    stopped = describe(ecs, cluster, task["taskArn"])
    assert stopped["lastStatus"] == "STOPPED"
    assert _eni(stopped) == {**precreated, "status": "DELETED"}


def test_start_task_precreates_the_eni(server: Server) -> None:
    ecs = server.client()
    cluster, instance, td = _awsvpc_setup(ecs)
    out = ecs.start_task(cluster=cluster, taskDefinition=td, networkConfiguration=NET,
                         containerInstances=[instance])
    (task,) = out["tasks"]
    precreated = _assert_precreated(task)
    _assert_attached(server, cluster, instance, task["taskArn"], precreated)


def test_a_services_tasks_get_the_services_subnet(server: Server) -> None:
    ecs = server.client()
    cluster, instance, td = _awsvpc_setup(ecs)
    name = unique("svc")
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=td, desiredCount=1,
                       networkConfiguration=NET)
    (arn,) = until(lambda: ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"], timeout=60)
    precreated = _assert_precreated(describe(ecs, cluster, arn))
    _assert_attached(server, cluster, instance, arn, precreated)


def test_bridge_tasks_have_no_eni(server: Server) -> None:
    ecs = server.client()
    cluster = ecs.create_cluster(clusterName=unique("att"))["cluster"]["clusterArn"]
    register_instance(ecs, cluster)
    td = ecs.register_task_definition(
        family=unique("att"),
        containerDefinitions=[{"name": "web", "image": "busybox", "memory": 64, "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]
    (task,) = ecs.run_task(cluster=cluster, taskDefinition=td)["tasks"]
    assert not task.get("attachments")


@pytest.fixture(scope="module")
def pool_server(store_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own with a Fargate pool (the pool serves every cluster of its server)."""
    srv = make_server(store_backend, tmp_path_factory.mktemp(f"att-fargate-{store_backend}")).start()
    yield srv
    srv.stop()


def test_a_fargate_task_gets_the_eni_too(pool_server: Server) -> None:
    ecs = pool_server.client()
    default = ecs.create_cluster(clusterName="default")["cluster"]["clusterArn"]
    pool = ecs_fixtures.register_instance(
        ecs, "default", cpu=4096, memory=8192,
        attributes=[{"name": "portside.fargate-pool", "value": "true"}],
    )
    cluster = ecs.create_cluster(clusterName=unique("apps"))["cluster"]["clusterArn"]
    td = ecs.register_task_definition(
        family=unique("fg"), networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": "busybox", "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]
    (task,) = ecs.run_task(cluster=cluster, taskDefinition=td, launchType="FARGATE",
                           networkConfiguration=NET)["tasks"]
    precreated = _assert_precreated(task)
    _assert_attached(pool_server, cluster, pool, task["taskArn"], precreated, agent_cluster=default)

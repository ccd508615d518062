"""The service controller against a real server: boto3 and the AWS CLI play user and agent.

No agent runs: instances are registered through RegisterContainerInstance,
and the test reports task state with SubmitTaskStateChange as an agent would.
The server runs with ``PORTSIDE_SERVICE_SETTLE=0`` (a task without a health
check counts as healthy as soon as it is RUNNING, instead of after ECS's 40 s)
and a long agent heartbeat timeout (no agent heartbeats here).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_server
from tests.helpers import Server, unique, until

ENV = {"PORTSIDE_SERVICE_SETTLE": "0", "PORTSIDE_AGENT_HEARTBEAT_TIMEOUT": "3600"}


@pytest.fixture(scope="module")
def srv(store_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    try:
        server = make_server(store_backend, tmp_path_factory.mktemp("svc")).start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    yield server
    server.stop()


@pytest.fixture
def api(srv: Server) -> Any:
    return srv.client("ecs")


def setup_cluster(api: Any, zones: tuple[str, ...] = ("us-east-1a", "us-east-1b")) -> tuple[str, list[str]]:
    name = unique("svc")
    api.create_cluster(clusterName=name)
    arns = []
    for zone in zones:
        doc = json.dumps({"instanceId": f"i-{unique('x')[-10:]}0000000", "availabilityZone": zone,
                          "instanceType": "m5.large", "region": "us-east-1"})
        made = api.register_container_instance(
            cluster=name, instanceIdentityDocument=doc,
            totalResources=[{"name": "CPU", "type": "INTEGER", "integerValue": 2048},
                            {"name": "MEMORY", "type": "INTEGER", "integerValue": 4096}],
        )["containerInstance"]
        arns.append(made["containerInstanceArn"])
    return name, arns


def taskdef(api: Any, family: str, image: str = "busybox") -> str:
    return str(api.register_task_definition(
        family=family,
        containerDefinitions=[{"name": "app", "image": image, "cpu": 128, "memory": 128,
                               "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"])


def describe(api: Any, cluster: str, name: str) -> dict[str, Any]:
    return dict(api.describe_services(cluster=cluster, services=[name])["services"][0])


def tasks(api: Any, cluster: str, name: str, desired: str = "RUNNING") -> list[dict[str, Any]]:
    arns = api.list_tasks(cluster=cluster, serviceName=name, desiredStatus=desired)["taskArns"]
    return list(api.describe_tasks(cluster=cluster, tasks=arns)["tasks"]) if arns else []


def report(api: Any, cluster: str, task: dict[str, Any], status: str, exit_code: int | None = None
           ) -> None:
    containers = [{"containerName": "app", "status": status}]
    if exit_code is not None:
        containers[0]["exitCode"] = exit_code  # type: ignore[assignment]
    api.submit_task_state_change(
        cluster=cluster, task=task["taskArn"], status=status, containers=containers,
        **({"reason": "CannotStartContainerError: exit 1"} if exit_code else {}),
    )


def events(svc: dict[str, Any]) -> list[str]:
    return [e["message"] for e in svc["events"]]


def has_event(api: Any, cluster: str, name: str, text: str) -> dict[str, Any] | None:
    svc = describe(api, cluster, name)
    return svc if any(text in m for m in events(svc)) else None


def test_desired_count_scaling_rollout_and_delete(api: Any, srv: Server) -> None:
    cluster, _ = setup_cluster(api)
    v1 = taskdef(api, unique("web"))
    api.create_service(cluster=cluster, serviceName="web", taskDefinition=v1, desiredCount=3)

    svc = until(lambda: has_event(api, cluster, "web", "has started 3 tasks"))
    assert svc["pendingCount"] == 3 and svc["runningCount"] == 0
    started = tasks(api, cluster, "web")
    assert len(started) == 3
    assert {t["startedBy"] for t in started} == {svc["deployments"][0]["id"]}
    assert {t["group"] for t in started} == {"service:web"}
    assert len({t["availabilityZone"] for t in started}) == 2  # spread over zones

    for t in started:
        report(api, cluster, t, "RUNNING")
    svc = until(lambda: has_event(api, cluster, "web", "has reached a steady state."))
    assert svc["runningCount"] == 3 and svc["pendingCount"] == 0
    (dep,) = svc["deployments"]
    assert (dep["status"], dep["rolloutState"]) == ("PRIMARY", "COMPLETED")
    assert dep["rolloutStateReason"] == f"ECS deployment {dep['id']} completed."

    api.update_service(cluster=cluster, service="web", desiredCount=1)
    stopping = until(lambda: [t for t in tasks(api, cluster, "web", "STOPPED")] or None)
    assert len(stopping) == 2
    assert {t["stopCode"] for t in stopping} == {"ServiceSchedulerInitiated"}
    assert until(lambda: has_event(api, cluster, "web", "has stopped 2 running tasks"))
    for t in stopping:
        report(api, cluster, t, "STOPPED")
    svc = until(lambda: (s := describe(api, cluster, "web"))["runningCount"] == 1 and s)

    # A new task definition: a new PRIMARY deployment, rolled out within 100 % / 200 %.
    v2 = taskdef(api, unique("web2"))
    api.update_service(cluster=cluster, service="web", taskDefinition=v2)
    svc = until(lambda: (s := describe(api, cluster, "web"))["pendingCount"] == 1 and s)
    primary = next(d for d in svc["deployments"] if d["status"] == "PRIMARY")
    assert primary["taskDefinition"] == v2 and primary["rolloutState"] == "IN_PROGRESS"
    assert [d["status"] for d in svc["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert len(tasks(api, cluster, "web")) == 2  # max 200 % of 1; the old one keeps running
    (new,) = [t for t in tasks(api, cluster, "web") if t["taskDefinitionArn"] == v2]
    report(api, cluster, new, "RUNNING")
    (old,) = until(lambda: tasks(api, cluster, "web", "STOPPED")
                   and [t for t in tasks(api, cluster, "web", "STOPPED")
                        if t["taskDefinitionArn"] == v1 and t["lastStatus"] != "STOPPED"])
    report(api, cluster, old, "STOPPED")
    svc = until(lambda: (s := describe(api, cluster, "web"))["deployments"][0][
        "rolloutState"] == "COMPLETED" and len(s["deployments"]) == 1 and s)
    assert svc["deployments"][0]["taskDefinition"] == v2
    assert f"(deployment {primary['id']}) deployment completed." in " ".join(events(svc))

    # The AWS CLI sees the same service.
    out = json.loads(srv.aws("ecs", "describe-services", "--cluster", cluster,
                             "--services", "web").stdout)
    assert out["services"][0]["runningCount"] == 1

    api.delete_service(cluster=cluster, service="web", force=True)
    (last,) = until(lambda: [t for t in tasks(api, cluster, "web", "STOPPED")
                             if t["lastStatus"] != "STOPPED"])
    assert describe(api, cluster, "web")["status"] == "DRAINING"
    report(api, cluster, last, "STOPPED")
    until(lambda: describe(api, cluster, "web")["status"] == "INACTIVE")


def test_failing_deployment_trips_the_circuit_breaker_and_rolls_back(api: Any) -> None:
    cluster, _ = setup_cluster(api)
    good = taskdef(api, unique("ok"))
    api.create_service(
        cluster=cluster, serviceName="cb", taskDefinition=good, desiredCount=3,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    for t in until(lambda: len(x := tasks(api, cluster, "cb")) == 3 and x):
        report(api, cluster, t, "RUNNING")
    first = until(lambda: has_event(api, cluster, "cb", "deployment completed"))
    first_id = first["deployments"][0]["id"]

    bad = taskdef(api, unique("bad"), image="no-such-image")
    api.update_service(cluster=cluster, service="cb", taskDefinition=bad)
    failed: list[str] = []

    def bad_tasks_fail() -> dict[str, Any] | None:
        """Play the agents: every task of the bad deployment fails to start."""
        for t in tasks(api, cluster, "cb"):
            if t["taskDefinitionArn"] == bad and t["lastStatus"] != "STOPPED":
                report(api, cluster, t, "STOPPED", exit_code=1)
                failed.append(t["taskArn"])
        return has_event(api, cluster, "cb", "deployment failed: tasks failed to start")

    until(bad_tasks_fail)
    assert len(failed) == 3  # threshold: 0.5 x 3, at least 3

    # ECS rolls back with a new PRIMARY deployment of the last COMPLETED one's task definition
    svc = describe(api, cluster, "cb")
    rollback, bad_dep, old = svc["deployments"]
    assert rollback["id"] not in (first_id, bad_dep["id"]) and rollback["status"] == "PRIMARY"
    assert rollback["taskDefinition"] == good and rollback["rolloutState"] == "IN_PROGRESS"
    assert rollback["rolloutStateReason"] == (
        f"ECS deployment circuit breaker: rolling back to deploymentId {first_id}."
    )
    assert (bad_dep["taskDefinition"], bad_dep["rolloutState"]) == (bad, "FAILED")
    assert (old["id"], old["status"], old["rolloutState"]) == (first_id, "ACTIVE", "COMPLETED")

    def agent_reports() -> dict[str, Any] | None:
        """Play the agents: start what is pending, stop what is to stop, until it completes."""
        for t in tasks(api, cluster, "cb", "STOPPED"):
            if t["lastStatus"] != "STOPPED":
                report(api, cluster, t, "STOPPED")
        for t in tasks(api, cluster, "cb"):
            if t["lastStatus"] == "PENDING":
                report(api, cluster, t, "RUNNING")
        s = describe(api, cluster, "cb")
        return s if s["deployments"][0]["rolloutState"] == "COMPLETED" else None

    svc = until(agent_reports)
    (primary,) = svc["deployments"]
    assert primary["id"] == rollback["id"] and primary["taskDefinition"] == good
    assert svc["taskDefinition"] == good and svc["runningCount"] == 3
    assert {t["startedBy"] for t in tasks(api, cluster, "cb")} == {rollback["id"]}
    assert not [t for t in tasks(api, cluster, "cb") if t["taskDefinitionArn"] == bad]
    stopped = tasks(api, cluster, "cb", "STOPPED")
    assert [t["stopCode"] for t in stopped].count("TaskFailedToStart") == 3


def test_draining_an_instance_moves_its_tasks(api: Any) -> None:
    cluster, (a, b) = setup_cluster(api)
    api.create_service(cluster=cluster, serviceName="d", taskDefinition=taskdef(api, unique("d")),
                       desiredCount=2)
    for t in until(lambda: len(x := tasks(api, cluster, "d")) == 2 and x):
        report(api, cluster, t, "RUNNING")
    until(lambda: has_event(api, cluster, "d", "has reached a steady state."))

    api.update_container_instances_state(cluster=cluster, containerInstances=[a],
                                         status="DRAINING")
    (moved,) = until(lambda: [t for t in tasks(api, cluster, "d")
                              if t["lastStatus"] == "PENDING"] or None)
    assert moved["containerInstanceArn"] == b
    report(api, cluster, moved, "RUNNING")
    (old,) = until(lambda: [t for t in tasks(api, cluster, "d", "STOPPED")
                            if t["lastStatus"] != "STOPPED"] or None)
    assert old["containerInstanceArn"] == a
    report(api, cluster, old, "STOPPED")
    until(lambda: {t["containerInstanceArn"] for t in tasks(api, cluster, "d")} == {b}
          and describe(api, cluster, "d")["runningCount"] == 2)


def test_unplaceable_service_says_why(api: Any) -> None:
    cluster, _ = setup_cluster(api, zones=("us-east-1a",))
    big = str(api.register_task_definition(
        family=unique("big"),
        containerDefinitions=[{"name": "app", "image": "busybox", "memory": 8192}],
    )["taskDefinition"]["taskDefinitionArn"])
    api.create_service(cluster=cluster, serviceName="big", taskDefinition=big, desiredCount=1)
    svc = until(lambda: has_event(api, cluster, "big", "was unable to place a task"))
    (msg,) = [m for m in events(svc) if "unable to place" in m]
    assert "has insufficient memory available" in msg
    assert msg.endswith("see the Troubleshooting section of the Amazon ECS Developer Guide.")


def test_daemon_service_runs_one_task_per_instance(api: Any, tmp_path: Path) -> None:
    cluster, arns = setup_cluster(api)
    api.create_service(cluster=cluster, serviceName="agent", schedulingStrategy="DAEMON",
                       taskDefinition=taskdef(api, unique("dm")))
    svc = until(lambda: has_event(api, cluster, "agent", "has started 2 tasks"))
    assert svc["desiredCount"] == 2
    assert sorted(t["containerInstanceArn"] for t in tasks(api, cluster, "agent")) == sorted(arns)

"""UpdateTaskProtection / GetTaskProtection through boto3 and the AWS CLI, and their effect.

As in test_service_controller.py no agent runs: the test reports task state with
SubmitTaskStateChange. A protected task is left alone by scale-in and by a
deployment until its protection is removed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.contract.agent_client import connect, run
from tests.contract.test_service_controller import (
    api,
    describe,
    report,
    setup_cluster,
    srv,
    taskdef,
    tasks,
)
from tests.helpers import Server, unique, until

__all__ = ["api", "srv"]  # the fixtures


def _running_service(api: Any, count: int) -> tuple[str, str, list[dict[str, Any]]]:
    cluster, _ = setup_cluster(api)
    name = unique("web")
    api.create_service(cluster=cluster, serviceName=name, taskDefinition=taskdef(api, name),
                       desiredCount=count)
    started = until(lambda: len(x := tasks(api, cluster, name)) == count and x)
    for t in started:
        report(api, cluster, t, "RUNNING")
    until(lambda: describe(api, cluster, name)["runningCount"] == count)
    return cluster, name, started


def test_update_and_get_protection(api: Any, srv: Server) -> None:
    cluster, _, (task, _) = _running_service(api, 2)
    arn = task["taskArn"]
    before = datetime.now(UTC)
    out = api.update_task_protection(cluster=cluster, tasks=[arn], protectionEnabled=True,
                                     expiresInMinutes=60)
    after = datetime.now(UTC)
    (p,) = out["protectedTasks"]
    assert out["failures"] == [] and p["taskArn"] == arn and p["protectionEnabled"] is True
    assert before + timedelta(minutes=60) - timedelta(seconds=1) <= p["expirationDate"]
    assert p["expirationDate"] <= after + timedelta(minutes=60) + timedelta(seconds=1)
    (got,) = api.get_task_protection(cluster=cluster, tasks=[task["taskArn"].rsplit("/", 1)[1]])[
        "protectedTasks"]
    assert got == p

    default = api.update_task_protection(cluster=cluster, tasks=[arn], protectionEnabled=True)
    expiry = default["protectedTasks"][0]["expirationDate"]
    assert expiry >= before + timedelta(minutes=120) - timedelta(seconds=1)

    off = api.update_task_protection(cluster=cluster, tasks=[arn], protectionEnabled=False)
    assert off["protectedTasks"] == [{"taskArn": arn, "protectionEnabled": False}]

    # The AWS CLI reads the same state.
    cli = json.loads(srv.aws("ecs", "get-task-protection", "--cluster", cluster,
                             "--tasks", arn).stdout)
    assert cli["protectedTasks"] == [{"taskArn": arn, "protectionEnabled": False}]


def test_failures_and_validation(api: Any) -> None:
    cluster, _, (task,) = _running_service(api, 1)
    td = taskdef(api, unique("solo"))
    (solo,) = api.run_task(cluster=cluster, taskDefinition=td)["tasks"]
    out = api.update_task_protection(
        cluster=cluster, tasks=["0" * 32, solo["taskArn"], task["taskArn"]], protectionEnabled=True
    )
    assert [p["taskArn"] for p in out["protectedTasks"]] == [task["taskArn"]]
    reasons = {f["arn"].rsplit("/", 1)[1]: f["reason"] for f in out["failures"]}
    assert reasons == {"0" * 32: "MISSING", solo["taskArn"].rsplit("/", 1)[1]: "TASK_NOT_VALID"}

    for minutes in (0, 2881):
        with pytest.raises(ClientError) as err:
            api.update_task_protection(cluster=cluster, tasks=[task["taskArn"]],
                                       protectionEnabled=True, expiresInMinutes=minutes)
        assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        api.update_task_protection(cluster=cluster, tasks=[task["taskArn"]] * 11,
                                   protectionEnabled=True)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        api.get_task_protection(cluster=unique("nope"), tasks=[task["taskArn"]])
    assert err.value.response["Error"]["Code"] == "ClusterNotFoundException"

    api.stop_task(cluster=cluster, task=task["taskArn"])
    out = api.update_task_protection(cluster=cluster, tasks=[task["taskArn"]],
                                     protectionEnabled=True)
    assert [f["reason"] for f in out["failures"]] == ["TASK_STOPPING_OR_STOPPED"]


def test_scale_in_stops_the_unprotected_task(api: Any) -> None:
    cluster, name, started = _running_service(api, 2)
    # Without protection scale-in stops the newest of two balanced tasks (the least ARN among
    # equals; controllers/plan.py scale_in_order): protect that one.
    newest = min(started, key=lambda t: (-t["createdAt"].timestamp(), t["taskArn"]))
    (other,) = [t for t in started if t is not newest]
    api.update_task_protection(cluster=cluster, tasks=[newest["taskArn"]], protectionEnabled=True)
    api.update_service(cluster=cluster, service=name, desiredCount=1)
    (stopped,) = until(lambda: tasks(api, cluster, name, "STOPPED") or None)
    assert stopped["taskArn"] == other["taskArn"]
    assert stopped["stopCode"] == "ServiceSchedulerInitiated"
    assert [t["taskArn"] for t in tasks(api, cluster, name)] == [newest["taskArn"]]


def test_a_deployment_waits_for_protection_to_be_removed(api: Any) -> None:
    cluster, name, (old,) = _running_service(api, 1)
    api.update_task_protection(cluster=cluster, tasks=[old["taskArn"]], protectionEnabled=True)
    api.update_service(cluster=cluster, service=name, taskDefinition=taskdef(api, unique("v2")))
    (new,) = until(lambda: [t for t in tasks(api, cluster, name) if t["taskArn"] != old["taskArn"]]
                   or None)
    report(api, cluster, new, "RUNNING")
    # The pass that counted the new task RUNNING is the one that would have stopped the old one.
    svc = until(lambda: (s := describe(api, cluster, name))["deployments"][0]["runningCount"] == 1
                and s)
    assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert {t["taskArn"] for t in tasks(api, cluster, name)} == {old["taskArn"], new["taskArn"]}

    api.update_task_protection(cluster=cluster, tasks=[old["taskArn"]], protectionEnabled=False)
    (gone,) = until(lambda: tasks(api, cluster, name, "STOPPED") or None)
    assert gone["taskArn"] == old["taskArn"]
    report(api, cluster, gone, "STOPPED")
    until(lambda: describe(api, cluster, name)["deployments"][0]["rolloutState"] == "COMPLETED")


def test_an_agent_key_protects_only_the_tasks_of_its_instance(api: Any, srv: Server) -> None:
    cluster, _, started = _running_service(api, 2)
    mine, theirs = started
    assert mine["containerInstanceArn"] != theirs["containerInstanceArn"]  # spread over zones

    async def body() -> None:
        agent = await connect(srv, cluster, mine["containerInstanceArn"])
        try:
            await agent.next("Credentials")
            own = agent.ecs(srv)
            out = own.update_task_protection(cluster=cluster, tasks=[mine["taskArn"]],
                                             protectionEnabled=True, expiresInMinutes=5)
            assert out["protectedTasks"][0]["protectionEnabled"] is True
            with pytest.raises(ClientError) as err:
                own.update_task_protection(cluster=cluster, tasks=[theirs["taskArn"]],
                                           protectionEnabled=True)
            assert err.value.response["Error"]["Code"] == "AccessDeniedException"
            with pytest.raises(ClientError) as err:
                own.get_task_protection(cluster=cluster, tasks=[theirs["taskArn"]])
            assert err.value.response["Error"]["Code"] == "AccessDeniedException"
        finally:
            await agent.close()

    run(body())
    (theirs_state,) = api.get_task_protection(cluster=cluster, tasks=[theirs["taskArn"]])[
        "protectedTasks"]
    assert theirs_state["protectionEnabled"] is False

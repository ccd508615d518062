"""A task protects itself through ``$ECS_AGENT_URI`` and survives a scale-in (process driver).

Two tasks of one service run on a real agent. Each waits for a trigger file
named by its own task id (read from its metadata endpoint), then PUTs
``{"ProtectionEnabled": true, "ExpiresInMinutes": 60}`` to
``$ECS_AGENT_URI/task-protection/v1/state``, GETs the state back and writes
both answers to a file. The test triggers the task scale-in would stop
without protection (the newer, controllers/plan.py), lowers the desired count
to 1, and the other task is the one stopped.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from portside.agent.ecs_client import EcsError
from portside.agent.task_protection import TaskProtection
from tests.agent.e2e import cluster, until

TASK = """
import json, os, sys, time, urllib.request
out = sys.argv[1]
me = json.load(urllib.request.urlopen(os.environ["ECS_CONTAINER_METADATA_URI_V4"] + "/task"))
task_id = me["TaskARN"].rsplit("/", 1)[1]
trigger = os.path.join(out, "protect-" + task_id)
while not os.path.exists(trigger):
    time.sleep(0.1)
state = os.environ["ECS_AGENT_URI"] + "/task-protection/v1/state"
put = urllib.request.Request(state, data=b'{"ProtectionEnabled": true, "ExpiresInMinutes": 60}',
                             method="PUT", headers={"Content-Type": "application/json"})
answers = {"put": json.load(urllib.request.urlopen(put)),
           "get": json.load(urllib.request.urlopen(state))}
with open(trigger + ".tmp", "w") as f:
    json.dump(answers, f)
os.rename(trigger + ".tmp", trigger + ".json")
while True:
    time.sleep(1)
"""


@pytest.mark.slow
def test_a_task_protects_itself_and_survives_scale_in(tmp_path: Path) -> None:
    out = tmp_path / "signals"
    out.mkdir()
    with cluster(tmp_path) as c:
        c.agent("process")
        td = c.ecs.register_task_definition(family="guarded", containerDefinitions=[{
            "name": "app", "image": "python", "essential": True, "memory": 64, "cpu": 64,
            "command": [sys.executable, "-c", TASK, str(out)], "stopTimeout": 2,
        }])["taskDefinition"]["taskDefinitionArn"]
        c.ecs.create_service(cluster=c.name, serviceName="app", taskDefinition=td, desiredCount=2)

        def running() -> list[dict[str, Any]]:
            arns = c.ecs.list_tasks(cluster=c.name, serviceName="app")["taskArns"]
            found = c.ecs.describe_tasks(cluster=c.name, tasks=arns)["tasks"] if arns else []
            return [t for t in found if t["lastStatus"] == "RUNNING"]

        tasks = until(lambda: len(r := running()) == 2 and r, 60, "two RUNNING tasks", c)
        guarded = min(tasks, key=lambda t: (-t["createdAt"].timestamp(), t["taskArn"]))
        (other,) = [t for t in tasks if t is not guarded]
        guarded_id = guarded["taskArn"].rsplit("/", 1)[1]
        (out / f"protect-{guarded_id}").touch()
        answers = json.loads(until(lambda: _read(out / f"protect-{guarded_id}.json"), 60,
                                   "the task's protection answers", c))
        put = answers["put"]["protection"]
        assert put["TaskArn"] == guarded["taskArn"] and put["ProtectionEnabled"] is True
        assert put["ExpirationDate"].endswith("Z")
        assert answers["get"] == answers["put"]
        (seen,) = c.ecs.get_task_protection(cluster=c.name, tasks=[guarded["taskArn"]])[
            "protectedTasks"]
        assert seen["protectionEnabled"] is True

        c.ecs.update_service(cluster=c.name, service="app", desiredCount=1)
        stopped = c.wait(other["taskArn"], "STOPPED")
        assert stopped["stopCode"] == "ServiceSchedulerInitiated"
        survivor = c.describe(guarded["taskArn"])
        assert (survivor["lastStatus"], survivor["desiredStatus"]) == ("RUNNING", "RUNNING")


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


class _Answers:
    """A control plane that answers every call with one document (or raises one error)."""

    def __init__(self, doc: dict[str, Any] | None = None, error: EcsError | None = None) -> None:
        self.doc, self.error = doc or {}, error
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((operation, params))
        if self.error is not None:
            raise self.error
        return self.doc


@pytest.mark.parametrize("body", [b"", b"{", b'{"ExpiresInMinutes": 5}',
                                  b'{"ProtectionEnabled": "yes"}',
                                  b'{"ProtectionEnabled": true, "Other": 1}'])
def test_a_malformed_put_is_refused_without_asking(body: bytes) -> None:
    ecs = _Answers()
    status, doc = asyncio.run(TaskProtection(ecs, "c").put("arn:t", body))
    assert status == 400 and doc["error"]["Code"] == "InvalidParameterException"
    assert ecs.calls == []


@pytest.mark.parametrize(("answer", "status", "key"), [
    ({"failures": [{"arn": "arn:t", "reason": "MISSING"}]}, 200, "failure"),
    ({"failures": [{"arn": "arn:t", "reason": "TASK_NOT_VALID", "detail": "d"}]}, 200, "failure"),
    ({"protectedTasks": [{"taskArn": "arn:t", "protectionEnabled": False}]}, 200, "protection"),
])
def test_answers_keep_ecs_agent_shapes(answer: dict[str, Any], status: int, key: str) -> None:
    ecs = _Answers(answer)
    got = asyncio.run(TaskProtection(ecs, "c").put("arn:t", b'{"ProtectionEnabled": false}'))
    assert got[0] == status and list(got[1]) == [key]
    assert ecs.calls == [("UpdateTaskProtection",
                          {"cluster": "c", "tasks": ["arn:t"], "protectionEnabled": False})]


def test_an_api_error_is_passed_on() -> None:
    ecs = _Answers(error=EcsError("AccessDeniedException", "not yours", 400))
    status, doc = asyncio.run(TaskProtection(ecs, "c").get("arn:t"))
    assert status == 400
    assert doc == {"error": {"Arn": "arn:t", "Code": "AccessDeniedException", "Message": "not yours"}}

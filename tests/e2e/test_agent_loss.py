"""A service's tasks through agent loss and agent restarts (process driver, real agents).

A frozen agent (SIGSTOP) misses its heartbeats: its instance becomes
``agentConnected: false`` and, after the grace period, its service tasks are
replaced elsewhere; thawed (SIGCONT), it stops the tasks the control plane
stopped meanwhile. A killed and restarted agent adopts its tasks instead.

Task processes are counted from ``/proc`` by a marker in their environment,
not from the agent's own records, so a duplicate or a leftover cannot hide.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.agent.e2e import Cluster, cluster, until
from tests.e2e.deployment_limits import processes
from tests.helpers import unique

pytestmark = pytest.mark.slow

SLEEPER = "import time\nwhile True: time.sleep(1)\n"


def _task_definition(c: Cluster, marker: str) -> str:
    return c.task_definition([{
        "name": "app", "image": "python", "essential": True, "memory": 32,
        "entryPoint": [sys.executable, "-c"], "command": [SLEEPER], "stopTimeout": 2,
        "environment": [{"name": "E2E_MARKER", "value": marker}],
    }])


def _recorded(c: Cluster) -> dict[str, int]:
    """Task ARN -> the pid its agent recorded for it (every agent of the cluster)."""
    out: dict[str, int] = {}
    for agent in c.agents:
        for f in agent.state_dir.glob("processes/*/app.json"):
            with contextlib.suppress(OSError, ValueError, KeyError):
                doc = json.loads(f.read_text())
                out[doc["task_arn"]] = int(doc["pid"])
    return out


def _tasks(c: Cluster, service: str, desired: str = "RUNNING") -> list[dict[str, Any]]:
    arns = c.ecs.list_tasks(cluster=c.name, serviceName=service, desiredStatus=desired)[
        "taskArns"]
    return list(c.ecs.describe_tasks(cluster=c.name, tasks=arns)["tasks"]) if arns else []


def _running(c: Cluster, service: str, count: int) -> list[dict[str, Any]] | None:
    tasks = _tasks(c, service)
    ok = len(tasks) == count and all(t["lastStatus"] == "RUNNING" for t in tasks)
    return tasks if ok else None


def _connected(c: Cluster, instance: str | None) -> bool:
    (ci,) = c.ecs.describe_container_instances(cluster=c.name, containerInstances=[instance])[
        "containerInstances"]
    return bool(ci["agentConnected"])


def _pids_of(c: Cluster, tasks: list[dict[str, Any]]) -> set[int]:
    recorded = _recorded(c)
    return {recorded[t["taskArn"]] for t in tasks if t["taskArn"] in recorded}


def test_a_frozen_agent_loses_its_tasks_and_stops_them_when_it_thaws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Above the agent's 10 s heartbeat interval, so a busy machine does not lose the other one.
    monkeypatch.setenv("PORTSIDE_AGENT_HEARTBEAT_TIMEOUT", "20")
    monkeypatch.setenv("PORTSIDE_SERVICE_AGENT_GRACE", "5")
    marker = unique("loss")
    with cluster(tmp_path) as c:
        frozen, other = c.agent("process", "frozen"), c.agent("process", "other")
        assert frozen.proc is not None
        try:
            c.ecs.create_service(
                cluster=c.name, serviceName="svc", taskDefinition=_task_definition(c, marker),
                desiredCount=4, placementStrategy=[{"type": "spread", "field": "instanceId"}])
            first = until(lambda: _running(c, "svc", 4), 120, "4 RUNNING", c)
            lost = [t for t in first if t["containerInstanceArn"] == frozen.instance_arn]
            assert len(lost) == 2  # spread over the two instances
            until(lambda: processes(marker) == _pids_of(c, first)
                  and len(_pids_of(c, first)) == 4, 60, "4 task processes", c)
            lost_pids = _pids_of(c, lost)

            frozen.proc.send_signal(signal.SIGSTOP)
            until(lambda: not _connected(c, frozen.instance_arn), 120, "agentConnected false", c)

            def moved() -> list[dict[str, Any]] | None:
                tasks = _running(c, "svc", 4)
                on_other = tasks and all(
                    t["containerInstanceArn"] == other.instance_arn for t in tasks)
                return tasks if on_other else None

            replaced = until(moved, 120, "4 RUNNING on the other instance", c)
            arns = [t["taskArn"] for t in lost]
            gone = c.ecs.describe_tasks(cluster=c.name, tasks=arns)["tasks"]
            assert all(t["desiredStatus"] == "STOPPED" for t in gone)
            instance_id = str(frozen.instance_arn).rsplit("/", 1)[-1]
            assert all(instance_id in t["stoppedReason"] for t in gone), gone  # why: its agent
            # Nobody can have stopped the lost tasks' processes: their agent is frozen.
            assert lost_pids <= processes(marker)
            until(lambda: processes(marker) == _pids_of(c, replaced) | lost_pids, 60,
                  "the replacements' processes", c)

            frozen.proc.send_signal(signal.SIGCONT)
            until(lambda: _connected(c, frozen.instance_arn), 120, "agentConnected true", c)
            until(lambda: all(t["lastStatus"] == "STOPPED" for t in c.ecs.describe_tasks(
                cluster=c.name, tasks=arns)["tasks"]), 120, "the lost tasks STOPPED", c)
            until(lambda: not lost_pids & processes(marker), 60, "their processes exit", c)
            # Exactly the desired tasks, each with one process, the thawed agent runs none.
            final = _running(c, "svc", 4)
            assert final is not None
            assert {t["taskArn"] for t in final} == {t["taskArn"] for t in replaced}
            assert processes(marker) == _pids_of(c, final)
            assert len(_pids_of(c, final)) == 4
        finally:
            if frozen.proc.poll() is None:
                frozen.proc.send_signal(signal.SIGCONT)
            with contextlib.suppress(Exception):
                c.ecs.delete_service(cluster=c.name, service="svc", force=True)


def test_a_killed_agent_adopts_its_service_tasks_when_restarted(tmp_path: Path) -> None:
    marker = unique("adopt")
    with cluster(tmp_path) as c:
        agent = c.agent("process")
        try:
            c.ecs.create_service(cluster=c.name, serviceName="svc",
                                 taskDefinition=_task_definition(c, marker), desiredCount=3)
            first = until(lambda: _running(c, "svc", 3), 120, "3 RUNNING", c)
            before = {t["taskArn"]: t["containers"][0]["runtimeId"] for t in first}
            until(lambda: processes(marker) == _pids_of(c, first)
                  and len(_pids_of(c, first)) == 3, 60, "3 task processes", c)
            pids = _recorded(c)

            agent.kill()  # SIGKILL: the task processes live on
            assert processes(marker) == set(pids.values())
            agent.start()
            assert agent.starts == 2

            # One more task: once it runs, the restarted agent has acted on the control
            # plane's word about all of them (and would have started any duplicate).
            c.ecs.update_service(cluster=c.name, service="svc", desiredCount=4)
            after = until(lambda: _running(c, "svc", 4), 120, "4 RUNNING", c)
            same = {t["taskArn"]: t["containers"][0]["runtimeId"]
                    for t in after if t["taskArn"] in before}
            assert same == before  # the same tasks, the same containers
            assert _tasks(c, "svc", "STOPPED") == []  # nothing was replaced
            assert {a: p for a, p in _recorded(c).items() if a in before} == pids
            until(lambda: processes(marker) == _pids_of(c, after)
                  and len(_pids_of(c, after)) == 4, 60, "4 task processes", c)
            assert set(pids.values()) <= processes(marker)  # adopted, not started again
        finally:
            with contextlib.suppress(Exception):
                c.ecs.delete_service(cluster=c.name, service="svc", force=True)

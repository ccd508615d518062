"""A service on real process agents: replacement, rolling update, circuit breaker, draining.

The rollout, the rollback and the drain are checked against the deployment
limits (3 tasks, minimumHealthyPercent 50, maximumPercent 200: at least 2
RUNNING, at most 6 tasks and 6 task processes) on every poll, the processes
counted from ``/proc`` by a marker in their environment.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.deployment_limits import Census, Limits, processes, within_limits_until
from tests.helpers import Server, stop_everything, unique, until

pytestmark = pytest.mark.slow

SLEEPER = "import time\nwhile True: time.sleep(1)\n"
LIMITS = Limits(desired=3, minimum_healthy_percent=50, maximum_percent=200)


def _register(ecs: Any, family: str, code: str) -> str:
    td = ecs.register_task_definition(family=family, containerDefinitions=[{
        "name": "app", "image": "python", "essential": True, "memory": 32, "cpu": 32,
        "entryPoint": [sys.executable, "-c"], "command": [code], "stopTimeout": 2,
        "environment": [{"name": "E2E_MARKER", "value": family}],
    }])
    return str(td["taskDefinition"]["taskDefinitionArn"])


def _service(ecs: Any) -> dict[str, Any]:
    return dict(ecs.describe_services(cluster="default", services=["app"])["services"][0])


def _running(ecs: Any, td: str | None = None) -> list[dict[str, Any]]:
    arns = ecs.list_tasks(cluster="default", serviceName="app")["taskArns"]
    if not arns:
        return []
    tasks = ecs.describe_tasks(cluster="default", tasks=arns)["tasks"]
    return [t for t in tasks if t["lastStatus"] == "RUNNING"
            and (td is None or t["taskDefinitionArn"] == td)]


def _pid_of(task: dict[str, Any], data: Path) -> int:
    """The app process of a process-driver task (from the agent's pid file)."""
    import json

    task_id = task["taskArn"].rsplit("/", 1)[-1]
    for pid_file in data.glob(f"agents/*/processes/{task_id}/app.json"):
        return int(json.loads(pid_file.read_text())["pid"])
    raise AssertionError(f"no pid file for {task_id}")


def test_replace_roll_break_and_drain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A task with no health check counts as healthy after running this long (ECS: 40 s).
    monkeypatch.setenv("PORTSIDE_SERVICE_SETTLE", "3")
    srv = Server(data_dir=tmp_path, default_args=[
        "--instances", "2", "--azs", "a,b", "--cpu", "1024", "--memory", "1024",
        "--driver", "process"]).start()
    try:
        ecs = srv.client()
        until(lambda: len(ecs.list_container_instances(cluster="default")[
            "containerInstanceArns"]) == 2, timeout=60)
        family = unique("app")
        mine = functools.partial(processes, family)
        good = _register(ecs, family, SLEEPER)
        ecs.create_service(
            cluster="default", serviceName="app", taskDefinition=good, desiredCount=3,
            deploymentConfiguration={
                "maximumPercent": 200, "minimumHealthyPercent": 50,
                "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        )
        first = until(lambda: (lambda r: r if len(r) == 3 else None)(_running(ecs)), timeout=90)

        # A task whose process dies is replaced.
        victim = first[0]
        os.kill(_pid_of(victim, tmp_path), signal.SIGKILL)
        until(lambda: victim["taskArn"] not in {t["taskArn"] for t in _running(ecs)}
              and len(_running(ecs)) == 3, timeout=90)

        # A new task definition rolls out and completes.
        better = _register(ecs, family, SLEEPER + "# v2\n")
        ecs.update_service(cluster="default", service="app", taskDefinition=better)

        def settled_on(td: str) -> Any:
            def done(c: Census) -> bool:
                (primary, *others) = _service(ecs)["deployments"]
                return (primary["taskDefinition"] == td and primary["rolloutState"] == "COMPLETED"
                        and not others and len(c.alive) == 3 and len(c.running) == 3
                        and all(t["taskDefinitionArn"] == td for t in c.running)
                        and len(c.workloads) == 3)
            return done

        within_limits_until(ecs, "app", LIMITS, mine, settled_on(better), timeout=120)

        # A definition whose process exits at once trips the breaker and rolls back.
        broken = _register(ecs, family, "import sys; sys.exit(1)")
        (broken_id,) = [d["id"] for d in ecs.update_service(
            cluster="default", service="app", taskDefinition=broken)["service"]["deployments"]
            if d["status"] == "PRIMARY"]
        # the rollback completes: its deployment is the only one left
        within_limits_until(ecs, "app", LIMITS, mine, settled_on(better), timeout=240)
        assert _service(ecs)["deployments"][0]["id"] != broken_id
        assert (f"(service app) (deployment {broken_id}) deployment failed: tasks failed to "
                "start.") in {e["message"] for e in _service(ecs)["events"]}

        # Draining an instance moves its tasks to the other one.
        instances = ecs.list_container_instances(cluster="default")["containerInstanceArns"]
        drained = instances[0]
        ecs.update_container_instances_state(cluster="default", containerInstances=[drained],
                                             status="DRAINING")

        def moved(c: Census) -> bool:
            return (len(c.alive) == 3 and len(c.running) == 3 and len(c.workloads) == 3
                    and all(t["containerInstanceArn"] != drained for t in c.alive))

        within_limits_until(ecs, "app", LIMITS, mine, moved, timeout=120)
    finally:
        try:
            stop_everything(srv.client())
        finally:
            srv.stop()

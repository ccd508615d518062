"""Managed scaling end to end with the ``command`` launcher, as docs/capacity.md shows it.

The group's launch command starts a ``portside agent`` in the background with
the documented variables and ``--attribute portside.instance-id=…``; its
terminate command kills it. A one-task service scales the group from zero to
two; the empty instance stays below target, is chosen for scale-in (the busy
one is protected by managed termination protection) and its terminate command
runs; the busy one keeps its task.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from portside.agent.drivers.process_spawn import start_ticks
from tests.helpers import Server, stop_everything, unique, until
from tests.support.capacity import create_group, create_provider, provider

pytestmark = pytest.mark.slow

SLEEPER = "import time\nwhile True: time.sleep(1)\n"


def _launch_script(root: Path) -> Path:
    """What a user's launch script does (a tag value holds at most 256 characters)."""
    d = f"{root}/$PORTSIDE_INSTANCE_ID"
    script = root / "launch.sh"
    script.write_text(
        f'mkdir -p "{d}"\n'
        f'{sys.executable} -m portside.cli.main agent '
        '--endpoint "$PORTSIDE_ENDPOINT" --cluster "$PORTSIDE_CLUSTER" --driver process '
        f'--state-dir "{d}" --region "$PORTSIDE_REGION" --az "$PORTSIDE_AVAILABILITY_ZONE" '
        '--instance-type "$PORTSIDE_INSTANCE_TYPE" --cpu "$PORTSIDE_CPU" '
        '--memory "$PORTSIDE_MEMORY" --attribute "portside.instance-id=$PORTSIDE_INSTANCE_ID" '
        f'> "{d}.log" 2>&1 &\n'
        f'echo $! > "{d}.pid"\n'
    )
    return script


def _pids(root: Path) -> dict[str, int]:
    """The launch script's pid files (one still being written is left out)."""
    found = {p.stem: p.read_text().strip() for p in root.glob("i-*.pid")}
    return {iid: int(text) for iid, text in found.items() if text.isdigit()}


def _alive(pid: int) -> bool:
    return start_ticks(pid) is not None  # None: gone, or a zombie


def _ours(pid: int, root: Path) -> bool:
    """The pid is still one of this test's agents (its command line names our state dir):
    pids are reused quickly on a busy machine, and a stale one may be another test's process."""
    try:
        return _alive(pid) and str(root).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_command_launcher_starts_and_stops_agents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTSIDE_CAPACITY_PERIOD", "1")
    monkeypatch.setenv("PORTSIDE_SCALE_IN_AFTER", "2")
    root = tmp_path / "machines"
    root.mkdir()
    srv = Server(data_dir=tmp_path).start()
    cluster, cp = unique("c"), unique("cp")
    ecs = srv.client()
    try:
        group = create_group(srv, unique("hw"), launcher="command", max_size=3, protect=True,
                             launch_command=f"sh {_launch_script(root)}",
                             terminate_command=f'kill "$(cat {root}/$PORTSIDE_INSTANCE_ID.pid)"')
        create_provider(ecs, cp, group, warmup=1, protection=True)
        ecs.create_cluster(clusterName=cluster, capacityProviders=[cp],
                           defaultCapacityProviderStrategy=[{"capacityProvider": cp, "weight": 1}])
        td = ecs.register_task_definition(family=unique("app"), containerDefinitions=[{
            "name": "app", "image": "python", "essential": True, "memory": 64, "cpu": 1536,
            "entryPoint": [sys.executable, "-c"], "command": [SLEEPER], "stopTimeout": 2}])
        ecs.create_service(cluster=cluster, serviceName="app", desiredCount=1,
                           taskDefinition=td["taskDefinition"]["taskDefinitionArn"],
                           capacityProviderStrategy=[{"capacityProvider": cp, "weight": 1}])

        def running() -> list[dict[str, Any]]:
            arns = ecs.list_tasks(cluster=cluster)["taskArns"]
            tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
            return [t for t in tasks if t["lastStatus"] == "RUNNING"]

        task = until(running, timeout=120, every=0.5)[0]
        until(lambda: len(_pids(root)) == 2)  # from zero: two instances

        # One instance holds the task (protected); the other is empty and goes.
        def one_left() -> dict[str, Any] | None:
            p = provider(srv, cp)
            return p if len(p["instances"]) == 1 and p["group"]["desiredCapacity"] == 1 else None

        p = until(one_left, timeout=60, every=0.5)
        kept = p["instances"][0]
        assert kept["lifecycleState"] == "InService" and kept["protectedFromScaleIn"]
        assert kept["containerInstanceArn"] == task["containerInstanceArn"]
        gone = next(iid for iid in _pids(root) if iid != kept["instanceId"])
        until(lambda: not _ours(_pids(root)[gone], root), timeout=60)
        assert _ours(_pids(root)[kept["instanceId"]], root)  # the kept one still runs
        assert "terminated" in [a["action"] for a in p["activities"]]
        listed = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
        assert listed == [kept["containerInstanceArn"]]
        assert [t["taskArn"] for t in running()] == [task["taskArn"]]
    finally:
        try:
            stop_everything(ecs, cluster)
        finally:
            srv.stop()
            for pid in _pids(root).values():  # the command launcher's agents are its own
                if _ours(pid, root):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)

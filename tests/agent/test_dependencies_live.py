"""dependsOn HEALTHY and COMPLETE through a real driver (the process driver), with real probes.

tests/agent/test_dependencies.py checks the rules as pure functions; here the
engine, the task manager, the driver's probe loop and real processes decide
when a container starts. Each test proves the order from what the dependent
container saw when it started, not from timings (it writes what it saw to a
temporary file and renames it, so the test never reads a half-written one).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from portside.agent.drivers.process import ProcessDriver
from portside.agent.health import UNKNOWN
from tests.agent.rig import Rig, payload

pytestmark = pytest.mark.slow


def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path / "agent", ProcessDriver(tmp_path / "agent"))


def test_healthy_waits_for_an_exec_form_check_to_pass_start_period_forgives(tmp_path: Path) -> None:
    # Spaces in the paths: only an exec-form (CMD) probe passes each as one argument.
    flag, probes, seen = tmp_path / "db is ready", tmp_path / "db probes", tmp_path / "web saw"
    check = ["CMD", "sh", "-c", 'echo probe >> "$0"; test -f "$1"', str(probes), str(flag)]

    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([
                {"name": "db", "command": ["sleep", "300"], "stopTimeout": 1,
                 "healthCheck": {"command": check, "interval": 0.2,
                                 "timeout": 2, "retries": 1, "startPeriod": 300}},
                {"name": "web", "stopTimeout": 1,
                 "command": ["sh", "-c", f"test -f '{flag}' && echo ready > '{seen}.tmp'; mv '{seen}.tmp' '{seen}'; sleep 300"],
                 "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}]},
            ])
            await r.run(p)
            m = await r.until(lambda: r.e.managers[p["taskArn"]], what="the task manager")
            db, web = m.containers["db"], m.containers["web"]
            await r.until(lambda: probes.exists() and len(probes.read_text().split()) >= 2,
                          what="two failed probes")
            # retries 1, yet inside startPeriod a failure does not count: still UNKNOWN
            assert db.health.status == UNKNOWN
            assert web.not_started  # db is not HEALTHY, and cannot become so without the flag
            assert not seen.exists()

            flag.touch()
            running = await r.status(p["taskArn"], "RUNNING")
            states = {c["containerName"]: c["status"] for c in running["containers"]}
            assert states == {"db": "RUNNING", "web": "RUNNING"}
            assert db.health.status == "HEALTHY" and db.health.exit_code == 0
            await r.until(seen.exists, what="web's mark")
            assert seen.read_text() == "ready\n"  # the flag was there when web started

    asyncio.run(main())


def test_complete_starts_the_dependent_after_the_dependency_exited(tmp_path: Path) -> None:
    mark, seen = tmp_path / "init done", tmp_path / "app saw"

    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([
                {"name": "app", "stopTimeout": 1,
                 "command": ["sh", "-c", f"cat '{mark}' > '{seen}.tmp'; mv '{seen}.tmp' '{seen}'; sleep 300"],
                 "dependsOn": [{"containerName": "init", "condition": "COMPLETE"}]},
                # writes its mark last, then fails: COMPLETE accepts any exit code
                {"name": "init", "essential": False,
                 "command": ["sh", "-c", f"sleep 1; echo done > '{mark}'; exit 3"]},
            ])
            await r.run(p)
            running = await r.status(p["taskArn"], "RUNNING")
            states = {c["containerName"]: (c["status"], c.get("exitCode")) for c in running["containers"]}
            assert states == {"app": ("RUNNING", None), "init": ("STOPPED", 3)}
            await r.until(seen.exists, what="app's copy of the mark")
            assert seen.read_text() == "done\n"  # init had finished when app started

    asyncio.run(main())

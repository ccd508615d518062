"""A container that exits before its start is answered stays exited.

The driver's exit event and the answer of its ``start`` race: the task manager
applies events while it waits for a driver step (task_manager ``_act``). A
container that exits at once (``exit 4``) can have its exit applied first; the
start's answer ("running") must not make it RUNNING again, or a container that
depends on it waits forever. Here the process driver's start answers only once
the exit has been noticed, so the race goes that way every time.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from portside.agent.drivers.base import RUNNING, RuntimeContainer
from portside.agent.drivers.process import ProcessDriver
from tests.agent.rig import Rig, payload

pytestmark = pytest.mark.slow


class LateStartAnswer(ProcessDriver):
    """Answers ``start`` as it was while the process ran ("running"), but only after the
    process is gone and its exit event was emitted: the order a loaded machine can give."""

    async def start(self, rc: RuntimeContainer) -> RuntimeContainer:
        out = await super().start(rc)
        watcher = self._watchers[out.runtime_id]
        await asyncio.wait_for(asyncio.shield(watcher), 30)
        await asyncio.sleep(0)  # the exit event is queued before the answer
        return replace(out, state=RUNNING, exit_code=None)


def test_an_exit_noticed_before_the_start_answer_is_kept(tmp_path: Path) -> None:
    async def main() -> None:
        async with Rig(tmp_path / "agent", LateStartAnswer(tmp_path / "agent")) as r:
            bad = payload([
                {"name": "app", "command": ["sleep", "60"],
                 "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}]},
                {"name": "init", "essential": False, "command": ["sh", "-c", "exit 4"]},
            ])
            await r.run(bad)
            final = await r.status(bad["taskArn"], "STOPPED", timeout=30)
            init = next(c for c in final["containers"] if c["containerName"] == "init")
            assert init["exitCode"] == 4
            app = next(c for c in final["containers"] if c["containerName"] == "app")
            assert app["reason"] == (
                "CannotStartContainerError: dependency 'init' exited with code 4, not 0 "
                "(condition SUCCESS)"
            )

    asyncio.run(main())

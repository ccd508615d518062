"""The reporter: per-task order, retries, and catching up when far behind."""

from __future__ import annotations

import asyncio
from typing import Any

from portside.agent.ecs_client import EcsError
from portside.agent.reporter import Reporter


class Gate:
    """An ECS stand-in that records calls, fails on request, and can be held shut."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.open = asyncio.Event()
        self.open.set()
        self.errors: list[EcsError] = []

    async def call(self, operation: str, params: dict[str, Any], *, bootstrap: bool = False) -> dict[str, Any]:
        await self.open.wait()
        if self.errors:
            raise self.errors.pop(0)
        self.calls.append((params["task"], params.get("status") or params.get("containerName", "")))
        return {}


def test_changes_arrive_in_order_per_task_and_retry_after_failures() -> None:
    async def main() -> None:
        gate = Gate()
        gate.errors = [EcsError("ServerException", "busy", 500)]
        r = Reporter(gate, "c")
        for s in ("PENDING", "ACTIVATING", "RUNNING"):
            r.task_changed("a", s)
        r.task_changed("b", "PENDING")
        assert await r.flush(10)
        assert [s for t, s in gate.calls if t == "a"] == ["PENDING", "ACTIVATING", "RUNNING"]
        assert ("b", "PENDING") in gate.calls

    asyncio.run(main())


def test_a_refused_change_is_dropped_not_retried_forever() -> None:
    async def main() -> None:
        gate = Gate()
        gate.errors = [EcsError("InvalidParameterException", "The referenced task was not found.", 400)]
        r = Reporter(gate, "c")
        r.task_changed("gone", "RUNNING")
        r.task_changed("gone", "STOPPED")
        assert await r.flush(5)
        assert gate.calls == [("gone", "STOPPED")]

    asyncio.run(main())


def test_far_behind_it_skips_to_the_newest_task_change() -> None:
    async def main() -> None:
        gate = Gate()
        gate.open.clear()
        r = Reporter(gate, "c")
        statuses = ["PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"]
        for s in statuses:
            r.task_changed("a", s)
        r.container_changed("a", {"containerName": "late"})
        await asyncio.sleep(0.01)
        gate.open.set()
        assert await r.flush(5)
        # the backlog collapses onto STOPPED (it lists every container); later changes follow
        assert gate.calls == [("a", "STOPPED"), ("a", "late")]

    asyncio.run(main())

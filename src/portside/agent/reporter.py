"""Delivering state changes to the control plane: in order per task, retried until accepted.

Task managers never wait on the network: they hand a change to the reporter
and go on. Per task the reporter keeps a queue and one sender, so changes
arrive in the order they happened while different tasks report in parallel.
A failed call is retried with backoff (0.5 s doubling to 30 s) unless the
control plane refused it for good (a 4xx other than throttling), which is
logged and dropped. When a task's queue has fallen behind, the sender skips
to the newest task change (more than :data:`BEHIND` changes queued): it
carries every container's latest state, and the control plane accepts a jump
forward in the lifecycle. Otherwise every move is reported.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from portside.agent.ecs_client import EcsError

log = logging.getLogger("portside.agent.reporter")

MAX_BACKOFF = 30.0
BEHIND = 4


class Caller(Protocol):
    async def call(self, operation: str, params: dict[str, Any], *, bootstrap: bool = False) -> dict[str, Any]: ...


@dataclass
class Change:
    operation: str  # SubmitTaskStateChange | SubmitContainerStateChange
    params: dict[str, Any]

    @property
    def is_task(self) -> bool:
        return self.operation == "SubmitTaskStateChange"


@dataclass
class _Lane:
    queue: deque[Change] = field(default_factory=deque)
    sender: asyncio.Task[None] | None = None


class Reporter:
    def __init__(self, client: Caller, cluster: str) -> None:
        self.client = client
        self.cluster = cluster
        self._lanes: dict[str, _Lane] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self.sent: list[Change] = []  # the last few, for diagnostics
        self.calls = 0

    def _cluster(self, task_arn: str) -> str:
        """The task's own cluster (a Fargate pool runs every cluster's tasks), else ours."""
        parts = task_arn.split(":", 5)[-1].split("/")
        return parts[1] if len(parts) == 3 and parts[0] == "task" else self.cluster

    def task_changed(self, task_arn: str, status: str, **fields: Any) -> None:
        params = {"cluster": self._cluster(task_arn), "task": task_arn, "status": status, **fields}
        self._enqueue(task_arn, Change("SubmitTaskStateChange", params))

    def container_changed(self, task_arn: str, container: dict[str, Any]) -> None:
        # SubmitContainerStateChange has no imageDigest (only the task-level
        # ContainerStateChange does): the server refuses unknown parameters.
        fields = {k: v for k, v in container.items() if k != "imageDigest"}
        params = {"cluster": self._cluster(task_arn), "task": task_arn, **fields}
        self._enqueue(task_arn, Change("SubmitContainerStateChange", params))

    def _enqueue(self, task_arn: str, change: Change) -> None:
        lane = self._lanes.setdefault(task_arn, _Lane())
        lane.queue.append(change)
        self._idle.clear()
        if lane.sender is None or lane.sender.done():
            lane.sender = asyncio.create_task(self._send(task_arn, lane), name=f"report-{task_arn[-8:]}")

    async def _send(self, task_arn: str, lane: _Lane) -> None:
        backoff = 0.5
        while lane.queue:
            change = _next(lane.queue)
            try:
                await self.client.call(change.operation, change.params)
                self.calls += 1
            except EcsError as exc:
                if not exc.retryable:
                    log.warning("%s for %s refused: %s", change.operation, task_arn, exc)
                    lane.queue.popleft()
                    continue
                log.info("%s for %s failed (%s); retrying in %.1fs", change.operation, task_arn, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 0.5
            lane.queue.popleft()
            self.sent.append(change)
            del self.sent[:-200]
        if self._lanes.get(task_arn) is lane and not lane.queue:
            del self._lanes[task_arn]
        if not any(lane.queue for lane in self._lanes.values()):
            self._idle.set()

    def pending(self, task_arn: str) -> int:
        lane = self._lanes.get(task_arn)
        return len(lane.queue) if lane else 0

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued has been delivered (or dropped); False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        for lane in self._lanes.values():
            if lane.sender is not None:
                lane.sender.cancel()
        self._lanes.clear()


def _next(queue: deque[Change]) -> Change:
    """The change to send now: the head, or the newest task change when far behind.

    Changes ahead of that one are dropped (it supersedes them: a task change lists
    every container).
    """
    if len(queue) <= BEHIND:
        return queue[0]
    last_task = max((i for i, c in enumerate(queue) if c.is_task), default=-1)
    for _ in range(max(last_task, 0)):
        queue.popleft()
    return queue[0]

"""The last two Service Connect counter samples of every task, as agents report them.

Agents send ``ServiceConnectStats`` on their session every few seconds while
they run proxies (docs/agent-protocol.md)::

    {"type": "ServiceConnectStats", "at": 1767000000.5,
     "tasks": {TASK_ARN: {"services": {...}, "endpoints": {...}}}}

``at`` is the agent's clock: rates are computed between two samples of the
same agent, so clocks of different machines never meet. Samples live in
memory only (they are a view of live counters, not state): a control plane
that restarts shows rates again after two reports. A task missing from its
agent's newest report, or whose agent went quiet for :data:`STALE_SECONDS`,
is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portside.domain.ecs.service_connect_top import Sample, TaskSamples
from portside.domain.ecs.task import Task
from portside.store.store import Store

STALE_SECONDS = 30.0


@dataclass(slots=True)
class _Entry:
    instance_arn: str
    received: float  # control-plane monotonic time of the newest sample
    latest: Sample
    previous: Sample | None


class ProxyStatsBook:
    def __init__(self) -> None:
        self._tasks: dict[str, _Entry] = {}

    def record(self, instance_arn: str, message: Mapping[str, Any], received: float) -> None:
        at = float(message["at"])
        reported = message.get("tasks") or {}
        if not isinstance(reported, Mapping):
            raise TypeError("tasks must be an object")
        for arn in [a for a, e in self._tasks.items() if e.instance_arn == instance_arn]:
            if arn not in reported:
                del self._tasks[arn]
        for arn, stats in reported.items():
            if not isinstance(stats, Mapping):
                continue
            old = self._tasks.get(arn)
            previous = old.latest if old is not None and old.latest.at < at else None
            self._tasks[arn] = _Entry(instance_arn, received, Sample(at, stats), previous)

    def forget_instance(self, instance_arn: str) -> None:
        for arn in [a for a, e in self._tasks.items() if e.instance_arn == instance_arn]:
            del self._tasks[arn]

    def cluster(self, store: Store, cluster_arn: str, now: float) -> list[TaskSamples]:
        """The samples of the cluster's tasks, each with its ECS service's name."""
        out: list[TaskSamples] = []
        for arn, entry in sorted(self._tasks.items()):
            if now - entry.received > STALE_SECONDS:
                continue
            task = store.get(Task.KIND, arn)
            if not isinstance(task, Task) or task.cluster_arn != cluster_arn:
                continue
            group = task.group or "-"
            service = group.split(":", 1)[1] if group.startswith("service:") else group
            out.append(TaskSamples(arn, service, entry.latest, entry.previous))
        return out

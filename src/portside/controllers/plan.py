"""One service as the controller sees it, and the plan both schedulers fill in.

:class:`View` gathers, once per pass, the service's tasks, the condition of
the instances they run on and the health rules; :func:`triage` makes the
decisions that do not depend on the scheduling strategy (a task on a lost
instance, or failing its health checks past the grace period, is stopped now);
:class:`Plan` is what REPLICA or DAEMON scheduling then adds: what to stop and
why, how many tasks to start and where, the messages for the event log, and
when time alone could change the answer.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from portside.controllers import service_events as ev
from portside.controllers.task_state import (
    ACTIVE,
    DRAINING,
    HEALTH_REASON,
    LOST,
    Policy,
    is_pending,
    started,
    unhealthy_since_grace,
)
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.container_instance import ContainerInstance
from portside.domain.ecs.service import Service
from portside.domain.ecs.task import Task


def scaling_reason(deployment_id: str | None) -> str:
    """ECS's stoppedReason for a task the service scheduler scales in or replaces."""
    return f"Scaling activity initiated by (deployment {deployment_id})"


def draining_reason(instance_id: str) -> str:
    return f"Task stopped because container instance {instance_id} is DRAINING."


def lost_reason(instance_id: str, grace: timedelta) -> str:
    """Says what the grace is counted from: the last heartbeat (see task_state.lost_at).

    The moment the agent was marked disconnected is not recorded, and that comes
    ``agentTimeout`` after the last heartbeat: "disconnected for" would overstate it.
    """
    return (
        f"Task stopped because the agent of container instance {instance_id} has sent no "
        f"heartbeat for more than {int(grace.total_seconds())} seconds."
    )


@dataclass
class View:
    """A service's tasks and instances at one moment."""

    svc: Service
    cluster: Cluster
    now: datetime
    policy: Policy
    instances: Mapping[str, ContainerInstance]
    tasks: Sequence[Task]
    """The service's tasks that have not STOPPED."""
    conditions: Mapping[str, str]
    """Instance ARN -> ACTIVE | DRAINING | LOST, for the instances those tasks are on."""
    checked: Callable[[str], bool]
    """Task definition ARN -> whether an essential container has a health check."""
    settled: datetime = field(init=False, repr=False)
    """A task without a health check that started by then has run ``policy.settle``."""

    def __post_init__(self) -> None:
        self.settled = self.now - self.policy.settle

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.svc.health_check_grace_period_seconds or 0)

    def condition(self, t: Task) -> str:
        arn = t.container_instance_arn
        return ACTIVE if arn is None else self.conditions.get(arn, LOST)

    def healthy(self, t: Task) -> bool:
        """``task_state.healthy`` at this view's ``now``, asked several times per task in a
        pass: inlined, with ``now - settle`` computed once (tests hold the two equal)."""
        if t.last_status != "RUNNING":
            return False
        if self.checked(t.task_definition_arn):
            return t.health_status == "HEALTHY"
        return (t.started_at or t.created_at) <= self.settled

    def available(self, t: Task) -> bool:
        """RUNNING and not UNHEALTHY: serving, as far as anyone knows (see replica.py)."""
        return t.last_status == "RUNNING" and t.health_status != "UNHEALTHY"

    def instance_id(self, t: Task) -> str:
        return (t.container_instance_arn or "").rsplit("/", 1)[-1]


@dataclass
class Plan:
    stops: list[tuple[Task, str]] = field(default_factory=list)
    launches: int = 0
    """REPLICA: how many tasks of the primary deployment to place."""
    targets: list[str] = field(default_factory=list)
    """DAEMON: the instances that each get one task of the primary deployment."""
    messages: list[str] = field(default_factory=list)
    wake: list[datetime] = field(default_factory=list)
    desired: int = 0
    steady: bool = False

    def stop(self, t: Task, reason: str) -> None:
        self.stops.append((t, reason))


@dataclass
class Triage:
    counted: int = 0
    """Tasks that count toward maximumPercent: not STOPPED, not on a lost instance."""
    live: list[Task] = field(default_factory=list)
    """Live tasks left for the scheduling strategy to sort out."""
    stopping: list[Task] = field(default_factory=list)
    """Asked to stop already, not STOPPED yet."""


def triage(view: View, plan: Plan) -> Triage:
    """Stop what must stop whatever the strategy; return the rest."""
    out = Triage()
    grace = view.grace
    conditions, checked_of = view.conditions, view.checked  # (hot loop: view.condition inlined)
    for t in view.tasks:
        arn = t.container_instance_arn
        cond = ACTIVE if arn is None else conditions.get(arn, LOST)
        if cond == LOST:
            if t.desired_status == "RUNNING":
                plan.stop(t, lost_reason(view.instance_id(t), view.policy.agent_grace))
            continue
        out.counted += 1
        if t.desired_status != "RUNNING":
            out.stopping.append(t)
            continue
        checked = checked_of(t.task_definition_arn)
        if checked and unhealthy_since_grace(t, checked, view.now, grace):
            plan.stop(t, HEALTH_REASON)
            plan.messages.append(ev.unhealthy(view.svc.service_name, t.task_id))
            continue
        if checked and t.health_status == "UNHEALTHY":
            plan.wake.append(started(t) + grace)
        if cond == DRAINING and is_pending(t):
            plan.stop(t, draining_reason(view.instance_id(t)))
            continue
        if t.last_status == "RUNNING" and not checked and not view.healthy(t):
            plan.wake.append(started(t) + view.policy.settle)
        out.live.append(t)
    return out


def scale_in_order(view: View, candidates: Sequence[Task], n: int) -> list[Task]:
    """Which ``n`` of ``candidates`` to stop when scaling in.

    Not-yet-running tasks first, then unhealthy ones, then — as ECS does to keep
    a service balanced — tasks from the Availability Zone, then the instance,
    holding the most of this service's tasks; the newest task breaks ties.

    Each pick takes the least ``(class, -zone count, -instance count, -created, arn)``
    with the counts over the candidates still left. Tasks are grouped by class, then
    by (zone, instance), newest first, so a pick compares only the head of each
    group of the lowest class left. Within a zone the groups wait in a heap keyed
    ``(-instance count, -created, arn)`` by their head: counts only fall and heads
    only get older as tasks are picked, so a key in a heap can only be stale *low*;
    a stale top is re-keyed and pushed back until the top is current, and then it
    is the zone's least. A pick compares the zones' tops (a handful), zone count
    first — the same task as comparing every group, in O(zones x log groups).
    """
    if n <= 0:
        return []
    zones: dict[str | None, int] = {}
    hosts: dict[str | None, int] = {}
    classes: dict[tuple[int, int], dict[_Where, list[_Ranked]]] = {}
    for t in candidates:
        zones[t.availability_zone] = zones.get(t.availability_zone, 0) + 1
        hosts[t.container_instance_arn] = hosts.get(t.container_instance_arn, 0) + 1
        cls = (0 if t.last_status != "RUNNING" else 1, 0 if not view.healthy(t) else 1)
        where = (t.availability_zone, t.container_instance_arn)
        classes.setdefault(cls, {}).setdefault(where, []).append(
            (-t.created_at.timestamp(), t.task_arn, t)
        )
    chosen: list[Task] = []
    for cls in sorted(classes):
        groups = classes[cls]
        heaps: dict[str | None, list[_Entry]] = {}
        for where, ranked in groups.items():
            ranked.sort(key=_rank_key, reverse=True)  # the group's best task last
            heaps.setdefault(where[0], []).append(_entry(where, ranked, hosts))
        for heap in heaps.values():
            heapq.heapify(heap)
        while heaps and len(chosen) < n:
            zone = min(heaps, key=lambda z: (-zones[z], *_top(heaps[z], groups, hosts)[:3]))
            heap = heaps[zone]
            where = heapq.heappop(heap)[3]
            ranked = groups[where]
            chosen.append(ranked.pop()[2])
            zones[where[0]] -= 1
            hosts[where[1]] -= 1
            if ranked:
                heapq.heappush(heap, _entry(where, ranked, hosts))
            elif not heap:
                del heaps[zone]
    return chosen


def _entry(where: _Where, ranked: list[_Ranked], hosts: Mapping[str | None, int]) -> _Entry:
    head = ranked[-1]
    return (-hosts[where[1]], head[0], head[1], where)


def _top(
    heap: list[_Entry], groups: Mapping[_Where, list[_Ranked]], hosts: Mapping[str | None, int]
) -> _Entry:
    """The heap's least entry, re-keying stale ones (their instance count fell) first."""
    while True:
        top = heap[0]
        where = top[3]
        current = _entry(where, groups[where], hosts)
        if current[:3] == top[:3]:
            return top
        heapq.heapreplace(heap, current)


_Where = tuple[str | None, str | None]
_Entry = tuple[int, float, str, _Where]


_Ranked = tuple[float, str, Task]


def _rank_key(r: _Ranked) -> tuple[float, str]:
    return (r[0], r[1])

"""Fargate in the simulator: unlimited capacity, per-task billing, Spot interruptions.

The service scheduler places FARGATE and FARGATE_SPOT tasks on a Fargate pool
(``domain/ecs/fargate.py``), as the live server does; here the pool is one
virtual container instance with no practical limit (:data:`UNLIMITED_CPU`,
:data:`UNLIMITED_MEMORY`, no ENI limit), registered when the world is built.
It is never billed: Fargate bills tasks, per second from the start of the
task to its stop, one minute at least, by task-level vCPU and memory
(:data:`PRICES`). A Spot interruption (the ``fargateSpotInterruption`` event)
gives chosen RUNNING FARGATE_SPOT tasks ECS's two-minute warning — the task is
asked to stop (SIGTERM) with stopCode ``SpotInterruption`` and stoppedReason
"Your Spot Task was interrupted." — and they are STOPPED two minutes later.
Their services replace them at once, as in ECS.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.container_instance import Attribute, ContainerInstance, Resource
from portside.domain.ecs.fargate import POOL_ATTRIBUTE
from portside.domain.ecs.task import Task
from portside.domain.scope import Scope
from portside.sim.state import SimState

UNLIMITED_CPU = 1 << 40
UNLIMITED_MEMORY = 1 << 50
PRICES = {
    "FARGATE": (0.04048, 0.004445),
    "FARGATE_SPOT": (0.012144, 0.0013335),
}
"""USD per vCPU-hour and per GB-hour, Linux/x86 in us-east-1 (on-demand as published;
Spot as 70 % off it, an assumption: Fargate Spot prices move)."""
INTERRUPTED = "Your Spot Task was interrupted."
SPOT_INTERRUPTION = "SpotInterruption"


def install_pool(state: SimState, scope: Scope, now: datetime, zone: str) -> ContainerInstance | None:
    """Register the virtual Fargate pool in the first cluster (it serves them all)."""
    clusters = [c for c in state.all(Cluster.KIND).values() if c.active]
    if not clusters:
        return None
    cluster = clusters[0]
    pool = ContainerInstance(
        container_instance_arn=scope.ecs(
            f"container-instance/{cluster.cluster_name}/{uuid.uuid5(uuid.NAMESPACE_OID, 'fargate').hex}"
        ),
        cluster_arn=cluster.cluster_arn,
        registered_at=now,
        registered_resources=(
            Resource("CPU", "INTEGER", integer_value=UNLIMITED_CPU),
            Resource("MEMORY", "INTEGER", integer_value=UNLIMITED_MEMORY),
        ),
        attributes=(Attribute("ecs.availability-zone", zone), Attribute(POOL_ATTRIBUTE, "true")),
        last_heartbeat_at=now,
    )  # fmt: skip
    state.commit([pool])
    return pool


def rate(task: Task) -> float:
    """USD per hour one running Fargate task costs."""
    vcpu, gb = PRICES.get(task.capacity_provider_name or "FARGATE", PRICES["FARGATE"])
    cpu = int(task.cpu or 0) / 1024
    memory = int(task.memory or 0) / 1024
    return vcpu * cpu + gb * memory


@dataclass(slots=True)
class _Open:
    rate: float
    since: datetime


class Ledger:
    """What Fargate tasks cost: per second while they run, one minute at least."""

    def __init__(self) -> None:
        self._open: dict[str, _Open] = {}
        self._closed = 0.0

    def started(self, task: Task, now: datetime) -> None:
        if task.launch_type == "FARGATE" and task.task_arn not in self._open:
            self._open[task.task_arn] = _Open(rate(task), now)

    def stopped(self, task_arn: str, now: datetime) -> None:
        o = self._open.pop(task_arn, None)
        if o is not None:
            self._closed += _cost(o, now)

    def live_rate(self) -> float:
        return sum(o.rate for o in self._open.values())

    def cost(self, until: datetime) -> float:
        return self._closed + sum(_cost(o, until) for o in self._open.values())


def _cost(o: _Open, until: datetime) -> float:
    return o.rate * max((until - o.since).total_seconds(), 60.0) / 3600.0


def spot_interruption(
    state: SimState, rng: random.Random, now: datetime, warning: timedelta,
    count: int | None, fraction: float | None,
    later: Callable[[timedelta, Callable[[], None]], None],
    stop: Callable[[list[str], str, str], None],
) -> tuple[int, int]:  # fmt: skip
    """Warn chosen RUNNING FARGATE_SPOT tasks; stop them ``warning`` later.
    Returns (interrupted, candidates)."""
    spot = sorted(
        (t for t in state.all(Task.KIND).values()
         if t.capacity_provider_name == "FARGATE_SPOT" and t.last_status == "RUNNING"
         and t.desired_status == "RUNNING"),
        key=lambda t: t.task_arn,
    )  # fmt: skip
    n = count if count is not None else round(len(spot) * float(fraction or 0))
    chosen = rng.sample(spot, min(n, len(spot)))
    state.commit([
        dataclasses.replace(
            t, desired_status="STOPPED", stop_code=SPOT_INTERRUPTION, stopped_reason=INTERRUPTED,
            stopping_at=now, version=t.version + 1,
        )
        for t in chosen
    ])  # fmt: skip
    arns = [t.task_arn for t in chosen]
    if arns:
        later(warning, lambda: stop(arns, INTERRUPTED, SPOT_INTERRUPTION))
    return len(chosen), len(spot)

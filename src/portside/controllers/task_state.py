"""What the service controller needs to know about one task and its instance.

A service task is *live* while its desired status is RUNNING and it has not
stopped; it is *healthy* (counts toward minimumHealthyPercent) when it is
RUNNING and either its task definition has a container health check on an
essential container and the task reports HEALTHY, or it has none and has been
RUNNING for ``settle`` (ECS waits 40 seconds before counting such a task).

Its instance is ACTIVE, DRAINING, or LOST: deregistered, gone, or with an agent
disconnected for longer than ``agent_grace``. Tasks on a lost instance are
replaced elsewhere and no longer count anywhere.

Failures, for the circuit breaker and the start throttle: a task *stopped on
its own* when it stopped and nobody asked it to (its essential container
exited, or it never started); it *failed to start* when that happened before
it ever reached RUNNING; it *failed its health checks* when the scheduler
stopped it for that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from portside.domain.ecs.container_instance import ContainerInstance
from portside.domain.ecs.task import Task

PENDING_STATES = ("PROVISIONING", "PENDING", "ACTIVATING")
SCHEDULER = "ServiceSchedulerInitiated"
REQUESTED_STOPS = frozenset({SCHEDULER, "UserInitiated"})
HEALTH_REASON = "Task failed container health checks"

ACTIVE = "ACTIVE"
DRAINING = "DRAINING"
LOST = "LOST"


@dataclass(frozen=True, slots=True)
class Policy:
    """The controller's time rules that ECS does not let users set."""

    agent_grace: timedelta = timedelta(minutes=5)
    """How long an instance's agent may be disconnected before its tasks are replaced."""
    settle: timedelta = timedelta(seconds=40)
    """How long a task without a health check must run before it counts as healthy."""


def has_health_check(td: Any) -> bool:
    """Whether an essential container of ``td`` declares a health check."""
    if td is None:
        return False
    return any(
        c.get("health_check") and c.get("essential", True) is not False
        for c in td.container_definitions
    )


def is_live(t: Task) -> bool:
    return t.desired_status == "RUNNING" and t.last_status != "STOPPED"


def is_pending(t: Task) -> bool:
    return t.last_status in PENDING_STATES


def healthy(t: Task, checked: bool, now: datetime, policy: Policy) -> bool:
    """Counts toward minimumHealthyPercent (see the module docstring)."""
    if t.last_status != "RUNNING":
        return False
    if checked:
        return t.health_status == "HEALTHY"
    return now >= started(t) + policy.settle


def started(t: Task) -> datetime:
    return t.started_at or t.created_at


def unhealthy_since_grace(t: Task, checked: bool, now: datetime, grace: timedelta) -> bool:
    """RUNNING, UNHEALTHY and past the health check grace period: to be replaced."""
    return (
        checked
        and t.last_status == "RUNNING"
        and t.health_status == "UNHEALTHY"
        and now >= started(t) + grace
    )


def failed_to_start(t: Task) -> bool:
    return (
        t.last_status == "STOPPED"
        and t.started_at is None
        and (t.stop_code or "") not in REQUESTED_STOPS
    )


def stopped_on_its_own(t: Task) -> bool:
    """It stopped (or is stopping) and nobody asked: an essential container exited, or it
    never started."""
    return t.desired_status == "STOPPED" and (t.stop_code or "") not in REQUESTED_STOPS and (
        t.stop_code is not None
    )


def failed_health(t: Task) -> bool:
    return t.stop_code == SCHEDULER and t.stopped_reason == HEALTH_REASON


def failed_at(t: Task) -> datetime:
    return t.stopped_at or t.stopping_at or t.created_at


def instance_condition(
    instance: ContainerInstance | None, now: datetime, policy: Policy
) -> str:
    """ACTIVE, DRAINING or LOST (see the module docstring)."""
    if instance is None or not instance.registered:
        return LOST
    lost = lost_at(instance, policy)
    if lost is not None and now >= lost:
        return LOST
    return DRAINING if instance.status == DRAINING else ACTIVE


def lost_at(instance: ContainerInstance, policy: Policy) -> datetime | None:
    """When a disconnected instance's tasks are to be replaced (None while connected)."""
    if instance.agent_connected:
        return None
    return (instance.last_heartbeat_at or instance.registered_at) + policy.agent_grace


def conditions(
    instances: Mapping[str, ContainerInstance], tasks: Iterable[Task], now: datetime,
    policy: Policy,
) -> dict[str, str]:
    """The condition of every instance the given tasks are placed on."""
    out: dict[str, str] = {}
    for t in tasks:
        arn = t.container_instance_arn
        if arn is not None and arn not in out:
            out[arn] = instance_condition(instances.get(arn), now, policy)
    return out

"""A service's deployments: failure accounting, the circuit breaker, rollback, completion.

ECS's rolling update keeps one PRIMARY deployment (the one new tasks come
from) and ACTIVE ones whose tasks are being replaced; a deployment with no
tasks left is INACTIVE and leaves the list. The primary's ``rolloutState``
starts IN_PROGRESS, becomes COMPLETED when the service reaches a steady
state, or FAILED when the circuit breaker trips.

The circuit breaker (Developer Guide, "How the Amazon ECS deployment circuit
breaker detects failures") counts the deployment's failed tasks: tasks that
stop without being asked to (they never reached RUNNING, or an essential
container exited — a container that crashes right after starting is the
common case) and tasks replaced for failing their health checks. By default
the count is consecutive: a task that proves healthy (HEALTHY with a health
check, else RUNNING for the settle time) resets it; ``resetOnHealthyTask:
false`` makes it cumulative. When it reaches :func:`~portside.controllers.fenceposts.failure_threshold`
the deployment is FAILED and launches nothing more; with ``rollback`` a new
PRIMARY deployment starts with the settings (task definition, launch type,
network) of the most recent COMPLETED one, as ECS does: the rollback is a
deployment of its own, with its own id, and the COMPLETED one stays ACTIVE
while its tasks are replaced by the rollback's. A rollback that fails in turn
is not rolled back again (that would loop between two broken deployments): it
stays FAILED, like a deployment without ``rollback``.

StopServiceDeployment (``stopType`` ROLLBACK) marks the primary
``stop_requested``; :func:`honour_stop` then rolls it back the same way, with
or without the circuit breaker's ``rollback`` option (as ECS allows). With no
COMPLETED deployment to return to, the deployment just stops (FAILED).

The counts are recomputed from the tasks on every pass, so they are level
based: the same tasks always give the same ``failedTasks``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from portside.controllers import service_events as ev
from portside.controllers.fenceposts import failure_threshold
from portside.controllers.task_state import (
    failed_at,
    failed_health,
    failed_to_start,
    is_live,
    is_pending,
    stopped_on_its_own,
)
from portside.domain.ecs.service import Deployment, Service
from portside.domain.ecs.task import Task

FAILED_REASON = "ECS deployment circuit breaker: tasks failed to start."


def in_progress_reason(deployment_id: str) -> str:
    return f"ECS deployment {deployment_id} in progress."


def completed_reason(deployment_id: str) -> str:
    return f"ECS deployment {deployment_id} completed."


ROLLBACK_PREFIX = "ECS deployment circuit breaker: rolling back to deploymentId "


def rollback_reason(deployment_id: str) -> str:
    return f"{ROLLBACK_PREFIX}{deployment_id}."


STOP_PREFIX = "ECS deployment stopped by StopServiceDeployment: rolling back to deploymentId "
STOPPED_REASON = "ECS deployment stopped by StopServiceDeployment."


def stop_rollback_reason(deployment_id: str) -> str:
    return f"{STOP_PREFIX}{deployment_id}."


def is_rollback(d: Deployment) -> bool:
    """A rollback deployment (its reason names the one it rolls back to)."""
    return (d.rollout_state_reason or "").startswith((ROLLBACK_PREFIX, STOP_PREFIX))


def rollback_id(failed_id: str) -> str:
    """The rollback deployment's id, derived from the failed one's: a recomputed pass gives the same."""
    digest = hashlib.sha256(f"rollback/{failed_id}".encode()).digest()
    return f"ecs-svc/{int.from_bytes(digest[:8], 'big') % 10**19:019d}"


@dataclass(frozen=True, slots=True)
class Breaker:
    """``deploymentCircuitBreaker`` as configured (disabled when absent)."""

    enable: bool = False
    rollback: bool = False
    reset_on_healthy_task: bool = True
    threshold_type: str = "BOUNDED_PERCENT"
    threshold_value: int = 50

    @staticmethod
    def of(raw: Any) -> Breaker:
        if not isinstance(raw, Mapping):
            return Breaker()
        threshold = raw.get("threshold_configuration") or {}
        return Breaker(
            enable=bool(raw.get("enable")),
            rollback=bool(raw.get("rollback")),
            reset_on_healthy_task=raw.get("reset_on_healthy_task", True) is not False,
            threshold_type=threshold.get("type") or "BOUNDED_PERCENT",
            threshold_value=int(threshold.get("value", 50)),
        )


def succeeded(t: Task, checked: bool, now: datetime, settle: timedelta) -> bool:
    """Started, did not fail, and proved itself: HEALTHY when checked, else ran ``settle``."""
    if t.started_at is None or stopped_on_its_own(t) or failed_health(t):
        return False
    if checked:
        return t.health_status == "HEALTHY"
    return (t.stopped_at or t.stopping_at or now) - t.started_at >= settle


def failed_tasks(
    tasks: Sequence[Task], checked: bool, now: datetime, settle: timedelta,
    reset_on_healthy: bool = True,
) -> int:  # fmt: skip
    """The circuit breaker's failure count for one deployment's tasks (see the docstring)."""
    fails = [
        failed_at(t) for t in tasks
        if t.stop_code is not None and (stopped_on_its_own(t) or failed_health(t))
    ]  # fmt: skip
    if not reset_on_healthy or not fails:
        return len(fails)
    last_ok = max(
        (t.started_at for t in tasks if t.started_at and succeeded(t, checked, now, settle)),
        default=None,
    )
    return sum(1 for f in fails if last_ok is None or f > last_ok)


def start_failures(tasks: Sequence[Task]) -> tuple[int, datetime | None]:
    """Tasks that failed to start since one last reached RUNNING, and when the last did."""
    failed = [t for t in tasks if t.last_status == "STOPPED" and failed_to_start(t)]
    if not failed:  # the usual case: no need to look for the last start
        return 0, None
    last_run = max((t.started_at for t in tasks if t.started_at), default=None)
    fails = [failed_at(t) for t in failed if last_run is None or failed_at(t) > last_run]
    return len(fails), max(fails, default=None)


def trip_breaker(
    svc: Service, failures: Mapping[str, int], now: datetime
) -> tuple[Service, list[str]]:
    """The service after the circuit breaker looked at the primary deployment."""
    primary = svc.primary
    breaker = Breaker.of(svc.deployment_configuration.deployment_circuit_breaker)
    if primary is None or not breaker.enable or primary.rollout_state != "IN_PROGRESS":
        return svc, []
    threshold = failure_threshold(
        svc.desired_count, breaker.threshold_type, breaker.threshold_value
    )
    if failures.get(primary.id, 0) < threshold:
        return svc, []
    failed = dataclasses.replace(
        primary, rollout_state="FAILED", rollout_state_reason=FAILED_REASON, updated_at=now
    )
    messages = [ev.deployment_failed(svc.service_name, primary.id)]
    target = (
        _rollback_target(svc, primary) if breaker.rollback and not is_rollback(primary) else None
    )
    return _roll_back(svc, failed, target, rollback_reason, now), messages


def honour_stop(svc: Service, now: datetime) -> tuple[Service, list[str]]:
    """The service after a StopServiceDeployment (ROLLBACK) of its primary, if one is
    asked, and the event that says so."""
    primary = svc.primary
    if primary is None or not primary.stop_requested or primary.rollout_state != "IN_PROGRESS":
        return svc, []
    failed = dataclasses.replace(
        primary, rollout_state="FAILED", rollout_state_reason=STOPPED_REASON, updated_at=now
    )
    target = None if is_rollback(primary) else _rollback_target(svc, primary)
    message = ev.deployment_stopped(svc.service_name, primary.id)
    return _roll_back(svc, failed, target, stop_rollback_reason, now), [message]


def _roll_back(
    svc: Service, failed: Deployment, target: Deployment | None,
    reason: Callable[[str], str], now: datetime,
) -> Service:  # fmt: skip
    """``failed`` in place of the primary and, given a target, a rollback deployment to it."""
    if target is None:
        deployments = tuple(failed if d.id == failed.id else d for d in svc.deployments)
        return dataclasses.replace(svc, deployments=deployments)
    back = dataclasses.replace(
        target,
        id=rollback_id(failed.id),
        status="PRIMARY",
        rollout_state="IN_PROGRESS",
        rollout_state_reason=reason(target.id),
        desired_count=svc.desired_count,
        pending_count=0,
        running_count=0,
        failed_tasks=0,
        created_at=now,
        updated_at=now,
        stop_requested=False,
    )
    failed = dataclasses.replace(failed, status="ACTIVE")
    rest = tuple(d for d in svc.deployments if d.id != failed.id)
    return dataclasses.replace(
        svc,
        deployments=(back, failed, *rest),
        task_definition=back.task_definition,
        launch_type=back.launch_type,
        capacity_provider_strategy=back.capacity_provider_strategy,
        network_configuration=back.network_configuration,
        platform_version=back.platform_version,
    )


def _rollback_target(svc: Service, primary: Deployment) -> Deployment | None:
    done = [d for d in svc.deployments if d.id != primary.id and d.rollout_state == "COMPLETED"]
    return max(done, key=lambda d: d.created_at, default=None)


def settle(
    svc: Service,
    tasks_after: Mapping[str, Sequence[Task]],
    failures: Mapping[str, int],
    steady: bool,
    desired: int,
    now: datetime,
) -> tuple[tuple[Deployment, ...], list[str]]:
    """Deployments with their counts after this pass, completion, and INACTIVE pruning.

    ``tasks_after`` holds, per deployment id, the tasks that are not yet STOPPED
    once this pass's stops and starts are applied (tasks on lost instances left
    out). ``desired`` is the service's desired count (the eligible instance count
    for a DAEMON service).
    """
    messages: list[str] = []
    out: list[Deployment] = []
    primary = svc.primary
    rolling_back = (
        not steady
        and primary is not None
        and primary.rollout_state == "IN_PROGRESS"
        and is_rollback(primary)
    )
    for d in svc.deployments:
        mine = tasks_after.get(d.id, ())
        live = [t for t in mine if is_live(t)]
        changes: dict[str, Any] = dict(
            running_count=sum(1 for t in live if t.last_status == "RUNNING"),
            pending_count=sum(1 for t in live if is_pending(t)),
            failed_tasks=failures.get(d.id, 0),
            desired_count=desired if d.status == "PRIMARY" else len(live),
        )
        if d.status == "PRIMARY" and steady and d.rollout_state == "IN_PROGRESS":
            changes.update(rollout_state="COMPLETED", rollout_state_reason=completed_reason(d.id))
            messages.append(ev.deployment_completed(svc.service_name, d.id))
        if d.status == "ACTIVE" and not mine and not (rolling_back and d.rollout_state == "FAILED"):
            changes["status"] = "INACTIVE"  # a FAILED one stays in view while it is rolled back
        updated = dataclasses.replace(d, **changes)
        if updated != d:
            updated = dataclasses.replace(updated, updated_at=now)
        out.append(updated)
    return _prune(out), messages


def _prune(deployments: list[Deployment]) -> tuple[Deployment, ...]:
    """Drop INACTIVE deployments, except the newest COMPLETED one while the primary is not."""
    primary_done = any(
        d.status == "PRIMARY" and d.rollout_state == "COMPLETED" for d in deployments
    )
    keep: Deployment | None = None
    if not primary_done:
        done = [d for d in deployments if d.status == "INACTIVE" and d.rollout_state == "COMPLETED"]
        keep = max(done, key=lambda d: d.created_at, default=None)
    return tuple(d for d in deployments if d.status != "INACTIVE" or d is keep)

"""Service events in ECS's words, and when not to repeat them.

DescribeServices shows the scheduler's events newest first, at most 100. ECS
omits a duplicate message "until either the cause is resolved or six hours
passes", and reports the steady state again at most every six hours. Here:

- a steady-state message is written when the newest event is not already one,
  or that one is six hours old;
- a problem message (cannot place, cannot start consistently) is written
  unless the same message was written within six hours *and* no task has
  been started since (a start means the cause went away at least once).

Event ids are derived from the service, the time and the message, so the
same decision made twice writes the same events.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from portside.domain.ecs.service import MAX_EVENTS, Service, ServiceEvent

REPEAT_AFTER = timedelta(hours=6)
TROUBLESHOOTING = (
    "For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
)
_EVENT_IDS = uuid.UUID("5f0b7e40-0d6c-4c38-9a7e-0e1f3c2b9d11")

# Closest-instance explanations, by the scheduler's rejection reason.
_WHY = {
    "RESOURCE:CPU": "has insufficient CPU units available",
    "RESOURCE:MEMORY": "has insufficient memory available",
    "RESOURCE:PORTS": "is already using a port required by your task",
    "RESOURCE:GPU": "has insufficient GPU available",
    "RESOURCE:ENI": "has insufficient network interfaces available",
    "ATTRIBUTE": "is missing an attribute required by your task",
    "AGENT": "encountered error \"AGENT\"",
}


def _prefix(name: str) -> str:
    return f"(service {name})"


def _tasks(task_ids: Sequence[str]) -> str:
    return " ".join(f"(task {t})" for t in task_ids)


def started(name: str, task_ids: Sequence[str]) -> str:
    return f"{_prefix(name)} has started {len(task_ids)} tasks: {_tasks(task_ids)}."


def placed(name: str, task_ids: Sequence[str]) -> str:
    """Tasks that waited in PROVISIONING found an instance (portside's wording)."""
    return f"{_prefix(name)} has placed {len(task_ids)} provisioning tasks: {_tasks(task_ids)}."


def stopped(name: str, task_ids: Sequence[str]) -> str:
    return f"{_prefix(name)} has stopped {len(task_ids)} running tasks: {_tasks(task_ids)}."


def steady(name: str) -> str:
    return f"{_prefix(name)} has reached a steady state."


def deployment_completed(name: str, deployment_id: str) -> str:
    return f"{_prefix(name)} (deployment {deployment_id}) deployment completed."


def deployment_failed(name: str, deployment_id: str) -> str:
    return f"{_prefix(name)} (deployment {deployment_id}) deployment failed: tasks failed to start."


def deployment_stopped(name: str, deployment_id: str) -> str:
    return f"{_prefix(name)} (deployment {deployment_id}) deployment stopped: rolling back (StopServiceDeployment)."


def throttled(name: str) -> str:
    return f"{_prefix(name)} is unable to consistently start tasks successfully. {TROUBLESHOOTING}"


def unhealthy(name: str, task_id: str) -> str:
    return f"{_prefix(name)} (task {task_id}) failed container health checks."


def unable_to_place(name: str, closest_instance_id: str | None, reason: str | None) -> str:
    """ECS's message for a task no instance could take, naming the closest instance."""
    head = (
        f"{_prefix(name)} was unable to place a task because no container instance met all "
        "of its requirements."
    )
    if closest_instance_id is None:
        return f"{head} Reason: No Container Instances were found in your cluster. {TROUBLESHOOTING}"
    why = _WHY.get(reason or "", f"is not suitable ({reason})" if reason else "is not suitable")
    return f"{head} The closest matching (container-instance {closest_instance_id}) {why}. " + (
        TROUBLESHOOTING
    )


def is_steady(svc: Service, message: str) -> bool:
    return message == steady(svc.service_name)


def should_write(svc: Service, message: str, now: datetime) -> bool:
    """Whether ``message`` is news (see the module docstring)."""
    if is_steady(svc, message):
        newest = svc.events[0] if svc.events else None
        return newest is None or newest.message != message or now - newest.created_at >= (
            REPEAT_AFTER
        )
    started_prefix = f"{_prefix(svc.service_name)} has started "
    for e in svc.events:  # newest first
        if now - e.created_at >= REPEAT_AFTER or e.message.startswith(started_prefix):
            return True
        if e.message == message:
            return False
    return True


def next_repeat(svc: Service, now: datetime) -> datetime | None:
    """When the newest event, if it is a steady state, may be written again."""
    if svc.events and is_steady(svc, svc.events[0].message):
        return svc.events[0].created_at + REPEAT_AFTER
    return None


def new_events(svc: Service, now: datetime, messages: Sequence[str]) -> tuple[ServiceEvent, ...]:
    """Events for ``messages`` (oldest first), with deterministic ids."""
    return tuple(
        ServiceEvent(
            id=str(uuid.uuid5(_EVENT_IDS, f"{svc.service_arn}|{now.isoformat()}|{i}|{m}")),
            created_at=now,
            message=m,
        )
        for i, m in enumerate(messages)
    )


def with_events(svc: Service, now: datetime, messages: Sequence[str]) -> tuple[ServiceEvent, ...]:
    """The service's events with ``messages`` added: newest first, at most 100."""
    fresh = new_events(svc, now, messages)
    return (tuple(reversed(fresh)) + svc.events)[:MAX_EVENTS]

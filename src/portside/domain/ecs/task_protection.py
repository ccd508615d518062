"""Task scale-in protection: UpdateTaskProtection and GetTaskProtection.

A service's task may ask not to be stopped by scale-in — the desired count
lowered, or a deployment replacing it — while it does work it should finish
(Developer Guide, "Protect your Amazon ECS tasks from being terminated by
scale-in events"). Protection is stored as the moment it lapses
(``Task.protected_until``) and read against a clock (``Task.protected``): ECS
"clears" protection when it expires, and a deadline that is simply passed
needs no write to clear and reads the same on the simulator's clock as on the
wall clock. The service controller skips protected tasks when it chooses
what to stop (controllers/replica.py); nothing else honours protection — a
task failing its health checks, on a lost instance, or stopped by StopTask
stops as before.

Per task, as ECS answers: ``MISSING`` for a task the cluster does not have,
``TASK_NOT_VALID`` for a standalone task (protection means something only to
a service), ``TASK_STOPPING_OR_STOPPED`` when updating a task on its way out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.clusters import get_cluster
from portside.domain.ecs.model import Failure
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_state import AccessDeniedException
from portside.domain.ecs.tasks import find_task, task_arn
from portside.domain.errors import InvalidParameterException
from portside.domain.scope import Scope
from portside.store.store import Store

DEFAULT_MINUTES = 120
"""Protection without ``expiresInMinutes`` lasts two hours."""
MAX_MINUTES = 2880
UPDATE_LIMIT = 10
GET_LIMIT = 100

MISSING = "MISSING"
NOT_VALID = "TASK_NOT_VALID"
NOT_VALID_DETAIL = "The task is not part of a service: only a service's tasks can be protected."
STOPPING = "TASK_STOPPING_OR_STOPPED"


@dataclass(frozen=True, slots=True)
class ProtectedTask:
    """ECS's ProtectedTask shape."""

    task_arn: str
    protection_enabled: bool
    expiration_date: datetime | None = None


def state_of(task: Task, now: datetime) -> ProtectedTask:
    """A task's protection as ECS shows it: an expired deadline reads as unprotected."""
    if task.last_status != "STOPPED" and task.protected(now):
        return ProtectedTask(task.task_arn, True, task.protected_until)
    return ProtectedTask(task.task_arn, False)


def update_task_protection(
    store: Store, scope: Scope, now: datetime, *, cluster: str, tasks: Sequence[str],
    protection_enabled: bool, expires_in_minutes: int | None = None,
    instance: str | None = None,
) -> tuple[list[ProtectedTask], list[Failure]]:  # fmt: skip
    """Protect (until now + the minutes) or unprotect each task; ``instance`` limits an agent."""
    if not 1 <= len(tasks) <= UPDATE_LIMIT:
        raise InvalidParameterException(f"tasks must name 1 to {UPDATE_LIMIT} tasks.")
    minutes = DEFAULT_MINUTES if expires_in_minutes is None else expires_in_minutes
    if protection_enabled and not 1 <= minutes <= MAX_MINUTES:
        raise InvalidParameterException(
            f"expiresInMinutes must be between 1 and {MAX_MINUTES} minutes."
        )
    until = now + timedelta(minutes=minutes) if protection_enabled else None
    c = get_cluster(store, scope, cluster)
    done: list[ProtectedTask] = []
    failures: list[Failure] = []
    changed: list[Task] = []
    for ref in tasks:
        t = _lookup(store, scope, c, ref, instance)
        if isinstance(t, Failure):
            failures.append(t)
        elif t.desired_status == "STOPPED" or t.last_status == "STOPPED":
            failures.append(Failure(arn=t.task_arn, reason=STOPPING))
        else:
            changed.append(dataclasses.replace(t, protected_until=until))
            done.append(state_of(changed[-1], now))
    if changed:
        store.commit(changed)
    return done, failures


def get_task_protection(
    store: Store, scope: Scope, now: datetime, *, cluster: str,
    tasks: Sequence[str] | None = None, instance: str | None = None,
) -> tuple[list[ProtectedTask], list[Failure]]:  # fmt: skip
    if len(tasks or ()) > GET_LIMIT:
        raise InvalidParameterException(f"tasks can name at most {GET_LIMIT} tasks.")
    c = get_cluster(store, scope, cluster)
    found: list[ProtectedTask] = []
    failures: list[Failure] = []
    for ref in tasks or ():
        t = _lookup(store, scope, c, ref, instance)
        if isinstance(t, Failure):
            failures.append(t)
        else:
            found.append(state_of(t, now))
    return found, failures


def _lookup(
    store: Store, scope: Scope, c: Cluster, ref: str, instance: str | None
) -> Task | Failure:
    """The task ``ref`` names, or the failure ECS reports for it."""
    t = find_task(store, scope, c, ref)
    if t is None:
        return Failure(arn=task_arn(scope, c, ref), reason=MISSING)
    if instance is not None and t.container_instance_arn != instance:
        raise AccessDeniedException(
            f"An agent key of {instance} cannot act on task {t.task_arn}: it runs elsewhere."
        )
    if t.service_arn is None:
        return Failure(arn=t.task_arn, reason=NOT_VALID, detail=NOT_VALID_DETAIL)
    return t

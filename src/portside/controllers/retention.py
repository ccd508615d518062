"""Retention: when STOPPED tasks and deleted task definition revisions are forgotten.

    decide(snapshot, now, retention) -> Retention

ECS keeps a STOPPED task describable "for at least one hour" (DescribeTasks);
after that it is gone from DescribeTasks and ListTasks. A task definition
revision submitted for deletion stays DELETE_IN_PROGRESS "until all the
associated tasks and services have been terminated": ECS "periodically
verifies that the target task definition is not being referenced by any
active tasks or deployments, and then deletes [it] permanently".

A pass gives:

- a Delete for every STOPPED task that stopped (``stoppedAt``, else its
  creation) more than ``retention`` ago;
- a Delete for every DELETE_IN_PROGRESS revision that no task short of STOPPED
  and no deployment of a service that is not INACTIVE references
  (``task_definitions.purgeable``);
- ``wake_at``: when the next STOPPED task is due (None when none waits).

Nothing is written while deciding: the live loop (runtime/retention.py)
commits the deletes at the revision it decided on, and the simulator
(sim/fleet.py) prunes with this same decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from portside.controllers.snapshot import Snapshot
from portside.domain.ecs.service import Service
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_definitions import purgeable
from portside.store.store import Delete

RETENTION = timedelta(hours=1)
"""How long ECS shows a STOPPED task (DescribeTasks: "at least one hour")."""
_TICK = timedelta(microseconds=1)
"""datetime's resolution: a task is due the first instant *after* its retention."""


@dataclass(frozen=True, slots=True)
class Retention:
    tasks: tuple[Delete, ...] = ()
    task_definitions: tuple[Delete, ...] = ()
    wake_at: datetime | None = None
    """When the next STOPPED task kept now is due."""

    def changes(self) -> list[Delete]:
        return [*self.tasks, *self.task_definitions]


def due_at(t: Task, retention: timedelta) -> datetime | None:
    """When a task is forgotten (None while it has not STOPPED)."""
    if t.last_status != "STOPPED":
        return None
    return (t.stopped_at or t.created_at) + retention + _TICK


def decide(snapshot: Snapshot, now: datetime, retention: timedelta = RETENTION) -> Retention:
    cutoff = now - retention
    gone: list[Delete] = []
    next_due: datetime | None = None
    in_use: set[str] = set()
    for t in snapshot.all(Task.KIND).values():
        if t.last_status != "STOPPED":
            in_use.add(t.task_definition_arn)
            continue
        stamp = t.stopped_at or t.created_at
        if stamp < cutoff:
            gone.append(Delete(Task.KIND, t.task_arn))
        else:
            due = stamp + retention + _TICK
            next_due = due if next_due is None or due < next_due else next_due
    for s in snapshot.all(Service.KIND).values():
        if s.status != "INACTIVE":
            in_use.add(s.task_definition)
            in_use.update(d.task_definition for d in s.deployments)
    return Retention(tuple(gone), tuple(purgeable(snapshot, in_use)), next_due)

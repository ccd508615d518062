"""The retention loop: forget STOPPED tasks and deleted task definitions when due.

Runs ``controllers.retention.decide`` on the store and commits its deletes at
the revision it decided on (a ConflictError means the store moved: decide
again). A pass reads every task, so the loop does not run on every change: it
sleeps until the next STOPPED task is due — the decision's ``wake_at``, or a
task that stopped since (the store listener notes when it will be due) — or
until a task definition is submitted for deletion or a service changes, at
most once a second, and at least every ``CHECK_EVERY`` (ECS "periodically
verifies" a DELETE_IN_PROGRESS revision is no longer referenced).

Settings (environment): ``PORTSIDE_TASK_RETENTION``, seconds a STOPPED task
stays describable (ECS's one hour by default; shorten it for tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from portside.api.app import App
from portside.controllers.retention import RETENTION, decide, due_at
from portside.domain.ecs.service import Service
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_definition import DELETE_IN_PROGRESS, TaskDefinition
from portside.store.store import ConflictError, Store

log = logging.getLogger("portside.retention")

CHECK_EVERY = 60.0
MIN_INTERVAL = 1.0
"""Seconds between passes at most once a second, however busy the store is."""


def retention_from_env() -> timedelta:
    raw = os.environ.get("PORTSIDE_TASK_RETENTION")
    try:
        return timedelta(seconds=float(raw)) if raw else RETENTION
    except ValueError:
        log.warning("PORTSIDE_TASK_RETENTION=%r is not a number of seconds; using %s", raw,
                    RETENTION)  # fmt: skip
        return RETENTION


class Retainer:
    """What the next pass is waiting for, and one pass."""

    def __init__(self, store: Store, retention: timedelta):
        self.store = store
        self.retention = retention
        self.next: datetime | None = None
        """When the next STOPPED task is due (None: none is waiting)."""
        self.dirty = True
        """A pass is wanted now (start-up, a definition deleted, a reference dropped)."""
        self.deleting = True
        """Some revision is DELETE_IN_PROGRESS, so dropped references matter."""
        self.last_pass: datetime | None = None
        self.wakeup = asyncio.Event()
        store.subscribe(self.note)

    def note(self, changes: Sequence[Any]) -> None:
        """Store listener: note when a task that STOPPED is due, and what frees a definition."""
        for c in changes:
            if isinstance(c, Task):
                due = due_at(c, self.retention)
                if due is not None and (self.next is None or due < self.next):
                    self.next = due
                    self.wakeup.set()
                if due is not None and self.deleting:
                    self.dirty = True
                    self.wakeup.set()
            elif isinstance(c, TaskDefinition) and c.status == DELETE_IN_PROGRESS:
                self.deleting = self.dirty = True
                self.wakeup.set()
            elif isinstance(c, Service) and self.deleting:
                self.dirty = True
                self.wakeup.set()

    def due(self, now: datetime) -> bool:
        return (
            self.dirty
            or (self.next is not None and self.next <= now)
            or self.last_pass is None
            or (now - self.last_pass).total_seconds() >= CHECK_EVERY
        )

    def run_once(self, now: datetime) -> int:
        """Decide and commit; returns how many resources were forgotten."""
        self.dirty, self.last_pass = False, now
        revision = self.store.revision
        d = decide(self.store, now, self.retention)
        self.next = d.wake_at
        changes = d.changes()
        if changes:
            try:
                self.store.commit(changes, expected_revision=revision)
            except ConflictError:
                self.dirty = True
                raise
            log.info("forgot %d STOPPED tasks and %d deleted task definition revisions",
                     len(d.tasks), len(d.task_definitions))  # fmt: skip
        self.deleting = any(
            td.status == DELETE_IN_PROGRESS for td in self.store.all(TaskDefinition.KIND).values()
        )
        return len(changes)

    def timeout(self, now: datetime) -> float:
        """Seconds until the next pass is due without any news."""
        wait = CHECK_EVERY
        if self.last_pass is not None:
            wait -= (now - self.last_pass).total_seconds()
        if self.next is not None:
            wait = min(wait, (self.next - now).total_seconds())
        return max(0.0, wait)


async def run(app: App, stop: asyncio.Event) -> None:
    """The component: a pass whenever one is due, at most every MIN_INTERVAL seconds."""
    rec = Retainer(app.store, retention_from_env())
    while not stop.is_set():
        rec.wakeup.clear()
        now = datetime.now(UTC)
        if rec.due(now):
            try:
                rec.run_once(now)
            except ConflictError:
                log.warning("the store moved under the retention pass; deciding again")
            except Exception:
                log.exception("retention pass failed; retrying")
                rec.dirty = True
            await asyncio.sleep(MIN_INTERVAL)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(either_set(rec.wakeup, stop), rec.timeout(datetime.now(UTC)))


async def either_set(a: asyncio.Event, b: asyncio.Event) -> None:
    """Wait until either event is set (a loop's wake-up or its stop)."""
    waits = [asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()

"""controllers/retention.decide: which STOPPED tasks and deleted revisions are forgotten."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from portside.controllers.retention import RETENTION, decide, due_at
from portside.controllers.snapshot import MemorySnapshot
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_definition import DELETE_IN_PROGRESS, INACTIVE
from portside.store.store import Delete
from tests.unit.controllers.world import HOUR, NOW, service, task, taskdef, td_arn

MINUTE = timedelta(minutes=1)
TICK = timedelta(microseconds=1)


def stopped(minutes_ago: float, rev: int = 1) -> Task:
    at = NOW - timedelta(minutes=minutes_ago)
    return task(
        rev=rev, status="STOPPED", desired="STOPPED", stopped_at=at, stop_code="UserInitiated"
    )


def deleted(rev: int) -> object:
    return dataclasses.replace(taskdef(rev), status=DELETE_IN_PROGRESS)


def forgotten(snapshot: MemorySnapshot, retention: timedelta = RETENTION) -> set[str]:
    return {d.key for d in decide(snapshot, NOW, retention).tasks}


def test_ecs_keeps_a_stopped_task_for_an_hour() -> None:
    assert RETENTION == HOUR  # DescribeTasks: "stopped tasks appear ... for at least one hour"


def test_a_stopped_task_goes_once_its_retention_has_passed() -> None:
    old, young, running = stopped(61), stopped(59), task()
    snap = MemorySnapshot([old, young, running])
    assert forgotten(snap) == {old.task_arn}
    d = decide(snap, NOW, RETENTION)
    assert d.tasks == (Delete("task", old.task_arn),)
    # The young one is due one microsecond after exactly an hour: the next wake-up.
    assert young.stopped_at is not None
    assert d.wake_at == young.stopped_at + HOUR + TICK


def test_exactly_at_the_retention_a_task_is_kept() -> None:
    t = stopped(60)
    assert forgotten(MemorySnapshot([t])) == set()
    assert due_at(t, RETENTION) == NOW + TICK
    assert {d.key for d in decide(MemorySnapshot([t]), NOW + TICK).tasks} == {t.task_arn}


def test_tasks_short_of_stopped_are_never_forgotten() -> None:
    old = NOW - 10 * HOUR
    keep = [
        task(created=old, started=old),
        task(status="PENDING", created=old, started=None),
        task(status="RUNNING", desired="STOPPED", created=old, started=old),
        task(status="PROVISIONING", inst=None, created=old, started=None),
    ]
    snap = MemorySnapshot(keep)
    assert forgotten(snap) == set()
    assert decide(snap, NOW).wake_at is None
    assert all(due_at(t, RETENTION) is None for t in keep)


def test_a_stopped_task_without_a_stop_time_counts_from_its_creation() -> None:
    t = dataclasses.replace(stopped(0), stopped_at=None, created_at=NOW - 2 * HOUR)
    assert forgotten(MemorySnapshot([t])) == {t.task_arn}


def test_the_retention_period_is_a_parameter() -> None:
    t = stopped(3)
    assert forgotten(MemorySnapshot([t]), timedelta(minutes=2)) == {t.task_arn}
    assert forgotten(MemorySnapshot([t]), timedelta(minutes=5)) == set()


def test_a_deleted_revision_goes_when_nothing_references_it() -> None:
    snap = MemorySnapshot([deleted(1), deleted(2), taskdef(3)])
    got = decide(snap, NOW)
    assert {d.key for d in got.task_definitions} == {td_arn(1), td_arn(2)}
    assert got.changes() == [*got.tasks, *got.task_definitions]


def test_a_task_short_of_stopped_keeps_its_deleted_revision() -> None:
    snap = MemorySnapshot([deleted(1), task(rev=1)])
    assert decide(snap, NOW).task_definitions == ()


def test_a_stopped_task_does_not_keep_its_deleted_revision() -> None:
    t = stopped(5, rev=1)
    got = decide(MemorySnapshot([deleted(1), t]), NOW)
    assert got.task_definitions == (Delete("task_definition", td_arn(1)),)
    assert got.tasks == ()  # the task itself stays describable for its hour


def test_a_deployment_keeps_its_deleted_revision_until_the_service_is_inactive() -> None:
    svc = service(desired=0)  # its primary deployment runs revision 1
    assert decide(MemorySnapshot([deleted(1), svc]), NOW).task_definitions == ()
    gone = dataclasses.replace(svc, status="INACTIVE")
    assert decide(MemorySnapshot([deleted(1), gone]), NOW).task_definitions == (
        Delete("task_definition", td_arn(1)),
    )


def test_inactive_revisions_are_not_deleted() -> None:
    snap = MemorySnapshot([dataclasses.replace(taskdef(1), status=INACTIVE)])
    assert decide(snap, NOW).task_definitions == ()

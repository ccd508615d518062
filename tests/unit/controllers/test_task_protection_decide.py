"""Scale-in protection in decide(): protected tasks are skipped by scale-in and deployments."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.unit.controllers.world import (
    NOW,
    dep_id,
    deployment,
    instance,
    run,
    service,
    task,
    world,
)

MINUTE = timedelta(minutes=1)


def test_scale_in_stops_the_unprotected_task_and_keeps_the_protected_one() -> None:
    guarded = replace(task(inst=1), protected_until=NOW + 60 * MINUTE)
    other = task(inst=1)
    # the guarded task is the newer: without protection it would be the one chosen
    guarded = replace(guarded, created_at=other.created_at + MINUTE)
    d = run(world(service(1), instance(1), other, guarded))
    assert [t.task_arn for t in d.stop] == [other.task_arn]


def test_protected_surplus_stays_until_its_protection_lapses() -> None:
    lapse = NOW + 30 * MINUTE
    tasks = [replace(task(inst=1), protected_until=lapse + i * MINUTE) for i in range(2)]
    snap = world(service(1), instance(1), *tasks)
    d = run(snap)
    assert not d.stop and d.wake_at == lapse
    later = run(snap, lapse)
    assert [t.task_arn for t in later.stop] == [tasks[0].task_arn]


def test_expired_protection_protects_nothing() -> None:
    old = task(inst=1)
    lapsed = replace(task(inst=1), protected_until=NOW - MINUTE, created_at=old.created_at + MINUTE)
    d = run(world(service(1), instance(1), old, lapsed))
    assert [t.task_arn for t in d.stop] == [lapsed.task_arn]  # the newest, as without protection


def test_a_deployment_waits_for_a_protected_old_task() -> None:
    deps = (deployment(2, 2, desired=2), deployment(1, 1, "ACTIVE", "COMPLETED"))
    lapse = NOW + 10 * MINUTE
    guarded = replace(task(1, 1, inst=1), protected_until=lapse)
    free = task(1, 1, inst=1)
    new = [task(2, 2, inst=1) for _ in range(2)]
    snap = world(service(2, deployments=deps), instance(1, memory=8192), guarded, free, *new)
    d = run(snap)
    assert [t.task_arn for t in d.stop] == [free.task_arn]
    assert d.wake_at == lapse
    assert d.service is not None and d.service.deployments[0].rollout_state == "IN_PROGRESS"
    old = next(x for x in d.service.deployments if x.id == dep_id(1))
    assert old.status == "ACTIVE"  # its protected task keeps it in the list
    after = run(snap, lapse)
    assert {t.task_arn for t in after.stop} == {guarded.task_arn, free.task_arn}


def test_removing_protection_lets_the_deployment_finish() -> None:
    deps = (deployment(2, 2, desired=1), deployment(1, 1, "ACTIVE", "COMPLETED"))
    guarded = replace(task(1, 1, inst=1), protected_until=NOW + 10 * MINUTE)
    snap = world(service(1, deployments=deps), instance(1), guarded, task(2, 2, inst=1))
    assert not run(snap).stop
    snap.put(replace(guarded, protected_until=None))
    assert [t.task_arn for t in run(snap).stop] == [guarded.task_arn]


def test_protection_does_not_keep_a_task_on_a_draining_instance() -> None:
    guarded = replace(task(inst=1), protected_until=NOW + 10 * MINUTE)
    snap = world(service(1), instance(1, status="DRAINING"), instance(2), guarded, task(inst=2))
    assert [t.task_arn for t in run(snap).stop] == [guarded.task_arn]

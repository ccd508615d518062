"""Managed scaling decisions on hand-built worlds: ECS's documented cases, exactly."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from portside.controllers.capacity import SCALE_IN_AFTER, CapacityDecision, decide
from portside.controllers.capacity_model import (
    IN_SERVICE,
    PENDING,
    TERMINATING,
    TERMINATING_WAIT,
    ScalingState,
)
from portside.controllers.snapshot import MemorySnapshot
from portside.domain.ecs.task_definition import TaskDefinition
from tests.sim.world import (
    CP,
    M5_LARGE,
    NOW,
    PREFIX,
    group,
    instance,
    provider,
    service,
    task,
    world,
)


def _apply(snap: MemorySnapshot, d: CapacityDecision) -> None:
    for change in d.changes():
        snap.put(change)


def test_walkthrough_ten_tasks_need_five_and_six_running_is_83_percent() -> None:
    # 10 tasks of 1 vCPU / 2 GiB, binpacked two per m5.large on 5 of 6 instances.
    svc = service(10)
    insts = [instance(n) for n in range(6)]
    tasks = [task(n // 2, svc=svc) for n in range(10)]
    snap = world(group(6), svc, *insts, *tasks, prov=provider(target=80))
    d = decide(snap, CP, NOW)
    assert (d.needed, d.running) == (5, 6)
    assert round(d.reservation or 0) == 83
    # 83 % is above the 80 % target: target tracking adds one (6 * 83.3 / 80 = 6.25 -> 7);
    # nothing is scaled in.
    assert [a.action for a in d.activities] == ["scale-out"]
    assert d.group is not None and d.group.desired_capacity == 7
    assert "83.3 % is above the target 80 %" in d.activities[0].cause
    assert not any(i.lifecycle_state in (TERMINATING, TERMINATING_WAIT) for i in d.instances)


def test_walkthrough_ten_waiting_tasks_need_five_instances() -> None:
    snap = world(group(0), service(10), prov=provider(target=80))
    d = decide(snap, CP, NOW)
    assert (d.needed, d.running, d.waiting, d.reservation) == (5, 0, 10, 200.0)


def test_a_group_at_zero_with_waiting_tasks_launches_two() -> None:
    snap = world(group(0), service(3))
    d = decide(snap, CP, NOW)
    assert d.reservation == 200.0
    assert d.group is not None and d.group.desired_capacity == 2
    a = d.activities[0]
    assert (a.action, a.capacity_from, a.capacity_to, a.metric) == (
        "scale-out", 0, 2, "CapacityProviderReservation"
    )


def test_nothing_to_do_nothing_running_is_100_percent() -> None:
    d = decide(world(group(0)), CP, NOW)
    assert d.reservation == 100.0
    assert d.group is None and not d.activities


def test_a_task_larger_than_the_instance_type_is_left_out_and_explained() -> None:
    big = service(2, name="big")
    snap = world(group(0), big, service(4))
    # give "big" its own task definition, asking for more than an m5.large has
    huge = TaskDefinition(f"{PREFIX}:task-definition/big:1", "big", 1, NOW,
                          container_definitions=({"name": "a", "image": "a", "cpu": 4096,
                                                  "memory": 1024},), network_mode="bridge")
    snap.put(huge)
    dep = dataclasses.replace(big.deployments[0], task_definition=huge.task_definition_arn)
    snap.put(dataclasses.replace(big, task_definition=huge.task_definition_arn, deployments=(dep,)))
    d = decide(snap, CP, NOW)
    assert d.waiting == 4  # only the tasks that fit count
    assert d.needed == 2  # 4 tasks of 1 vCPU: 2 instances
    [unfit] = d.unfit
    assert (unfit.count, unfit.reason) == (2, "RESOURCE:CPU")
    assert unfit.detail == "a task needs 4096 CPU units; m5.large registers 2048"
    assert unfit.services == (big.service_arn,)


def test_warming_instances_do_not_count_and_are_not_ordered_twice() -> None:
    svc = service(8)
    fresh = [instance(n, age=timedelta(seconds=60)) for n in range(2)]  # in warm-up
    tasks = [task(0, svc=svc), task(1, svc=svc)]
    d = decide(world(group(2), svc, *fresh, *tasks), CP, NOW)
    assert d.running == 0 and d.warming == 2
    # 6 waiting tasks need 3 more instances: M = 2 busy + 3 = 5, N = 0 -> 200 %;
    # from N = 0 target tracking wants 2, which the 2 warming instances already are
    assert (d.needed, d.reservation) == (5, 200.0)
    assert d.group is None


def test_scale_in_waits_fifteen_minutes_below_target() -> None:
    svc = service(2)
    insts = [instance(n) for n in range(4)]
    tasks = [task(0, svc=svc), task(0, svc=svc)]
    snap = world(group(4), svc, *insts, *tasks)
    first = decide(snap, CP, NOW)
    assert first.reservation == 25.0  # 1 busy of 4
    assert first.group is None and first.state is not None
    assert first.state.below_target_since == NOW
    _apply(snap, first)
    for minute in range(1, 15):
        d = decide(snap, CP, NOW + timedelta(minutes=minute))
        assert d.group is None, f"scaled in after {minute} minutes"
        _apply(snap, d)
    d = decide(snap, CP, NOW + SCALE_IN_AFTER)
    assert d.group is not None and d.group.desired_capacity == 1
    [a] = [a for a in d.activities if a.action == "scale-in"]
    assert (a.capacity_from, a.capacity_to) == (4, 1)
    assert "below the target 100 % for 15 minutes" in a.cause
    gone = {i.instance_id for i in d.instances if i.lifecycle_state == TERMINATING}
    assert insts[0][0].instance_id not in gone  # the busy one stays
    assert len(gone) == 3


def test_scale_in_never_terminates_a_protected_instance() -> None:
    svc = service(3)
    insts = [instance(n) for n in range(4)]
    tasks = [task(0, svc=svc), task(1, svc=svc), task(2, svc=svc)]
    snap = world(group(4), svc, *insts, *tasks)
    snap.put(ScalingState(CP, NOW, below_target_since=NOW - timedelta(minutes=20)))
    d = decide(snap, CP, NOW)
    # managed termination protection: the three busy instances are protected
    protected = {i.instance_id for i in d.instances if i.protected_from_scale_in}
    assert protected == {insts[n][0].instance_id for n in range(3)}
    terminated = [i for i in d.instances if i.lifecycle_state == TERMINATING]
    assert [i.instance_id for i in terminated] == [insts[3][0].instance_id]
    assert d.group is not None and d.group.desired_capacity == 3


def test_without_termination_protection_a_busy_instance_is_drained_first() -> None:
    svc = service(1)
    insts = [instance(n, age=timedelta(hours=5 - n)) for n in range(2)]  # instance 0 is oldest
    snap = world(group(2), svc, *insts, task(0, svc=svc), prov=provider(target=100,
                 protection=False))  # fmt: skip
    snap.put(ScalingState(CP, NOW, below_target_since=NOW - timedelta(minutes=20)))
    d = decide(snap, CP, NOW)
    # M = 1, N = 2: the group goes to 1; its termination policy picks the oldest — the busy
    # one — and managed draining drains it before it goes
    [victim] = [i for i in d.instances if i.lifecycle_state == TERMINATING_WAIT]
    assert victim.instance_id == insts[0][0].instance_id
    assert [c.status for c in d.container_instances] == ["DRAINING"]


def test_a_scale_out_cancels_a_scale_in() -> None:
    svc = service(6)
    keep = [instance(n) for n in range(2)]
    gi, ci = instance(2, status="DRAINING", state=TERMINATING_WAIT)
    tasks = [task(0, svc=svc), task(0, svc=svc), task(1, svc=svc), task(1, svc=svc),
             task(2, svc=svc)]  # fmt: skip
    # 6 wanted, 5 exist (one on the draining instance, to be replaced): 2 waiting
    d = decide(world(group(2), svc, *keep, (gi, ci), *tasks), CP, NOW)
    assert d.reservation is not None and d.reservation > 100
    back = [i for i in d.instances if i.instance_id == gi.instance_id]
    assert back and back[0].lifecycle_state == IN_SERVICE
    assert [c.status for c in d.container_instances] == ["ACTIVE"]
    assert d.activities[0].action == "cancel-scale-in"


def test_a_drained_instance_is_let_go() -> None:
    gi, ci = instance(0, status="DRAINING", state=TERMINATING_WAIT)
    d = decide(world(group(0), (gi, ci), instance(1)), CP, NOW)
    [done] = [i for i in d.instances if i.instance_id == gi.instance_id]
    assert done.lifecycle_state == TERMINATING
    assert any(a.action == "terminate" for a in d.activities)


def test_daemon_tasks_do_not_keep_an_instance() -> None:
    daemon = service(0, name="agent", daemon=True)
    insts = [instance(n) for n in range(2)]
    d = decide(world(group(2), daemon, *insts, task(0, svc=daemon), task(1, svc=daemon)), CP, NOW)
    assert (d.needed, d.running, d.reservation) == (0, 2, 0.0)


def test_steps_are_bounded_and_a_mixed_group_steps_by_the_minimum() -> None:
    big = service(40)
    snap = world(group(0), big, prov=provider(max_step=3))
    d = decide(snap, CP, NOW)
    assert d.needed == 3  # 20 instances of work, bounded to 3
    mixed = world(group(0, zones=("us-east-1a", "us-east-1b")), big,
                  prov=provider(min_step=2))  # fmt: skip
    d = decide(mixed, CP, NOW)
    assert d.group is not None and d.group.desired_capacity == 2
    assert "steps by exactly minimumScalingStepSize (2)" in d.activities[0].cause


def test_max_size_caps_a_scale_out() -> None:
    d = decide(world(group(0, max_size=1), service(10)), CP, NOW)
    assert d.group is not None and d.group.desired_capacity == 1
    assert "capped at MaxSize 1" in d.activities[0].cause


def test_pending_launches_count_as_capacity() -> None:
    gi, _ = instance(0, state=PENDING, age=timedelta(seconds=10))
    d = decide(world(group(2), service(2), gi), CP, NOW)
    assert d.group is None  # the group already wants 2 (one launching, one to launch)
    assert d.waiting == 2 and M5_LARGE.eni_slots == 2

"""Service tasks that wait in PROVISIONING for an Auto Scaling provider's capacity.

As in ECS: a task its provider has no room for is created PROVISIONING, with its
capacity provider and no container instance; managed scaling counts it (once);
it is placed when an instance of the provider fits it; a task no instance type
of the group can hold waits with the reason in the service events.
"""

from __future__ import annotations

import dataclasses

from portside.controllers import capacity
from portside.controllers.services import Decision, decide
from portside.controllers.snapshot import MemorySnapshot
from portside.domain.ecs.task_definition import TaskDefinition
from tests.sim.world import CP, NOW, PREFIX, TD, group, instance, service, world


def _apply(snap: MemorySnapshot, d: Decision) -> MemorySnapshot:
    for change in d.changes():
        snap.put(change)
    snap.revision += 1
    return snap


def _events(d: Decision) -> list[str]:
    assert d.service is not None
    return [e.message for e in d.service.events]


def test_unplaceable_tasks_are_created_provisioning_on_their_provider() -> None:
    svc = service(3)
    d = decide(world(group(0), svc), svc.service_arn, NOW)
    assert len(d.start) == 3 and not d.placed
    for t in d.start:
        assert (t.last_status, t.capacity_provider_name, t.container_instance_arn) == (
            "PROVISIONING", "cp", None
        )
    assert any(
        "unable to place a task" in m and "waits in PROVISIONING for capacity provider cp" in m
        for m in _events(d)
    )
    assert d.service is not None and d.service.pending_count == 3


def test_managed_scaling_counts_waiting_tasks_once() -> None:
    svc = service(10)
    snap = world(group(0), svc)
    before = capacity.decide(snap, CP, NOW)
    snap = _apply(snap, decide(snap, svc.service_arn, NOW))
    after = capacity.decide(snap, CP, NOW)
    # 10 tasks of 1 vCPU, 2 to an m5.large: the same 5 instances, whether the work is a
    # shortfall or tasks recorded in PROVISIONING
    assert (before.waiting, before.needed) == (10, 5)
    assert (after.waiting, after.needed, after.reservation) == (10, 5, 200.0)


def test_waiting_tasks_are_placed_when_capacity_appears_and_none_is_added() -> None:
    svc = service(3)
    snap = _apply(world(group(0), svc), decide(world(group(0), svc), svc.service_arn, NOW))
    waiting = {t.task_arn for t in snap.all("task").values()}
    for gi, ci in (instance(1), instance(2)):
        snap.put(gi)
        snap.put(ci)
    d = decide(snap, svc.service_arn, NOW)
    assert not d.start  # no new task: the waiting ones take the room
    assert {t.task_arn for t in d.placed} == waiting
    assert all(t.container_instance_arn is not None for t in d.placed)
    assert all(t.availability_zone == "us-east-1a" for t in d.placed)
    assert any("has placed 3 provisioning tasks" in m for m in _events(d))
    snap = _apply(snap, d)
    again = decide(snap, svc.service_arn, NOW)
    assert not again.start and not again.placed


def test_only_what_fits_is_placed_the_rest_keeps_waiting() -> None:
    svc = service(3)
    snap = _apply(world(group(0), svc), decide(world(group(0), svc), svc.service_arn, NOW))
    gi, ci = instance(1)  # room for 2 tasks of 1 vCPU
    snap.put(gi)
    snap.put(ci)
    d = decide(snap, svc.service_arn, NOW)
    assert len(d.placed) == 2 and not d.start
    left = [t for t in _apply(snap, d).all("task").values() if t.container_instance_arn is None]
    assert len(left) == 1 and left[0].last_status == "PROVISIONING"


def test_a_task_no_instance_type_can_hold_waits_with_the_reason() -> None:
    svc = service(2)
    snap = world(group(0), svc)
    snap.put(TaskDefinition(
        TD, "web", 1, NOW, network_mode="bridge",
        container_definitions=({"name": "a", "image": "a", "cpu": 1024, "memory": 16384},),
    ))  # fmt: skip
    d = decide(snap, svc.service_arn, NOW)
    assert [t.last_status for t in d.start] == ["PROVISIONING", "PROVISIONING"]
    assert any(
        "No instance type of capacity provider cp can hold it (RESOURCE:MEMORY: a task needs "
        "16384 MiB; m5.large registers 7985 MiB); it waits in PROVISIONING" in m
        for m in _events(d)
    )
    snap = _apply(snap, d)
    c = capacity.decide(snap, CP, NOW)
    assert c.waiting == 0 and [u.count for u in c.unfit] == [2]


def test_a_service_without_a_strategy_only_reports_it_cannot_place() -> None:
    svc = service(2)
    plain = dataclasses.replace(
        svc, capacity_provider_strategy=(), launch_type="EC2",
        deployments=(dataclasses.replace(svc.deployments[0], capacity_provider_strategy=(),
                                         launch_type="EC2"),),
    )  # fmt: skip
    d = decide(world(group(0), plain), plain.service_arn, NOW)
    assert not d.start
    assert any("was unable to place a task" in m for m in _events(d))
    assert f"{PREFIX}:" in plain.service_arn


def test_standalone_waiting_tasks_are_placed_oldest_first_as_room_allows() -> None:
    from portside.controllers import standalone
    from tests.sim.world import CLUSTER, task

    waiting = [task(None, status="PROVISIONING") for _ in range(3)]  # RunTask's, 1 vCPU each
    snap = world(group(1), *waiting)
    assert standalone.decide(snap, CLUSTER) == []  # no instance yet: they keep waiting
    gi, ci = instance(1)  # an m5.large: room for two
    snap.put(gi)
    snap.put(ci)
    placed = standalone.decide(snap, CLUSTER)
    assert [t.task_arn for t in placed] == [t.task_arn for t in waiting[:2]]
    assert {t.container_instance_arn for t in placed} == {ci.container_instance_arn}
    assert all(t.last_status == "PROVISIONING" and t.version == 2 for t in placed)

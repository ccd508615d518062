"""Filters and failures: every ECS reason, the closest instance, accounting within a batch."""

from __future__ import annotations

import pytest

from portside.domain.ecs.model import PortReservation
from portside.domain.errors import InvalidParameterException
from portside.scheduler.engine import place
from portside.scheduler.model import (
    AGENT,
    ATTRIBUTE,
    CPU,
    DISTINCT_INSTANCE,
    DYNAMIC_PORTS,
    ENI,
    GPU,
    MEMBER_OF,
    MEMORY,
    MISSING,
    PORTS,
    Constraint,
    InstanceState,
    RequiredAttribute,
    TaskRequest,
)
from portside.scheduler.trace import unplaced_event
from tests.unit.scheduler.build import inst, number, req

RANDOM = (("random", None),)


def only_reason(instance: InstanceState, task: TaskRequest) -> str:
    result = place([instance], [task], seed=1)
    assert result.placements == (None,)
    (failure,) = result.failures
    assert failure.arn == instance.arn
    return str(failure.reason)


REASONS = [
    # (instance, task, reason): 1024 cpu and 2048 MiB left unless said otherwise
    (inst(0, cpu=1024), req(cpu=1025), CPU),
    (inst(0, memory=2048), req(memory=2049), MEMORY),
    (inst(0, ports=frozenset({8080})), req(ports=(PortReservation(8080),)), PORTS),
    (inst(0, ports_udp=frozenset({53})), req(ports=(PortReservation(53, "udp"),)), PORTS),
    (inst(0, ports=frozenset(DYNAMIC_PORTS)), req(dynamic_ports=1), PORTS),
    (inst(0, gpus=("GPU-0",)), req(gpus=2), GPU),
    (inst(0, eni_slots=0), req(network_mode="awsvpc"), ENI),
    (inst(0, agent_connected=False), req(), AGENT),
    (inst(0), req(required_attributes=(RequiredAttribute("ecs.capability.efs"),)), ATTRIBUTE),
    (
        inst(0, attributes={"ecs.os-type": "linux"}),
        req(required_attributes=(RequiredAttribute("ecs.os-type", "windows"),)),
        ATTRIBUTE,
    ),
    (
        inst(0, groups={"family:web": 1}),
        req(constraints=(("distinctInstance", None),)),
        DISTINCT_INSTANCE,
    ),
    (inst(0), req(constraints=(("memberOf", "attribute:ecs.instance-type =~ g4.*"),)), MEMBER_OF),
]


@pytest.mark.parametrize(("instance", "task", "reason"), REASONS)
def test_each_reason(instance: InstanceState, task: TaskRequest, reason: str) -> None:
    assert only_reason(instance, task) == reason


def test_udp_and_tcp_ports_are_separate() -> None:
    instance = inst(0, ports=frozenset({53}))
    result = place([instance], [req(ports=(PortReservation(53, "udp"),))], seed=1)
    assert result.placed


def test_a_task_on_an_unlimited_instance_needs_no_eni_slot() -> None:
    assert place([inst(0)], [req(network_mode="awsvpc")], seed=1).placed


def test_draining_and_external_instances_take_no_tasks_and_are_not_failures() -> None:
    instances = [inst(0, status="DRAINING"), inst(1, external=True)]
    result = place(instances, [req(memory=1)], seed=1)
    assert result.placements == (None,)
    assert [(f.arn, f.reason) for f in result.failures] == [(None, MISSING)]
    # EXTERNAL tasks go only to external instances
    external = place(instances, [req(memory=1, launch_type="EXTERNAL")], seed=1)
    assert number(external.placed[0].instance_arn) == 1


def test_no_instances_is_missing() -> None:
    result = place([], [req()], seed=1)
    assert result.failures[0].reason == MISSING
    assert result.failures[0].detail == "No Container Instances were found in your cluster."
    assert result.trace.decision(0).reason == MISSING


def test_failures_list_each_instance_once_and_name_the_closest() -> None:
    # #0 lacks memory (stage RESOURCE:MEMORY), #1 is excluded by memberOf (a later stage:
    # it had the resources), #2's agent is gone (an early stage). Closest: #1.
    instances = [
        inst(0, memory=100),
        inst(1, kind="t3.micro"),
        inst(2, agent_connected=False),
    ]
    task = req(memory=512, constraints=(("memberOf", "attribute:ecs.instance-type == m5.xlarge"),))
    result = place(instances, [task, task], seed=1)
    assert result.unplaced == [0, 1]
    assert sorted((number(f.arn), f.reason) for f in result.failures) == [
        (0, MEMORY), (1, MEMBER_OF), (2, AGENT),
    ]  # fmt: skip
    decision = result.trace.decision(1)
    assert decision.reason == MEMBER_OF
    assert decision.closest is not None and number(decision.closest.instance_arn) == 1
    event = unplaced_event("api", decision.closest)
    assert event.startswith(
        "service api was unable to place a task because no container instance met all of its "
        "requirements. The closest matching container-instance 1 "
    )


def test_a_batch_accounts_for_each_placement_before_the_next() -> None:
    # 2048 MiB and port 80 free on one instance: the first task takes port 80 and 1024 MiB,
    # the second (same port) cannot go there any more.
    instances = [inst(0, memory=2048)]
    task = req(memory=1024, ports=(PortReservation(80),), strategies=RANDOM)
    result = place(instances, [task, task], seed=1)
    assert [p is not None for p in result.placements] == [True, False]
    assert result.failures[0].reason == PORTS


def test_dynamic_ports_are_handed_out_from_the_dynamic_range() -> None:
    # 49153 is taken already: the first task gets 8080 and 49154, 49155 (tcp), 49153 (udp);
    # the second 49156, 49157 (tcp) and 49154 (udp).
    start = DYNAMIC_PORTS.start
    instances = [inst(0, ports=frozenset({start}))]
    first = req(dynamic_ports=2, dynamic_ports_udp=1, ports=(PortReservation(8080),))
    second = req(dynamic_ports=2, dynamic_ports_udp=1)
    result = place(instances, [first, second], seed=1)
    a, b = (p.reservation.ports for p in result.placed)
    assert a == (
        PortReservation(8080), PortReservation(start + 1), PortReservation(start + 2),
        PortReservation(start, "udp"),
    )  # fmt: skip
    assert b == (
        PortReservation(start + 3), PortReservation(start + 4), PortReservation(start + 1, "udp"),
    )  # fmt: skip


def test_gpus_are_assigned_by_id() -> None:
    result = place([inst(0, gpus=("GPU-a", "GPU-b", "GPU-c"))], [req(gpus=2), req(gpus=1)], 1)
    assert [p.reservation.gpus for p in result.placed] == [("GPU-a", "GPU-b"), ("GPU-c",)]


def test_distinct_instance_spreads_a_batch_and_counts_existing_tasks() -> None:
    # #0 already runs a family:web task; 3 more with distinctInstance on 3 instances: #1, #2,
    # then nothing is left.
    instances = [inst(0, groups={"family:web": 1}), inst(1), inst(2)]
    task = req(memory=1, constraints=(("distinctInstance", None),))
    result = place(instances, [task] * 3, seed=5)
    assert sorted(number(p.instance_arn) for p in result.placed) == [1, 2]
    assert result.trace.decision(2).reason == DISTINCT_INSTANCE


def test_member_of_task_group_sees_the_batchs_own_placements() -> None:
    # "next to the database": the db task lands on #1 (binpack: least memory), then the
    # app's memberOf(task:group == family:db) admits only #1.
    instances = [inst(0, memory=8192), inst(1, memory=4096), inst(2, memory=8192)]
    db = req(memory=1024, group="family:db", strategies=(("binpack", "memory"),))
    app = req(memory=1024, group="family:app",
              constraints=(("memberOf", "task:group == family:db"),))  # fmt: skip
    for trace in ("full", "summary"):
        result = place(instances, [app, db, app], seed=1, trace=trace)
        assert result.placements[0] is None
        assert [number(p.instance_arn) for p in result.placed] == [1, 1]


def test_trace_full_lists_every_instance() -> None:
    instances = [inst(0, memory=100), inst(1), inst(2, status="DRAINING")]
    result = place(instances, [req(memory=512, strategies=(("binpack", "memory"),))], 1)
    d = result.trace.decision(0)
    assert number(d.instance_arn) == 1
    assert {(number(r.instance_arn), r.reason) for r in d.rejections} == {
        (0, MEMORY), (2, "STATUS"),
    }  # fmt: skip
    assert [(number(s.instance_arn), s.keys) for s in d.scores] == [
        (1, (("binpack(memory)", 8192),))
    ]
    text = result.trace.explain(0)
    assert "placed on" in text and "RESOURCE:MEMORY 1" in text


def test_trace_summary_counts_rejections() -> None:
    instances = [inst(i, kind="t3.micro" if i % 2 else "m5.xlarge") for i in range(10)]
    task = req(memory=1, constraints=(("memberOf", "attribute:ecs.instance-type == m5.xlarge"),),
               strategies=(("spread", "attribute:ecs.availability-zone"),))  # fmt: skip
    result = place(instances, [task] * 4, seed=1, trace="summary")
    d = result.trace.decision(3)
    assert dict(d.rejected)[MEMBER_OF] == 5
    assert not d.complete and d.buckets
    assert "spread ecs.availability-zone=" in result.trace.explain(3)


def test_constraint_validation() -> None:
    with pytest.raises(InvalidParameterException):
        Constraint.of("distinctInstance", "attribute:a exists")
    with pytest.raises(InvalidParameterException):
        Constraint.of("memberOf", None)
    with pytest.raises(InvalidParameterException):
        Constraint.of("memberOf", "attribute:a ==")
    with pytest.raises(InvalidParameterException):
        Constraint.of("sameZone", None)

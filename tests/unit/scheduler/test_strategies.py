"""Placement strategies, table by table, with the arithmetic that decides each choice.

Keys are "lower wins": binpack's key is what is left on the instance, spread's
the number of the group's tasks already on the instance (instanceId) or on all
instances sharing the attribute's value.
"""

from __future__ import annotations

from collections import Counter

import pytest

from portside.domain.errors import InvalidParameterException
from portside.scheduler.engine import place
from portside.scheduler.model import InstanceState, Strategy, TaskRequest
from tests.unit.scheduler.build import inst, number, req

BINPACK_MEMORY = (("binpack", "memory"),)
BINPACK_CPU = (("binpack", "cpu"),)
SPREAD_AZ = (("spread", "attribute:ecs.availability-zone"),)
SPREAD_INSTANCE = (("spread", "instanceId"),)


def chosen(
    instances: list[InstanceState], tasks: list[TaskRequest], seed: int | str = 7,
    trace: str = "full",
) -> list[int | None]:  # fmt: skip
    result = place(instances, tasks, seed, trace=trace)
    return [number(p.instance_arn) if p else None for p in result.placements]


@pytest.mark.parametrize("trace", ["full", "summary"])
def test_binpack_memory_picks_the_least_memory_that_still_fits(trace: str) -> None:
    # memory left: #0 4096, #1 2048, #2 1024; the task needs 1536.
    # #2 cannot take it (1024 < 1536); keys #0 4096, #1 2048 -> #1 (512 left after).
    instances = [inst(0, memory=4096), inst(1, memory=2048), inst(2, memory=1024)]
    assert chosen(instances, [req(memory=1536, strategies=BINPACK_MEMORY)], trace=trace) == [1]


@pytest.mark.parametrize("trace", ["full", "summary"])
def test_binpack_cpu(trace: str) -> None:
    # cpu left: #0 1024, #1 512, #2 3072; the task needs 512: all fit, #1 has least -> #1.
    # Then #1 has 0 left: the next 512 goes to #0 (1024 < 3072).
    instances = [inst(0, cpu=1024), inst(1, cpu=512), inst(2, cpu=3072)]
    tasks = [req(cpu=512, strategies=BINPACK_CPU)] * 2
    assert chosen(instances, tasks, trace=trace) == [1, 0]


@pytest.mark.parametrize("trace", ["full", "summary"])
def test_binpack_fills_one_instance_before_the_next(trace: str) -> None:
    # memory left #0 2048, #1 4096; three tasks of 1024:
    # task 0: keys 2048 | 4096 -> #0 (1024 left); task 1: 1024 | 4096 -> #0 (0 left);
    # task 2: #0 cannot fit -> #1.
    instances = [inst(0, memory=2048), inst(1, memory=4096)]
    assert chosen(instances, [req(memory=1024, strategies=BINPACK_MEMORY)] * 3, trace=trace) == [
        0, 0, 1,
    ]  # fmt: skip


@pytest.mark.parametrize("trace", ["full", "summary"])
def test_spread_instance_id_counts_the_groups_tasks(trace: str) -> None:
    # tasks of family:web already on #0 2, #1 0, #2 1; memory #0 8192, #1 8192, #2 4096.
    # task 0: counts 2|0|1 -> #1.               counts now 2|1|1
    # task 1: counts 2|1|1 -> tie #1,#2; binpack(memory) 7168 | 4096 -> #2.  2|1|2
    # task 2: counts 2|1|2 -> #1.
    instances = [
        inst(0, memory=8192, groups={"family:web": 2, "family:other": 9}),
        inst(1, memory=8192),
        inst(2, memory=4096, groups={"family:web": 1}),
    ]
    strategies = (*SPREAD_INSTANCE, *BINPACK_MEMORY)
    tasks = [req(memory=1024, strategies=strategies)] * 3
    assert chosen(instances, tasks, trace=trace) == [1, 2, 1]


@pytest.mark.parametrize("trace", ["full", "summary"])
def test_spread_over_zones_then_binpack_within_the_zone(trace: str) -> None:
    # zones: #0 #3 in a, #1 #4 in b, #2 #5 in c. Group tasks already: zone a 2 (on #0),
    # zone c 1 (on #2). Memory: #1 8192, #4 2048; #5 4096, #2 8192.
    # task 0: zone counts a 2, b 0, c 1 -> b; binpack in b: #1 8192, #4 2048 -> #4.
    # task 1: a 2, b 1, c 1 -> tie b, c; binpack over #1 8192, #4 1024, #2 8192, #5 4096:
    #         #4 has 1024 left = the task's 1024 -> #4 (0 left).
    # task 2: a 2, b 2, c 1 -> c; #2 8192, #5 4096 -> #5.
    instances = [
        inst(0, groups={"family:web": 2}), inst(1, memory=8192), inst(2, groups={"family:web": 1}),
        inst(3), inst(4, memory=2048), inst(5, memory=4096),
    ]  # fmt: skip
    tasks = [req(memory=1024, strategies=(*SPREAD_AZ, *BINPACK_MEMORY))] * 3
    assert chosen(instances, tasks, trace=trace) == [4, 4, 5]


def test_strategy_order_matters() -> None:
    # binpack first: #0 has least memory (2048) until it is full, zones are only tie-breakers.
    instances = [inst(0, memory=2048), inst(1, memory=8192), inst(2, memory=8192)]
    packed = chosen(instances, [req(memory=1024, strategies=(*BINPACK_MEMORY, *SPREAD_AZ))] * 2)
    assert packed == [0, 0]
    # spread first: task 0 zones 0|0|0, binpack 2048|8192|8192 -> #0 (zone a);
    # task 1 zones 1|0|0 -> b or c, which tie on memory (8192): the seeded rank decides.
    spread = chosen(instances, [req(memory=1024, strategies=(*SPREAD_AZ, *BINPACK_MEMORY))] * 2)
    assert spread[0] == 0 and spread[1] in (1, 2)


def test_spread_on_a_custom_attribute_and_instances_without_it() -> None:
    # rack=r1: #0 #1, rack=r2: #2, no rack: #3 (a group of its own): three groups, counts
    # 0|0|0. Each task raises its group's count to 1, so 3 tasks land one per group.
    instances = [
        inst(0, attributes={"rack": "r1"}), inst(1, attributes={"rack": "r1"}),
        inst(2, attributes={"rack": "r2"}), inst(3),
    ]  # fmt: skip
    tasks = [req(memory=10, strategies=(("spread", "attribute:rack"),))] * 3
    rack = {0: "r1", 1: "r1", 2: "r2", 3: None}
    racks = Counter(rack.get(n or 0) for n in chosen(instances, tasks))
    assert racks == Counter({"r1": 1, "r2": 1, None: 1})


def test_random_is_seeded_and_uniform_enough() -> None:
    instances = [inst(i, memory=1 << 20) for i in range(3)]
    tasks = [req(memory=1, strategies=(("random", None),))] * 300
    first = chosen(instances, tasks, seed=42)
    assert chosen(instances, tasks, seed=42) == first  # replayable
    assert chosen(instances, tasks, seed=43) != first
    counts = Counter(first)
    assert set(counts) == {0, 1, 2}
    # 300 draws over 3 instances: 100 expected each; 60 is more than 6 standard deviations off.
    assert min(counts.values()) > 60


def test_run_task_default_is_random() -> None:
    instances = [inst(i) for i in range(3)]
    result = place(instances, [req(memory=1)], seed=1)
    assert result.trace.strategies == (("random",),)


def test_service_default_spreads_zones_then_instances() -> None:
    # 6 instances, 2 per zone, 6 tasks of a service: every instance gets exactly one
    # (zones balance first: 2 | 2 | 2; inside a zone spread(instanceId) splits 1 | 1).
    instances = [inst(i) for i in range(6)]
    result = place(instances, [req(memory=1, group="service:api")] * 6, seed=3)
    assert result.trace.strategies == (
        ("spread(attribute:ecs.availability-zone)", "spread(instanceId)"),
    )
    assert sorted(number(p.instance_arn) for p in result.placed) == list(range(6))


def test_same_input_same_seed_same_placement() -> None:
    instances = [inst(i, memory=4096) for i in range(20)]
    tasks = [req(memory=512, strategies=SPREAD_INSTANCE)] * 30
    assert chosen(instances, tasks, seed="req-1") == chosen(instances, tasks, seed="req-1")


@pytest.mark.parametrize(
    ("kind", "field", "message"),
    [
        ("binpack", "disk", "binpack"),
        ("binpack", None, "binpack"),
        ("spread", None, "spread"),
        ("spread", "zone", "spread"),
        ("shuffle", None, "Unknown placement strategy"),
    ],
)
def test_invalid_strategies(kind: str, field: str | None, message: str) -> None:
    with pytest.raises(InvalidParameterException) as exc:
        Strategy.of(kind, field)
    assert message in str(exc.value)


def test_host_is_instance_id() -> None:
    assert Strategy.of("spread", "host") == Strategy.of("spread", "instanceId")

"""The scheduler's snapshot built from stored instances and tasks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from portside.domain.ecs.container_instance import (
    Attribute,
    ContainerInstance,
    Resource,
    VersionInfo,
    remaining,
    usage,
)
from portside.domain.ecs.model import PortReservation, Reservation
from portside.domain.ecs.placement_view import instance_states
from portside.domain.ecs.task import Task

CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/c"
AT = datetime(2024, 1, 1, tzinfo=UTC)


class Reader:
    def __init__(self, *resources: Any) -> None:
        self.by: dict[tuple[str, str], dict[str, Any]] = {}
        for r in resources:
            self.by.setdefault((r.KIND, r.parent), {})[r.key] = r

    def children(self, kind: str, parent: str) -> Mapping[str, Any]:
        return self.by.get((kind, parent), {})


def instance(n: int, status: str = "ACTIVE") -> ContainerInstance:
    return ContainerInstance(
        container_instance_arn=f"arn:aws:ecs:us-east-1:000000000000:container-instance/c/{n}",
        cluster_arn=CLUSTER,
        registered_at=AT,
        ec2_instance_id=f"i-{n}",
        status=status,
        version_info=VersionInfo(agent_version="1.51.0"),
        registered_resources=(
            Resource("CPU", "INTEGER", integer_value=2048),
            Resource("MEMORY", "INTEGER", integer_value=4096),
            Resource("PORTS", "STRINGSET", string_set_value=("22", "2375")),
            Resource("PORTS_UDP", "STRINGSET", string_set_value=()),
            Resource("GPU", "STRINGSET", string_set_value=("g0", "g1")),
            Resource("ENI", "INTEGER", integer_value=3),
        ),
        attributes=(Attribute("ecs.availability-zone", "us-east-1a"), Attribute("flag")),
    )


def task(n: int, on: ContainerInstance, **kw: Any) -> Task:
    return Task(
        task_arn=f"arn:aws:ecs:us-east-1:000000000000:task/c/{n}",
        cluster_arn=CLUSTER,
        task_definition_arn="arn:aws:ecs:us-east-1:000000000000:task-definition/web:1",
        created_at=AT,
        container_instance_arn=on.container_instance_arn,
        reserved=Reservation(
            cpu=256,
            memory=512,
            ports=(PortReservation(8080), PortReservation(53, "udp")),
            gpus=("g1",),
            eni=True,
        ),
        **kw,
    )


def test_what_is_left_subtracts_tasks_not_stopped() -> None:
    a, b, gone = instance(0), instance(1), instance(2, status="INACTIVE")
    tasks = [
        task(0, a, last_status="RUNNING", group="service:web"),
        task(1, a, last_status="PENDING", group="service:web", desired_status="STOPPED"),
        task(2, a, last_status="STOPPED", group="service:web"),
    ]
    states = instance_states(Reader(a, b, gone, *tasks), CLUSTER)
    assert [s.arn for s in states] == [a.container_instance_arn, b.container_instance_arn]
    s = states[0]
    # two tasks hold resources (RUNNING and PENDING): 2048 - 2*256 cpu, 4096 - 2*512 MiB
    assert (s.cpu, s.memory, s.registered_cpu, s.registered_memory) == (1536, 3072, 2048, 4096)
    assert s.ports == {22, 2375, 8080} and s.ports_udp == {53}
    assert s.gpus == ("g0",)
    assert s.eni_slots == 1  # 3 slots, 2 awsvpc tasks
    assert (s.running_tasks_count, s.pending_tasks_count) == (1, 1)
    assert s.groups == {"service:web": 1}  # the one meant to stop does not count
    assert s.attributes == {"ecs.availability-zone": "us-east-1a", "flag": ""}
    assert s.agent_version == "1.51.0" and s.ec2_instance_id == "i-0"
    assert states[1].cpu == 2048 and states[1].groups == {}


def test_remaining_resources_for_describe() -> None:
    a = instance(0)
    used = usage([task(0, a, last_status="RUNNING")])
    left = {r.name: r for r in remaining(a, used[a.container_instance_arn])}
    assert left["CPU"].integer_value == 1792
    assert left["MEMORY"].integer_value == 3584
    assert left["PORTS"].string_set_value == ("22", "2375", "8080")
    assert left["PORTS_UDP"].string_set_value == ("53",)
    assert left["GPU"].string_set_value == ("g0",)
    assert left["ENI"].integer_value == 2


def test_a_reader_that_tells_its_commits_gets_the_states_built_from_scratch() -> None:
    """The simulator's state (and the store) name the tasks each commit changed; the kept
    states follow them (puts, moves, stops, deletes) and equal a build from scratch."""
    import dataclasses

    from portside.sim.state import SimState
    from portside.store.store import Delete

    a, b = instance(0), instance(1)
    state = SimState([a, b])
    kept_before = instance_states(state, CLUSTER)  # kept from now on, told of each commit
    assert [s.cpu for s in kept_before] == [2048, 2048]
    t0, t1 = task(0, a, last_status="RUNNING"), task(1, a, last_status="PENDING")
    steps: list[list[Any]] = [
        [t0, t1],
        [dataclasses.replace(t1, last_status="RUNNING", container_instance_arn=b.container_instance_arn)],
        [dataclasses.replace(t0, last_status="STOPPED", desired_status="STOPPED")],
        [Delete(Task.KIND, t0.task_arn)],
        [task(2, b, last_status="RUNNING", group="service:web")],
        [dataclasses.replace(b, status="DRAINING")],
    ]
    for changes in steps:
        state.commit(changes)
        scratch = Reader(*state.all(ContainerInstance.KIND).values(), *state.all(Task.KIND).values())
        kept, built = instance_states(state, CLUSTER), instance_states(scratch, CLUSTER)
        assert [dataclasses.asdict(s) for s in kept] == [dataclasses.asdict(s) for s in built]
    last = instance_states(state, CLUSTER)
    assert [(s.cpu, s.groups) for s in last] == [(2048, {}), (1536, {"service:web": 1})]

"""Fargate on machines you own: the Fargate pool (docs/fargate.md).

In ECS a Fargate task runs on capacity nobody registers: it has launch type
FARGATE, a platform version and family, its own ENI, and no container
instance. portside runs such tasks on a *Fargate pool*: a node agent that
registers with the attribute :data:`POOL_ATTRIBUTE` (``portside up`` starts
one). The pool is an ordinary container instance to the store and the agent
protocol — its session receives the tasks placed on it, from every cluster —
but the API never shows it: ListContainerInstances, DescribeContainerInstances
and the cluster counts leave it out, EC2 placement never sees it
(``placement_view.instance_states``), and a Fargate task's API view has no
``containerInstanceArn``. Its resources are still accounted, so a full machine
gives ECS's "Capacity is unavailable" failure. No pool: the same failure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

from portside.domain.ecs.container_instance import ContainerInstance, usage
from portside.domain.ecs.model import StrategyItem
from portside.domain.ecs.task import Task
from portside.scheduler.engine import PlacementResult
from portside.scheduler.engine import place as engine_place
from portside.scheduler.model import InstanceState, TaskRequest

POOL_ATTRIBUTE = "portside.fargate-pool"
"""The attribute a node agent registers with to be the Fargate pool."""
PLATFORM_VERSION = "1.4.0"
"""What ``LATEST`` means for Linux Fargate tasks (ECS's current platform version)."""
PLATFORM_FAMILY = "Linux"
UNAVAILABLE = (
    "Capacity is unavailable at this time. Please try again later or in a different "
    "availability zone"
)
"""ECS's failure reason when Fargate has no room (RunTask failures, service events)."""
RETRY = timedelta(seconds=10)
"""A service that found no Fargate room looks again this much later: the pool is
shared by every cluster, so room freed elsewhere does not wake it."""
NO_POOL = (
    "Capacity is unavailable at this time: portside has no Fargate pool running "
    "(start one with `portside up`, or an agent with --attribute portside.fargate-pool)."
)


class Reader(Protocol):
    def all(self, kind: str) -> Mapping[str, Any]: ...


def wants_fargate(launch_type: str | None, strategy: Sequence[StrategyItem]) -> bool:
    return launch_type == "FARGATE" or any(
        s.capacity_provider in ("FARGATE", "FARGATE_SPOT") for s in strategy
    )


def is_pool(instance: Any) -> bool:
    """Whether a container instance is a Fargate pool node (hidden from the API)."""
    return isinstance(instance, ContainerInstance) and instance.has_attribute(POOL_ATTRIBUTE)


def platform_version(requested: str | None) -> str:
    return PLATFORM_VERSION if requested in (None, "", "LATEST") else requested


def pool_instances(reader: Reader) -> list[ContainerInstance]:
    """The registered pool nodes, whatever cluster they joined."""
    return [
        i for i in reader.all(ContainerInstance.KIND).values()
        if isinstance(i, ContainerInstance) and i.registered and is_pool(i)
    ]  # fmt: skip


def pool_states(reader: Reader) -> list[tuple[ContainerInstance, InstanceState]]:
    """Each ACTIVE pool node with what is left on it: its tasks come from every cluster."""
    from portside.domain.ecs.placement_view import instance_state

    pools = [i for i in pool_instances(reader) if i.status == "ACTIVE" and i.agent_connected]
    if not pools:
        return []
    arns = {i.container_instance_arn for i in pools}
    used = usage(t for t in reader.all(Task.KIND).values() if t.container_instance_arn in arns)
    return [(i, instance_state(i, used.get(i.container_instance_arn))) for i in pools]


def place(
    states: Sequence[InstanceState], req: TaskRequest, count: int, seed: str
) -> PlacementResult:
    """``count`` tasks on the pool: Fargate takes no placement constraints or strategies."""
    bare = dataclasses.replace(req, constraints=(), strategies=(), launch_type="EC2")
    return engine_place(list(states), [bare] * count, seed=seed, trace="summary")


def public(task: Task) -> Task:
    """A task as the API shows it: a Fargate task has no container instance."""
    if task.launch_type == "FARGATE" and task.container_instance_arn is not None:
        return dataclasses.replace(task, container_instance_arn=None)
    return task

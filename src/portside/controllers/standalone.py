"""Standalone tasks waiting in PROVISIONING: place them when their provider has room.

    decide(snapshot, cluster_arn) -> list[Task]

RunTask with a capacity provider strategy records a task its provider (an
Auto Scaling group provider with managed scaling) has no room for as
PROVISIONING, with the provider and no instance, as ECS does; managed scaling
counts it and adds instances. Each pass places the cluster's waiting
standalone tasks (oldest first, in one engine batch per provider so they see
each other's reservations) on their provider's instances; what still does not
fit keeps waiting. Service tasks are their service's business
(controllers/launch.py). The returned tasks are the placed ones, to commit.
"""

from __future__ import annotations

from portside.controllers.launch import placed_on
from portside.controllers.snapshot import Snapshot
from portside.domain.ecs.capacity_provider import FARGATE_PROVIDERS
from portside.domain.ecs.container_instance import ContainerInstance
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_definition import TaskDefinition
from portside.scheduler.engine import place as engine_place
from portside.scheduler.model import InstanceState, TaskRequest


def waiting(snapshot: Snapshot, cluster_arn: str) -> list[Task]:
    """The cluster's standalone tasks waiting for a provider's capacity, oldest first."""
    found = [
        t for t in snapshot.children(Task.KIND, cluster_arn).values()
        if t.service_arn is None and t.container_instance_arn is None
        and t.last_status == "PROVISIONING" and t.desired_status == "RUNNING"
        and t.capacity_provider_name and t.capacity_provider_name not in FARGATE_PROVIDERS
    ]  # fmt: skip
    return sorted(found, key=lambda t: (t.created_at, t.task_arn))


def decide(snapshot: Snapshot, cluster_arn: str) -> list[Task]:
    """The waiting standalone tasks that fit now, placed (see the module docstring)."""
    from portside.domain.ecs.placement import task_request
    from portside.domain.ecs.placement_view import instance_states

    tasks = waiting(snapshot, cluster_arn)
    if not tasks:
        return []
    by_provider: dict[str, list[tuple[Task, TaskRequest]]] = {}
    for t in tasks:
        td = snapshot.get(TaskDefinition.KIND, t.task_definition_arn)
        if not isinstance(td, TaskDefinition):
            continue
        req = task_request(td, t.reserved, group=t.group or f"family:{td.family}",
                           launch_type=t.launch_type, constraints=list(td.placement_constraints))
        by_provider.setdefault(t.capacity_provider_name or "", []).append((t, req))
    pools: dict[str | None, list[InstanceState]] = {}
    for state in instance_states(snapshot, cluster_arn):
        inst = snapshot.get(ContainerInstance.KIND, state.arn)
        if isinstance(inst, ContainerInstance):
            pools.setdefault(inst.capacity_provider_name, []).append(state)
    out: list[Task] = []
    for provider, batch in by_provider.items():
        pool = pools.get(provider)
        if not pool:
            continue
        result = engine_place(pool, [r for _, r in batch],
                              seed=f"{cluster_arn}:{snapshot.revision}:{provider}",
                              trace="summary")  # fmt: skip
        for (t, _), p in zip(batch, result.placements, strict=True):
            inst = snapshot.get(ContainerInstance.KIND, p.instance_arn) if p else None
            if p is not None and isinstance(inst, ContainerInstance):
                out.append(placed_on(t, inst, p.reservation))
    return out

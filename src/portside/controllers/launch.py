"""Placing a service's new tasks with the scheduler engine, as Task records.

The instance states come from the snapshot (``placement_view``), the request
from the deployment's task definition with the service's constraints and
strategies (``placement.task_request``, the one RunTask uses), and the engine
decides. A capacity provider strategy splits the launches over providers
counting the service's tasks already on each, so the split converges on
``base`` and ``weight`` over the whole service. A task that fits nowhere is
explained in ECS's words, naming the closest instance. FARGATE and
FARGATE_SPOT tasks go to the Fargate pool (``domain/ecs/fargate.py``).

Task ids are drawn from a generator seeded with the service and the snapshot
revision, so the same decision on the same state makes the same tasks.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence

from portside.aws.arn import parse_arn
from portside.controllers import service_events as ev
from portside.controllers.plan import View
from portside.controllers.snapshot import Snapshot
from portside.domain.ecs import fargate
from portside.domain.ecs.container_instance import ContainerInstance
from portside.domain.ecs.model import Reservation
from portside.domain.ecs.service import Deployment
from portside.domain.ecs.tags import Tag
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_definition import TaskDefinition
from portside.domain.scope import Scope
from portside.scheduler.engine import PlacementResult
from portside.scheduler.engine import place as engine_place
from portside.scheduler.model import (
    ATTRIBUTE,
    LAUNCH_TYPE,
    MEMBER_OF,
    STATUS,
    InstanceState,
    TaskRequest,
)

INELIGIBLE = frozenset({STATUS, LAUNCH_TYPE, ATTRIBUTE, MEMBER_OF})
"""Reasons that keep a DAEMON task off an instance for good (resources come and go)."""


class Launcher:
    """Places tasks of the service's deployments on the snapshot's instances."""

    def __init__(self, snapshot: Snapshot, view: View, seed: str):
        self.snapshot = snapshot
        self.view = view
        self.seed = seed
        self._rng = random.Random(seed)
        self._states: dict[str, InstanceState] | None = None
        self._requests: dict[str, tuple[TaskDefinition, Reservation, TaskRequest] | None] = {}
        self._providers: dict[str, bool] = {}

    # -- inputs --------------------------------------------------------------

    def states(self) -> dict[str, InstanceState]:
        if self._states is None:
            from portside.domain.ecs.placement_view import instance_states

            found = instance_states(self.snapshot, self.view.cluster)
            self._states = {s.arn: s for s in found}
        return self._states

    def request(self, d: Deployment) -> tuple[TaskDefinition, Reservation, TaskRequest] | None:
        """The task definition, reservation and engine request of ``d`` (None: no definition)."""
        if d.id not in self._requests:
            from portside.domain.ecs.placement import task_request
            from portside.domain.ecs.task_definitions import task_reservation

            td = self.snapshot.get(TaskDefinition.KIND, d.task_definition)
            if not isinstance(td, TaskDefinition):
                self._requests[d.id] = None
            else:
                svc = self.view.svc
                reserved = task_reservation(td)
                req = task_request(
                    td, reserved, group=svc.group, launch_type=d.launch_type,
                    constraints=[*svc.placement_constraints, *td.placement_constraints],
                    strategies=svc.placement_strategy,
                )  # fmt: skip
                self._requests[d.id] = (td, reserved, req)
        return self._requests[d.id]

    # -- DAEMON ----------------------------------------------------------------

    def eligible(self, inst: ContainerInstance) -> bool:
        """Could the primary deployment's task go on ``inst``, resources aside?"""
        primary = self.view.svc.primary
        got = self.request(primary) if primary is not None else None
        state = self.states().get(inst.container_instance_arn)
        if got is None or state is None:
            return False
        result = engine_place([state], [got[2]], seed=self.seed)
        if result.placed:
            return True
        decision = result.trace.decision(0)
        reasons = {r.reason for r in decision.rejections} or {decision.reason or ""}
        return not reasons & INELIGIBLE

    # -- launching -------------------------------------------------------------

    def launch(
        self, d: Deployment, count: int, targets: list[str], waiting: Sequence[Task] = ()
    ) -> tuple[list[Task], list[Task], str | None]:
        """``count`` tasks anywhere (REPLICA) or one on each of ``targets`` (DAEMON).

        Returns the new tasks, the ``waiting`` ones (PROVISIONING without an
        instance, of ``d``) now placed, and the problem to put in the events. A
        task an Auto Scaling provider has no room for is created PROVISIONING
        without an instance and waits there (managed scaling counts it); it is
        placed on a later pass, before any new task of its provider. (A provider
        without managed scaling: the service only records why it cannot place.)"""
        name = self.view.svc.service_name
        got = self.request(d)
        if got is None:
            return [], [], (
                f"(service {name}) was unable to place a task. Reason: the task definition "
                f"{d.task_definition} does not exist."
            )
        if fargate.wants_fargate(d.launch_type, d.capacity_provider_strategy):
            on_pool, why = self._on_fargate(d, got, count)
            return on_pool, [], why
        states = self.states()
        results: list[tuple[PlacementResult, str | None, list[Task]]] = []
        if targets:
            for arn in targets:
                state = states.get(arn)
                if state is not None:
                    results.append((engine_place([state], [got[2]], seed=self.seed), None, []))
        else:
            pools = self._pools()
            waits: dict[str | None, list[Task]] = {}
            for t in waiting:
                waits.setdefault(t.capacity_provider_name, []).append(t)
            shares = self._shares(d, count) if count > 0 else {}
            for provider in dict.fromkeys([*waits, *shares]):
                pool = list(states.values()) if provider is None else pools.get(provider, [])
                w = waits.get(provider, [])
                # The service events need only the closest instance's reason, which the
                # summary trace keeps; scoring every instance for a full trace costs too much.
                placed = engine_place(pool, [got[2]] * (len(w) + shares.get(provider, 0)),
                                      seed=f"{self.seed}:{provider}", trace="summary")
                results.append((placed, provider, w))
        tasks: list[Task] = []
        moved: list[Task] = []
        problem: str | None = None
        for result, provider, w in results:
            held = provider is not None and self._waits_for(provider)
            for i, p in enumerate(result.placements):
                inst = self.snapshot.get(ContainerInstance.KIND, p.instance_arn) if p else None
                if i < len(w):
                    if p is not None and isinstance(inst, ContainerInstance):
                        moved.append(placed_on(w[i], inst, p.reservation))
                elif p is not None and isinstance(inst, ContainerInstance):
                    tasks.append(self._task(d, got[0], p.reservation, inst, provider))
                elif p is None and held:
                    tasks.append(self._task(d, got[0], got[1], None, provider))
            if result.unplaced and problem is None:
                closest = result.trace.decision(result.unplaced[0]).closest
                problem = ev.unable_to_place(
                    name,
                    closest.instance_arn.rsplit("/", 1)[-1] if closest else None,
                    closest.reason if closest else None,
                )
                if held:
                    problem += " " + self._why_waiting(provider or "", got[2])
        return tasks, moved, problem

    def _waits_for(self, provider: str) -> bool:
        """Whether ``provider`` is an Auto Scaling group provider with managed scaling (its
        tasks wait for capacity)."""
        if provider not in self._providers:
            from portside.domain.ecs.capacity_provider import CapacityProvider

            found = self.snapshot.get(CapacityProvider.KIND, self._provider_arn(provider))
            self._providers[provider] = (
                isinstance(found, CapacityProvider) and found.tasks_wait_for_capacity
            )
        return self._providers[provider]

    def _provider_arn(self, name: str) -> str:
        arn = parse_arn(self.view.cluster.cluster_arn)
        scope = Scope(arn.account, arn.region) if arn else Scope("000000000000", "us-east-1")
        return scope.ecs(f"capacity-provider/{name}")

    def _why_waiting(self, provider: str, req: TaskRequest) -> str:
        """Why the task waits: for capacity, or — no instance type of the group can hold
        it — for good (managed scaling leaves it out, controllers/capacity.py ``Unfit``)."""
        from portside.controllers.capacity import find_group
        from portside.controllers.capacity_math import fit
        from portside.domain.ecs.capacity_provider import CapacityProvider

        cp = self.snapshot.get(CapacityProvider.KIND, self._provider_arn(provider))
        asg = cp.auto_scaling_group_provider if isinstance(cp, CapacityProvider) else None
        group = find_group(self.snapshot, asg.auto_scaling_group_arn) if asg else None
        if group is not None and group.instance_types:
            fits = [fit(req, spec) for spec in group.instance_types]
            if not any(f.count > 0 for f in fits):
                return (
                    f"No instance type of capacity provider {provider} can hold it "
                    f"({fits[-1].limit}: {fits[-1].detail}); it waits in PROVISIONING and is "
                    "left out of managed scaling."
                )
        return f"The task waits in PROVISIONING for capacity provider {provider} to add capacity."

    def _on_fargate(
        self, d: Deployment, got: tuple[TaskDefinition, Reservation, TaskRequest], count: int
    ) -> tuple[list[Task], str | None]:
        """REPLICA tasks on the Fargate pool, split over FARGATE / FARGATE_SPOT."""
        name = self.view.svc.service_name
        states = fargate.pool_states(self.snapshot) if count > 0 else []
        if not states:
            return [], f"(service {name}) was unable to place a task. Reason: {fargate.NO_POOL}"
        providers: list[str | None] = [None] * count
        if d.capacity_provider_strategy:
            providers = [p for p, n in self._shares(d, count).items() for _ in range(n or 0)]
        result = fargate.place([s for _, s in states], got[2], count, f"{self.seed}:fargate")
        pools = {i.container_instance_arn: i for i, _ in states}
        tasks = [
            self._task(d, got[0], p.reservation, pools[p.instance_arn], providers[i])
            for i, p in enumerate(result.placements) if p is not None
        ]
        problem = None
        if result.unplaced:
            problem = f"(service {name}) was unable to place a task. Reason: {fargate.UNAVAILABLE}."
        return tasks, problem

    def _shares(self, d: Deployment, count: int) -> dict[str | None, int]:
        if not d.capacity_provider_strategy or count <= 0:
            return {None: count}
        from portside.domain.ecs.placement import split_by_strategy

        existing: dict[str, int] = {}
        for t in self.view.tasks:
            if t.capacity_provider_name and t.desired_status == "RUNNING":
                existing[t.capacity_provider_name] = existing.get(t.capacity_provider_name, 0) + 1
        providers = split_by_strategy(d.capacity_provider_strategy, count, existing)
        return {p: providers.count(p) for p in dict.fromkeys(providers)}

    def _pools(self) -> dict[str | None, list[InstanceState]]:
        """The instance states by capacity provider, in registration order."""
        pools: dict[str | None, list[InstanceState]] = {}
        for state in self.states().values():
            inst = self.snapshot.get(ContainerInstance.KIND, state.arn)
            provider = inst.capacity_provider_name if isinstance(inst, ContainerInstance) else None
            pools.setdefault(provider, []).append(state)
        return pools

    def _task(
        self, d: Deployment, td: TaskDefinition, reserved: Reservation,
        inst: ContainerInstance | None, provider: str | None,
    ) -> Task:  # fmt: skip
        from portside.domain.ecs.tasks import new_task

        svc, cluster = self.view.svc, self.view.cluster
        arn = parse_arn(cluster.cluster_arn)
        scope = Scope(arn.account, arn.region) if arn else Scope("000000000000", "us-east-1")
        launch_type = d.launch_type or ("EXTERNAL" if inst and inst.external else "EC2")
        if fargate.is_pool(inst):
            launch_type = "FARGATE"
        return new_task(
            scope, self.view.now, cluster, td, reserved,
            instance=inst,
            group=svc.group,
            launch_type=launch_type,
            capacity_provider_name=provider,
            started_by=d.id,
            tags=self._tags(td),
            service_arn=svc.service_arn,
            enable_execute_command=svc.enable_execute_command,
            task_id=uuid.UUID(int=self._rng.getrandbits(128), version=4).hex,
            platform_version=svc.platform_version,
            network_configuration=(
                d.network_configuration if d.network_configuration is not None
                else svc.network_configuration
            ),
        )  # fmt: skip

    def _tags(self, td: TaskDefinition) -> tuple[Tag, ...]:
        svc = self.view.svc
        tags: dict[str, Tag] = {}
        if svc.propagate_tags == "SERVICE":
            tags.update((t.key, t) for t in svc.tags)
        elif svc.propagate_tags == "TASK_DEFINITION":
            tags.update((t.key, t) for t in td.tags)
        if svc.enable_ecs_managed_tags:
            cluster_name = self.view.cluster.cluster_name
            tags["aws:ecs:serviceName"] = Tag("aws:ecs:serviceName", svc.service_name)
            tags["aws:ecs:clusterName"] = Tag("aws:ecs:clusterName", cluster_name)
        return tuple(tags.values())


def placed_on(t: Task, inst: ContainerInstance, reserved: Reservation) -> Task:
    """A PROVISIONING task that waited for capacity, now on ``inst``."""
    import dataclasses

    return dataclasses.replace(
        t, container_instance_arn=inst.container_instance_arn, reserved=reserved,
        availability_zone=inst.attribute("ecs.availability-zone"), version=t.version + 1,
    )  # fmt: skip

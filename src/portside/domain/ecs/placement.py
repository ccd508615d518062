"""RunTask and StartTask meet the scheduler: build the requests, place, explain.

The scheduler is pure (``scheduler/engine.py``); this module turns a task
definition and the request's constraints and strategies into
``TaskRequest``s, takes the cluster's instance snapshot from the store, and
maps the engine's answer back to instances and ECS ``failures``. A capacity
provider strategy first splits the batch over providers (``base`` first,
then ``weight``), and each provider's share is placed on its own instances;
what a provider with managed scaling has no room for waits (``Outcome.waiting``:
RunTask records those tasks PROVISIONING, controllers/standalone.py places them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.container_instance import ContainerInstance
from portside.domain.ecs.model import Failure, Reservation, StrategyItem
from portside.domain.ecs.task_definition_containers import network
from portside.domain.errors import InvalidParameterException
from portside.domain.scope import Scope
from portside.scheduler.engine import PlacementResult
from portside.scheduler.engine import place as engine_place
from portside.scheduler.model import (
    Constraint,
    InstanceState,
    RequiredAttribute,
    Strategy,
    TaskRequest,
)
from portside.store.store import Store

NO_INSTANCES = "No Container Instances were found in your cluster."


@dataclass(frozen=True, slots=True)
class Placed:
    instance: ContainerInstance
    reservation: Reservation
    capacity_provider: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    placements: list[Placed]
    failures: list[Failure]
    results: list[PlacementResult]
    waiting: list[str] = dataclasses.field(default_factory=list)
    """Per task its provider had no room for but waits for (managed scaling), the provider."""

    def explanations(self) -> list[tuple[int, str, tuple[str, ...]]]:
        """(task index in the batch order of ``placements``, text, strategies) per decision;
        unplaced tasks come last with index -1."""
        out: list[tuple[int, str, tuple[str, ...]]] = []
        placed_i = 0
        for result in self.results:
            labels = tuple(label for group in result.trace.strategies for label in group)
            for i, p in enumerate(result.placements):
                text = result.trace.explain(i)
                if p is not None:
                    out.append((placed_i, text, labels))
                    placed_i += 1
                else:
                    out.append((-1, text, labels))
        return out


def task_request(
    td: Any,
    reserved: Reservation,
    *,
    group: str,
    launch_type: str | None,
    constraints: Sequence[dict[str, Any]] = (),
    strategies: Sequence[dict[str, Any]] = (),
) -> TaskRequest:
    """What one task of ``td`` asks of an instance."""
    mode = network(td.network_mode)
    dynamic = {"tcp": 0, "udp": 0}
    if mode == "bridge":
        for c in td.container_definitions:
            for p in c.get("port_mappings") or ():
                if not p.get("host_port"):
                    dynamic[p.get("protocol") or "tcp"] += 1
    return TaskRequest(
        cpu=reserved.cpu,
        memory=reserved.memory,
        ports=reserved.ports,
        dynamic_ports=dynamic["tcp"],
        dynamic_ports_udp=dynamic["udp"],
        gpus=len(reserved.gpus),
        network_mode=mode,
        launch_type="EXTERNAL" if launch_type == "EXTERNAL" else "EC2",
        group=group,
        required_attributes=tuple(
            RequiredAttribute(a["name"], a.get("value")) for a in td.requires_attributes or ()
        ),
        constraints=tuple(Constraint.of(c["type"], c.get("expression")) for c in constraints),
        strategies=tuple(Strategy.of(s["type"], s.get("field")) for s in strategies),
    )


def split_by_strategy(items: Sequence[StrategyItem], count: int, existing: dict[str, int]) -> list[str]:
    """Which provider each of ``count`` new tasks uses: ``base`` first, then by ``weight``.

    ``existing`` counts tasks already running per provider (a service's), so
    the split converges on the strategy over the whole group. Ties go to the
    provider listed first.

        base=2 on A, weights A:1 B:1, 6 tasks, none running -> A A | A B A B
        (A gets its base of 2, the other 4 split 1:1: A 2 more, B 2)
    """
    counts = {i.capacity_provider: existing.get(i.capacity_provider, 0) for i in items}
    out: list[str] = []
    for _ in range(count):
        short = [i for i in items if counts[i.capacity_provider] < i.base]
        if short:
            choice = short[0].capacity_provider
        else:
            weighted = [i for i in items if i.weight > 0]
            total_w = sum(i.weight for i in weighted)
            spare = sum(counts.values()) + 1 - sum(i.base for i in items)
            deficits = {
                i.capacity_provider: spare * i.weight / total_w + i.base - counts[i.capacity_provider]
                for i in weighted
            }
            choice = max(weighted, key=lambda i: deficits[i.capacity_provider]).capacity_provider
        counts[choice] += 1
        out.append(choice)
    return out


def place(
    store: Store,
    cluster: Cluster,
    td: Any,
    reserved: Reservation,
    *,
    count: int,
    group: str,
    launch_type: str | None,
    capacity_provider_strategy: Sequence[StrategyItem],
    constraints: Sequence[dict[str, Any]],
    strategies: Sequence[dict[str, Any]],
    seed: str,
) -> Outcome:
    """Place ``count`` tasks of ``td`` in ``cluster`` (RunTask)."""
    from portside.domain.ecs.placement_view import instance_states

    states = instance_states(store, cluster)
    if not states and not any(_waits(store, cluster, s.capacity_provider)
                              for s in capacity_provider_strategy):
        raise InvalidParameterException(NO_INSTANCES)
    req = task_request(
        td, reserved, group=group, launch_type=launch_type,
        constraints=constraints, strategies=strategies,
    )
    if capacity_provider_strategy:
        providers = split_by_strategy(capacity_provider_strategy, count, {})
        shares = {p: providers.count(p) for p in dict.fromkeys(providers)}
    else:
        shares = {"": count}
    placed: list[Placed] = []
    failures: list[Failure] = []
    results: list[PlacementResult] = []
    waiting: list[str] = []
    for provider, n in shares.items():
        pool = [s for s in states if not provider or _provider_of(store, s) == provider]
        result = engine_place(pool, [req] * n, seed=f"{seed}:{provider}")
        results.append(result)
        for p in result.placed:
            inst = store.get(ContainerInstance.KIND, p.instance_arn)
            assert isinstance(inst, ContainerInstance)
            placed.append(Placed(inst, p.reservation, provider or None))
        if result.unplaced and provider and _waits(store, cluster, provider):
            waiting.extend([provider] * len(result.unplaced))
            continue
        failures.extend(Failure(arn=f.arn, reason=f.reason, detail=f.detail) for f in result.failures)
        if result.unplaced and not pool:
            failures.append(Failure(reason=f"No Container Instances in capacity provider {provider}."))
    return Outcome(placed, failures, results, waiting)


def _waits(store: Store, cluster: Cluster, provider: str) -> bool:
    """Whether tasks ``provider`` has no room for wait in PROVISIONING (managed scaling)."""
    from portside.aws.arn import parse_arn
    from portside.domain.ecs.capacity_providers import find_provider

    arn = parse_arn(cluster.cluster_arn)
    if arn is None:
        return False
    found = find_provider(store, Scope(arn.account, arn.region), provider)
    return found is not None and found.tasks_wait_for_capacity


def _provider_of(store: Store, state: InstanceState) -> str | None:
    inst = store.get(ContainerInstance.KIND, state.arn)
    return inst.capacity_provider_name if isinstance(inst, ContainerInstance) else None


def place_on(
    store: Store,
    scope: Scope,
    cluster: Cluster,
    td: Any,
    reserved: Reservation,
    instance_refs: Sequence[str],
    *,
    group: str,
) -> Outcome:
    """StartTask: one task on each named instance, if it fits there."""
    from portside.domain.ecs.placement_view import instance_states

    states = {s.arn: s for s in instance_states(store, cluster)}
    wanted: dict[str, int] = {}
    for ref in instance_refs:
        arn = ref if ref.startswith("arn:") else scope.ecs(
            f"container-instance/{cluster.cluster_name}/{ref}"
        )
        wanted[arn] = wanted.get(arn, 0) + 1
    placed: list[Placed] = []
    failures: list[Failure] = []
    results: list[PlacementResult] = []
    for arn, n in wanted.items():
        state = states.get(arn)
        inst = store.get(ContainerInstance.KIND, arn)
        if state is None or not isinstance(inst, ContainerInstance):
            failures.extend(Failure(arn=arn, reason="MISSING") for _ in range(n))
            continue
        req = task_request(
            td, reserved, group=group, launch_type="EXTERNAL" if inst.external else "EC2",
            strategies=[{"type": "random"}],
        )
        result = engine_place([state], [req] * n, seed=arn)
        results.append(result)
        placed.extend(Placed(inst, p.reservation) for p in result.placed)
        failures.extend(
            Failure(arn=f.arn, reason=f.reason, detail=f.detail) for f in result.failures
        )
    return Outcome(placed, failures, results)

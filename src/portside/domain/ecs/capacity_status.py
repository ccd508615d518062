"""What managed scaling is doing, per capacity provider: a read model for the views.

``GET /metrics``, ``POST /_portside/capacity`` and ``portside capacity`` all show
the same thing (DescribeCapacityProviders a summary, :func:`scaling_states`):
for each Auto Scaling group capacity provider, the last
CapacityProviderReservation with its M (instances needed) and N (running past
warm-up), the target, the group's desired/min/max capacity, its instances per
Availability Zone and lifecycle state, and the recent scaling activities with
their causes: the controller's decisions and, apart, the launchers' steps
(``controllers.capacity.split``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from portside.aws.arn import parse_arn
from portside.controllers.capacity_model import (
    TERMINATED,
    GroupInstance,
    InstanceGroup,
    ScalingState,
)
from portside.domain.ecs.capacity_provider import CapacityProvider
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.clusters import get_cluster
from portside.domain.scope import Scope
from portside.store.store import Store


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    provider: CapacityProvider
    cluster: str | None
    """The name of the cluster that names the provider, if one does."""
    group: InstanceGroup | None
    state: ScalingState | None
    instances: tuple[GroupInstance, ...] = ()
    """The group's instances that are not Terminated, oldest first."""
    zones: dict[str, dict[str, int]] = field(default_factory=dict)
    """Availability Zone -> lifecycle state -> instances (every zone of the group listed)."""

    @property
    def target(self) -> int:
        asg = self.provider.auto_scaling_group_provider
        return asg.managed_scaling.target_capacity if asg else 100

    @property
    def managed(self) -> bool:
        asg = self.provider.auto_scaling_group_provider
        return asg is not None and asg.managed_scaling.enabled


def capacity_status(
    store: Store, scope: Scope | None, cluster: str | None = None
) -> list[ProviderStatus]:
    """Every ACTIVE Auto Scaling group provider of the scope's account and region (or
    those one cluster names; with no scope, of every region), by name."""
    clusters: list[Cluster] = [c for c in store.all(Cluster.KIND).values() if c.active]
    only: set[str] | None = None
    if cluster is not None and scope is not None:
        only = set(get_cluster(store, scope, cluster).capacity_providers)
    out: list[ProviderStatus] = []
    for p in store.all(CapacityProvider.KIND).values():
        if not p.active or p.auto_scaling_group_provider is None or not _in_scope(p, scope):
            continue
        if only is not None and p.name not in only:
            continue
        owner = next((c.cluster_name for c in clusters
                      if p.name in c.capacity_providers and _same_scope(c.cluster_arn, p)), None)  # fmt: skip
        group = _group(store, p.auto_scaling_group_provider.auto_scaling_group_arn)
        state = store.get(ScalingState.KIND, p.capacity_provider_arn)
        members: Iterable[GroupInstance] = ()
        if group is not None:
            members = store.children(GroupInstance.KIND, group.auto_scaling_group_arn).values()
        live = tuple(sorted((i for i in members if i.lifecycle_state != TERMINATED),
                            key=lambda i: (i.launched_at, i.instance_id)))  # fmt: skip
        zones: dict[str, dict[str, int]] = {z: {} for z in (group.availability_zones if group else ())}
        for i in live:
            per = zones.setdefault(i.availability_zone, {})
            per[i.lifecycle_state] = per.get(i.lifecycle_state, 0) + 1
        out.append(ProviderStatus(
            p, owner, group, state if isinstance(state, ScalingState) else None, live, zones))  # fmt: skip
    return sorted(out, key=lambda s: s.provider.name)


def scaling_states(
    store: Store, providers: Iterable[CapacityProvider]
) -> dict[str, ScalingState | None]:
    """Managed scaling's memory (reservation, M, N, activities) of each ACTIVE Auto Scaling
    group provider, by ARN (None before its first decision, or without managed scaling):
    what DescribeCapacityProviders adds to them."""
    out: dict[str, ScalingState | None] = {}
    for p in providers:
        if p.active and p.auto_scaling_group_provider is not None:
            state = store.get(ScalingState.KIND, p.capacity_provider_arn)
            out[p.capacity_provider_arn] = state if isinstance(state, ScalingState) else None
    return out


def _group(store: Store, ref: str) -> InstanceGroup | None:
    found = store.get(InstanceGroup.KIND, ref)
    if isinstance(found, InstanceGroup):
        return found
    name = ref.split("autoScalingGroupName/", 1)[-1]
    for g in store.all(InstanceGroup.KIND).values():
        if g.auto_scaling_group_name == name:
            return g  # type: ignore[no-any-return]
    return None


def _in_scope(p: CapacityProvider, scope: Scope | None) -> bool:
    if scope is None:
        return True
    arn = parse_arn(p.capacity_provider_arn)
    return arn is not None and (arn.account, arn.region) == (scope.account, scope.region)


def _same_scope(cluster_arn: str, p: CapacityProvider) -> bool:
    a, b = parse_arn(cluster_arn), parse_arn(p.capacity_provider_arn)
    return a is not None and b is not None and (a.account, a.region) == (b.account, b.region)

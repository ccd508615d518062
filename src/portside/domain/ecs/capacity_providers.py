"""Capacity provider operations and the checks clusters make against them."""

from __future__ import annotations

from collections.abc import Sequence

from portside.domain.ecs.capacity_provider import FARGATE_PROVIDERS, CapacityProvider
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.model import StrategyItem
from portside.domain.errors import InvalidParameterException
from portside.domain.scope import Scope
from portside.store.store import Store


def provider_arn(scope: Scope, name: str) -> str:
    return scope.ecs(f"capacity-provider/{name}")


def find_provider(store: Store, scope: Scope, name_or_arn: str) -> CapacityProvider | None:
    arn = name_or_arn if name_or_arn.startswith("arn:") else provider_arn(scope, name_or_arn)
    found = store.get(CapacityProvider.KIND, arn)
    return found if isinstance(found, CapacityProvider) and found.status == "ACTIVE" else None


def check_cluster_providers(
    store: Store, scope: Scope, providers: Sequence[str], default: Sequence[StrategyItem]
) -> None:
    """A cluster may name FARGATE, FARGATE_SPOT and ACTIVE providers; its default
    strategy may use only providers it names."""
    if len(set(providers)) != len(providers):
        raise InvalidParameterException("The list of capacity providers contains duplicates.")
    for name in providers:
        if name not in FARGATE_PROVIDERS and find_provider(store, scope, name) is None:
            raise InvalidParameterException(
                f"The specified capacity provider {name} does not exist or is not ACTIVE."
            )
    for item in default:
        if item.capacity_provider not in providers:
            raise InvalidParameterException(
                f"The capacity provider {item.capacity_provider} in the default strategy "
                "is not associated with the cluster. Add it with PutClusterCapacityProviders."
            )


def providers_in_use(store: Store, cluster: Cluster) -> set[str]:
    """Providers named by the cluster's non-stopped services and tasks."""
    used: set[str] = set()
    for s in store.children("service", cluster.cluster_arn).values():
        if s.status != "INACTIVE":
            used.update(i.capacity_provider for i in s.capacity_provider_strategy)
    for t in store.children("task", cluster.cluster_arn).values():
        if t.last_status != "STOPPED" and t.capacity_provider_name:
            used.add(t.capacity_provider_name)
    return used

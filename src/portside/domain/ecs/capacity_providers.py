"""Capacity provider operations and the checks clusters make against them.

FARGATE and FARGATE_SPOT exist in every account and region and cannot be
created, updated or deleted. Every other provider is backed by one Auto Scaling
group (named by ARN or by name), and a group backs at most one ACTIVE provider.
Managed termination protection needs managed scaling and, when portside holds
the group, a group whose new instances are protected from scale-in.

Deleting a provider that a cluster still names is not an error in ECS: the call
succeeds, the provider stays ACTIVE and its ``update_status`` becomes
DELETE_FAILED with the reason. A provider that can go becomes INACTIVE with
DELETE_COMPLETE at once (there is no Auto Scaling group to detach here) and
keeps describing, as ECS keeps INACTIVE providers discoverable for a while.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from portside.aws.arn import parse_arn
from portside.domain.autoscaling.groups import groups_of
from portside.domain.ecs.capacity_provider import (
    DISABLED,
    ENABLED,
    FARGATE_PROVIDERS,
    AutoScalingGroupProvider,
    CapacityProvider,
    ManagedScaling,
)
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.model import Failure, StrategyItem
from portside.domain.ecs.tags import parse_tags
from portside.domain.errors import (
    ClientException,
    InvalidParameterException,
    UnsupportedFeatureException,
)
from portside.domain.pagination import paginate
from portside.domain.scope import Scope
from portside.store.store import Store

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_RESERVED = ("aws", "ecs", "fargate")
MAX_DESCRIBE = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def provider_arn(scope: Scope, name: str) -> str:
    return scope.ecs(f"capacity-provider/{name}")


def _ref_name(name_or_arn: str) -> str:
    """The provider name a reference (name or ARN) names."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn.rsplit("/", 1)[-1]
    return name_or_arn


def find_provider(store: Store, scope: Scope, name_or_arn: str) -> CapacityProvider | None:
    arn = name_or_arn if name_or_arn.startswith("arn:") else provider_arn(scope, name_or_arn)
    found = store.get(CapacityProvider.KIND, arn)
    return found if isinstance(found, CapacityProvider) and found.status == "ACTIVE" else None


def fargate_provider(scope: Scope, name: str) -> CapacityProvider:
    """FARGATE or FARGATE_SPOT, as every account sees it."""
    return CapacityProvider(
        capacity_provider_arn=provider_arn(scope, name),
        name=name,
        created_at=_EPOCH,
        type=name,
    )


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


# -- validation ------------------------------------------------------------


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InvalidParameterException(
            "The capacity provider name is invalid. Up to 255 letters (uppercase and "
            "lowercase), numbers, underscores and hyphens are allowed."
        )
    if name.lower().startswith(_RESERVED):
        raise InvalidParameterException(
            "The capacity provider name cannot be prefixed with aws, ecs, or fargate."
        )


def _group_ref(raw: str) -> str:
    """A validated Auto Scaling group reference (its ARN or its name)."""
    if raw.startswith("arn:"):
        arn = parse_arn(raw)
        if arn is None or arn.service != "autoscaling" or "autoScalingGroupName/" not in raw:
            raise InvalidParameterException(
                f"The Auto Scaling group ARN {raw!r} is not valid. Specify the ARN of an "
                "Auto Scaling group (arn:aws:autoscaling:REGION:ACCOUNT:autoScalingGroup:"
                "ID:autoScalingGroupName/NAME) or its name."
            )
    elif not raw.strip():
        raise InvalidParameterException("autoScalingGroupArn must not be empty.")
    return raw


def _scaling(raw: Mapping[str, Any] | None, base: ManagedScaling) -> ManagedScaling:
    """``base`` with the members ``raw`` sets (bounds are checked by the model)."""
    if raw is None:
        return base
    merged = dataclasses.replace(
        base, **{f.name: raw[f.name] for f in dataclasses.fields(base) if f.name in raw}
    )
    if merged.minimum_scaling_step_size > merged.maximum_scaling_step_size:
        raise InvalidParameterException(
            "The managed scaling minimumScalingStepSize cannot be greater than "
            "maximumScalingStepSize."
        )
    return merged


def _check_protection(group: AutoScalingGroupProvider) -> None:
    if group.managed_termination_protection == ENABLED and not group.managed_scaling.enabled:
        raise ClientException(
            "The managed termination protection setting for the capacity provider is invalid. "
            "To enable managed termination protection for a capacity provider, the capacity "
            "provider must have managed scaling enabled."
        )


def _check_group_protected(store: Store, scope: Scope, group: AutoScalingGroupProvider) -> None:
    """Managed termination protection needs a group whose new instances are protected
    from scale-in (NewInstancesProtectedFromScaleIn), as ECS checks. A group portside
    does not hold (created later, or run elsewhere) is not checked."""
    if group.managed_termination_protection != ENABLED:
        return
    found = groups_of(store, scope).get(group.group_name)
    if found is not None and not found.new_instances_protected_from_scale_in:
        raise ClientException(
            "The managed termination protection setting for the capacity provider is invalid. "
            "To enable managed termination protection for a capacity provider, the Auto "
            "Scaling group must have instance protection from scale in enabled."
        )


def _check_group_free(
    store: Store, scope: Scope, group: AutoScalingGroupProvider, owner: str
) -> None:
    """An Auto Scaling group backs at most one ACTIVE provider of the account and region."""
    prefix = scope.ecs("capacity-provider/")
    for key, other in store.all(CapacityProvider.KIND).items():
        g = other.auto_scaling_group_provider
        if not (other.active and key.startswith(prefix) and key != owner and g):
            continue
        if g.group_name == group.group_name:
            raise ClientException(
                "The specified Auto Scaling group ARN is already being used by another "
                "capacity provider. Specify a unique Auto Scaling group ARN and try again."
            )


def _no_managed_instances(managed_instances_provider: Any) -> None:
    if managed_instances_provider is not None:
        raise UnsupportedFeatureException(
            "portside serves Auto Scaling group capacity providers; Amazon ECS Managed "
            "Instances capacity providers are not supported."
        )


def _get(store: Store, scope: Scope, name_or_arn: str) -> CapacityProvider:
    if _ref_name(name_or_arn) in FARGATE_PROVIDERS:
        raise InvalidParameterException(
            "The FARGATE and FARGATE_SPOT capacity providers are reserved and cannot be "
            "updated or deleted."
        )
    found = find_provider(store, scope, name_or_arn)
    if found is None:
        raise ClientException(
            "The specified capacity provider does not exist. Specify a valid name or ARN "
            "and try again."
        )
    return found


# -- operations ------------------------------------------------------------


def create_capacity_provider(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    name: str,
    auto_scaling_group_provider: Mapping[str, Any] | None = None,
    managed_instances_provider: Mapping[str, Any] | None = None,
    cluster: str | None = None,
    tags: Sequence[Mapping[str, Any]] | None = None,
) -> CapacityProvider:
    _check_name(name)
    _no_managed_instances(managed_instances_provider)
    if auto_scaling_group_provider is None:
        raise InvalidParameterException(
            "autoScalingGroupProvider is required: portside capacity providers are backed "
            "by an Auto Scaling group."
        )
    raw = auto_scaling_group_provider
    group = AutoScalingGroupProvider(
        auto_scaling_group_arn=_group_ref(raw["auto_scaling_group_arn"]),
        managed_scaling=_scaling(raw.get("managed_scaling"), ManagedScaling()),
        managed_termination_protection=raw.get("managed_termination_protection", DISABLED),
        managed_draining=raw.get("managed_draining", ENABLED),
    )
    _check_protection(group)
    _check_group_protected(store, scope, group)
    arn = provider_arn(scope, name)
    if find_provider(store, scope, arn) is not None:
        raise ClientException(
            "The specified capacity provider already exists. To change the configuration "
            "of an existing capacity provider, update the capacity provider."
        )
    _check_group_free(store, scope, group, arn)
    provider = CapacityProvider(
        capacity_provider_arn=arn,
        name=name,
        created_at=now,
        auto_scaling_group_provider=group,
        tags=parse_tags(tags),
    )
    store.commit([provider])
    return provider


def update_capacity_provider(
    store: Store,
    scope: Scope,
    *,
    name: str,
    auto_scaling_group_provider: Mapping[str, Any] | None = None,
    managed_instances_provider: Mapping[str, Any] | None = None,
    cluster: str | None = None,
) -> CapacityProvider:
    _no_managed_instances(managed_instances_provider)
    current = _get(store, scope, name)
    group = current.auto_scaling_group_provider
    assert group is not None  # every non-Fargate provider has one
    raw = auto_scaling_group_provider or {}
    changed = dataclasses.replace(
        group,
        managed_scaling=_scaling(raw.get("managed_scaling"), group.managed_scaling),
        managed_termination_protection=raw.get(
            "managed_termination_protection", group.managed_termination_protection
        ),
        managed_draining=raw.get("managed_draining", group.managed_draining),
    )
    _check_protection(changed)
    _check_group_protected(store, scope, changed)
    updated = dataclasses.replace(
        current,
        auto_scaling_group_provider=changed,
        update_status="UPDATE_COMPLETE",
        update_status_reason=None,
    )
    store.commit([updated])
    return updated


def _blocker(store: Store, scope: Scope, provider: CapacityProvider) -> str | None:
    """Why ``provider`` cannot be deleted now (ECS's reason), or None."""
    refs = {provider.name, provider.capacity_provider_arn}
    prefix = scope.ecs("cluster/")
    for key, cluster in store.all(Cluster.KIND).items():
        if not (cluster.active and key.startswith(prefix)):
            continue
        if refs & set(cluster.capacity_providers):
            return (
                "The capacity provider cannot be deleted because it is associated with "
                f"cluster: {cluster.cluster_name}. Remove the capacity provider from the "
                "cluster and try again."
            )
        for svc in store.children("service", cluster.cluster_arn).values():
            if svc.status != "INACTIVE" and refs & {
                i.capacity_provider for i in svc.capacity_provider_strategy
            }:
                return (
                    "The capacity provider cannot be deleted because it is used in the "
                    f"capacity provider strategy of service: {svc.service_name}. Update the "
                    "service to remove the capacity provider and try again."
                )
    return None


def delete_capacity_provider(
    store: Store, scope: Scope, *, capacity_provider: str, cluster: str | None = None
) -> CapacityProvider:
    current = _get(store, scope, capacity_provider)
    reason = _blocker(store, scope, current)
    if reason is not None:
        result = dataclasses.replace(
            current, update_status="DELETE_FAILED", update_status_reason=reason
        )
    else:
        result = dataclasses.replace(
            current, status="INACTIVE", update_status="DELETE_COMPLETE", update_status_reason=None
        )
    store.commit([result])
    return result


def describe_capacity_providers(
    store: Store,
    scope: Scope,
    *,
    capacity_providers: Sequence[str] | None = None,
    cluster: str | None = None,
    include: Sequence[str] | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> tuple[list[CapacityProvider], list[Failure], str | None]:
    """Named providers (or all, a page at a time), with MISSING failures.

    Without ``include=["TAGS"]`` every provider's tags are empty, as ECS answers.
    With ``cluster``, only the providers that cluster names.
    """
    known = _known(store, scope)
    if cluster is not None:
        from portside.domain.ecs.clusters import get_cluster

        names = {_ref_name(n) for n in get_cluster(store, scope, cluster).capacity_providers}
        known = {arn: p for arn, p in known.items() if p.name in names}
    found: list[CapacityProvider] = []
    failures: list[Failure] = []
    token = None
    if capacity_providers:
        if len(capacity_providers) > MAX_DESCRIBE:
            raise InvalidParameterException(
                f"Up to {MAX_DESCRIBE} capacity providers can be described in an action."
            )
        for ref in capacity_providers:
            arn = ref if ref.startswith("arn:") else provider_arn(scope, ref)
            provider = known.get(arn)
            if provider is None:
                failures.append(Failure(arn=arn, reason="MISSING"))
            else:
                found.append(provider)
    else:
        page = paginate(list(known), next_token, max_results, default=10, limit=10)
        found = [known[arn] for arn in page.items]
        token = page.next_token
    if "TAGS" not in (include or ()):
        found = [dataclasses.replace(p, tags=()) for p in found]
    return found, failures, token


def _known(store: Store, scope: Scope) -> dict[str, CapacityProvider]:
    """Every provider this scope sees, by ARN: its own in creation order, then Fargate's."""
    prefix = scope.ecs("capacity-provider/")
    known = {k: p for k, p in store.all(CapacityProvider.KIND).items() if k.startswith(prefix)}
    for name in FARGATE_PROVIDERS:
        p = fargate_provider(scope, name)
        known[p.capacity_provider_arn] = p
    return known

"""Cluster operations: create, describe, list, update, delete."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from portside.aws.arn import is_arn
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.model import Failure, KeyValue, StrategyItem
from portside.domain.ecs.tags import parse_tags
from portside.domain.errors import (
    ClusterContainsContainerInstancesException,
    ClusterContainsServicesException,
    ClusterContainsTasksException,
    ClusterNotFoundException,
    InvalidParameterException,
    NamespaceNotFoundException,
)
from portside.domain.pagination import Page, paginate
from portside.domain.scope import Scope
from portside.store.store import Store

DEFAULT = "default"
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def cluster_arn(scope: Scope, name_or_arn: str | None) -> str:
    """The ARN a cluster reference names (a name, an ARN, or None for ``default``)."""
    ref = name_or_arn or DEFAULT
    if is_arn(ref):
        return ref
    return scope.ecs(f"cluster/{ref}")


def get_cluster(store: Store, scope: Scope, name_or_arn: str | None) -> Cluster:
    """The ACTIVE cluster a reference names, or ClusterNotFoundException."""
    cluster = store.get(Cluster.KIND, cluster_arn(scope, name_or_arn))
    if cluster is None or not cluster.active:
        raise ClusterNotFoundException("Cluster not found.")
    assert isinstance(cluster, Cluster)
    return cluster


def _settings(raw: Sequence[Mapping[str, Any]] | None) -> tuple[KeyValue, ...]:
    if raw is None:
        return (KeyValue("containerInsights", "disabled"),)
    out = []
    for s in raw:
        if s.get("name") != "containerInsights" or s.get("value") not in (
            "enabled",
            "disabled",
            "enhanced",
        ):
            raise InvalidParameterException(
                "Cluster setting containerInsights takes enabled, enhanced or disabled."
            )
        out.append(KeyValue(s["name"], s["value"]))
    return tuple(out)


def strategy(raw: Sequence[Mapping[str, Any]] | None) -> tuple[StrategyItem, ...]:
    """A validated capacity provider strategy (ECS: weight 0-1,000, base 0-100,000, one base)."""
    items = tuple(
        StrategyItem(s["capacity_provider"], s.get("weight", 0), s.get("base", 0))
        for s in raw or ()
    )
    names = [i.capacity_provider for i in items]
    if len(set(names)) != len(names):
        raise InvalidParameterException(
            "The capacity provider strategy contains a capacity provider more than once."
        )
    if len(items) > 20:
        raise InvalidParameterException("A capacity provider strategy has at most 20 entries.")
    for i in items:
        if not 0 <= i.weight <= 1000:
            raise InvalidParameterException("A capacity provider weight must be 0 to 1000.")
        if not 0 <= i.base <= 100000:
            raise InvalidParameterException("A capacity provider base must be 0 to 100000.")
    if sum(1 for i in items if i.base > 0) > 1:
        raise InvalidParameterException(
            "Only one capacity provider in a strategy can have a base defined."
        )
    if items and all(i.weight == 0 for i in items):
        raise InvalidParameterException(
            "At least one capacity provider in a strategy must have a weight greater than 0."
        )
    return items


def create_cluster(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    cluster_name: str | None = None,
    tags: Sequence[Mapping[str, Any]] | None = None,
    settings: Sequence[Mapping[str, Any]] | None = None,
    configuration: Mapping[str, Any] | None = None,
    capacity_providers: Sequence[str] | None = None,
    default_capacity_provider_strategy: Sequence[Mapping[str, Any]] | None = None,
    service_connect_defaults: Mapping[str, Any] | None = None,
) -> Cluster:
    name = cluster_name or DEFAULT
    if not _NAME.match(name):
        raise InvalidParameterException(
            "Cluster names can have up to 255 letters, numbers, hyphens and underscores."
        )
    arn = cluster_arn(scope, name)
    existing = store.get(Cluster.KIND, arn)
    if existing is not None and existing.active:
        return existing  # type: ignore[no-any-return]
    from portside.domain.ecs.capacity_providers import check_cluster_providers

    providers = tuple(capacity_providers or ())
    default_strategy = strategy(default_capacity_provider_strategy)
    check_cluster_providers(store, scope, providers, default_strategy)
    connect_defaults = (
        None if service_connect_defaults is None
        else _connect_defaults(store, scope, now, service_connect_defaults)
    )
    cluster = Cluster(
        cluster_arn=arn,
        cluster_name=name,
        created_at=now,
        settings=_settings(settings),
        configuration=configuration,
        capacity_providers=providers,
        default_capacity_provider_strategy=default_strategy,
        tags=parse_tags(tags),
        service_connect_defaults=connect_defaults,
    )
    store.commit([cluster])
    return cluster


def _connect_defaults(
    store: Store, scope: Scope, now: datetime, raw: Mapping[str, Any]
) -> dict[str, str] | None:
    """``serviceConnectDefaults`` as ECS keeps it: the namespace's ARN.

    The ECS API reference: an existing namespace (name or ARN, any type, this account
    and Region) is used; a new name makes ECS create an HTTP (API calls only) Cloud Map
    namespace of that name; "" removes the default (the namespace stays in Cloud Map).
    """
    from portside.domain.ecs.service_connect import find_namespace
    from portside.domain.servicediscovery import namespaces
    from portside.domain.servicediscovery.errors import InvalidInput, NamespaceAlreadyExists

    ref = str(raw.get("namespace") or "")
    if not ref:
        return None
    ns = find_namespace(store, scope, ref)
    if ns is None and is_arn(ref):
        raise NamespaceNotFoundException(f"Namespace {ref} was not found in Cloud Map.")
    if ns is None:
        if len(ref) > 1024 or any(ch in ref for ch in '<>"/'):
            raise InvalidParameterException(
                "A Service Connect namespace name has up to 1024 characters and no >, <, \" "
                "or /."
            )
        try:
            namespaces.create_http_namespace(store, scope, now, name=ref)
        except (InvalidInput, NamespaceAlreadyExists) as exc:
            raise InvalidParameterException(
                f"Cannot create the Cloud Map namespace {ref!r}: {exc}"
            ) from None
        ns = find_namespace(store, scope, ref)
        assert ns is not None  # just created
    return {"namespace": ns.arn}


def statistics(store: Store, cluster: Cluster) -> dict[str, int]:
    """The counts every Cluster description carries."""
    from portside.domain.ecs.fargate import is_pool

    arn = cluster.cluster_arn
    instances = store.children("container_instance", arn)
    tasks = store.children("task", arn)
    services = store.children("service", arn)
    running = sum(1 for t in tasks.values() if t.last_status == "RUNNING")
    pending = sum(1 for t in tasks.values() if t.last_status in ("PROVISIONING", "PENDING", "ACTIVATING"))
    return {
        "registered_container_instances_count": sum(
            1 for i in instances.values()
            if i.status in ("ACTIVE", "DRAINING") and not is_pool(i)
        ),
        "running_tasks_count": running,
        "pending_tasks_count": pending,
        "active_services_count": sum(1 for s in services.values() if s.status == "ACTIVE"),
    }


def _detailed_statistics(store: Store, cluster: Cluster) -> list[dict[str, str]]:
    counts: dict[str, int] = {}
    for t in store.children("task", cluster.cluster_arn).values():
        if t.last_status == "STOPPED":
            continue
        kind = "Fargate" if t.launch_type == "FARGATE" else "EC2"
        state = "running" if t.last_status == "RUNNING" else "pending"
        source = "Service" if (t.group or "").startswith("service:") else ""
        for key in (f"{state}{kind}TasksCount", f"{state}{kind}{source}TasksCount" if source else ""):
            if key:
                counts[key] = counts.get(key, 0) + 1
    names = [
        "runningEC2TasksCount", "runningFargateTasksCount", "pendingEC2TasksCount",
        "pendingFargateTasksCount", "activeEC2ServiceCount", "activeFargateServiceCount",
        "drainingEC2ServiceCount", "drainingFargateServiceCount",
    ]
    for s in store.children("service", cluster.cluster_arn).values():
        kind = "Fargate" if s.launch_type == "FARGATE" else "EC2"
        if s.status in ("ACTIVE", "DRAINING"):
            key = f"{s.status.lower()}{kind}ServiceCount"
            counts[key] = counts.get(key, 0) + 1
    return [{"name": n, "value": str(counts.get(n, 0))} for n in names]


def describe_clusters(
    store: Store,
    scope: Scope,
    *,
    clusters: Sequence[str] | None = None,
    include: Sequence[str] | None = None,
) -> tuple[list[dict[str, Any]], list[Failure]]:
    wanted = set(include or ())
    found: list[dict[str, Any]] = []
    failures: list[Failure] = []
    for ref in clusters or [DEFAULT]:
        arn = cluster_arn(scope, ref)
        cluster = store.get(Cluster.KIND, arn)
        if cluster is None:
            failures.append(Failure(arn=arn, reason="MISSING"))
            continue
        view = _as_dict(cluster)
        view.update(statistics(store, cluster))
        if "STATISTICS" in wanted:
            view["statistics"] = _detailed_statistics(store, cluster)
        if "TAGS" not in wanted:
            view.pop("tags", None)
        if "SETTINGS" not in wanted:
            view.pop("settings", None)
        if "CONFIGURATIONS" not in wanted:
            view.pop("configuration", None)
        if "ATTACHMENTS" in wanted:
            view["attachments"] = []
            view["attachments_status"] = "UPDATE_COMPLETE"
        found.append(view)
    return found, failures


def _as_dict(cluster: Cluster) -> dict[str, Any]:
    return {f.name: getattr(cluster, f.name) for f in dataclasses.fields(cluster)}


def list_clusters(
    store: Store, scope: Scope, *, next_token: str | None = None, max_results: int | None = None
) -> Page:
    prefix = scope.ecs("cluster/")
    keys = [k for k, c in store.all(Cluster.KIND).items() if c.active and k.startswith(prefix)]
    return paginate(keys, next_token, max_results)


def update_cluster(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    cluster: str,
    settings: Sequence[Mapping[str, Any]] | None = None,
    configuration: Mapping[str, Any] | None = None,
    service_connect_defaults: Mapping[str, Any] | None = None,
) -> Cluster:
    current = get_cluster(store, scope, cluster)
    changes: dict[str, Any] = {}
    if settings is not None:
        changes["settings"] = _settings(settings)
    if configuration is not None:
        changes["configuration"] = configuration
    if service_connect_defaults is not None:
        changes["service_connect_defaults"] = _connect_defaults(
            store, scope, now, service_connect_defaults
        )
    updated = dataclasses.replace(current, **changes)
    store.commit([updated])
    return updated


def put_cluster_capacity_providers(
    store: Store,
    scope: Scope,
    *,
    cluster: str,
    capacity_providers: Sequence[str],
    default_capacity_provider_strategy: Sequence[Mapping[str, Any]],
) -> Cluster:
    from portside.domain.ecs.capacity_providers import check_cluster_providers, providers_in_use

    current = get_cluster(store, scope, cluster)
    providers = tuple(capacity_providers)
    default_strategy = strategy(default_capacity_provider_strategy)
    check_cluster_providers(store, scope, providers, default_strategy)
    in_use = providers_in_use(store, current) - set(providers)
    if in_use:
        from portside.domain.errors import ResourceInUseException

        raise ResourceInUseException(
            f"The capacity provider {sorted(in_use)[0]} is in use by a service or task "
            "in the cluster and cannot be removed."
        )
    updated = dataclasses.replace(
        current, capacity_providers=providers, default_capacity_provider_strategy=default_strategy
    )
    store.commit([updated])
    return updated


def delete_cluster(store: Store, scope: Scope, *, cluster: str) -> Cluster:
    current = get_cluster(store, scope, cluster)
    arn = current.cluster_arn
    if any(s.status in ("ACTIVE", "DRAINING") for s in store.children("service", arn).values()):
        raise ClusterContainsServicesException(
            "The Cluster cannot be deleted while Services are active."
        )
    from portside.domain.ecs.fargate import is_pool

    # The hidden Fargate pool (registered in ``default``) is no instance of the user's:
    # it stays registered and keeps serving the other clusters' Fargate tasks.
    if any(
        i.status in ("ACTIVE", "DRAINING") and not is_pool(i)
        for i in store.children("container_instance", arn).values()
    ):
        raise ClusterContainsContainerInstancesException(
            "The Cluster cannot be deleted while Container Instances are active or draining."
        )
    if any(t.last_status != "STOPPED" for t in store.children("task", arn).values()):
        raise ClusterContainsTasksException(
            "The Cluster cannot be deleted while Tasks are active."
        )
    gone = dataclasses.replace(current, status="INACTIVE")
    store.commit([gone])
    return gone

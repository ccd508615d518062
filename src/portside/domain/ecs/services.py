"""Service operations: create, update, describe, list, delete.

This module records what the user asked for; the service controller
(controllers/services.py) launches and stops tasks to make it so.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from portside.aws.arn import is_arn
from portside.controllers.deployment_history import track
from portside.domain.ecs import service_deployments
from portside.domain.ecs.clusters import cluster_arn, get_cluster, strategy
from portside.domain.ecs.model import Failure
from portside.domain.ecs.service import (
    Service,
)
from portside.domain.ecs.service_connect import (
    IDLE_DEFAULT,
    PER_REQUEST_DEFAULT,
    check_service_connect,
    ensure_discovery_services,
)
from portside.domain.ecs.service_deployments import primary_deployment, start_deployment
from portside.domain.ecs.service_registries import check_service_registries
from portside.domain.ecs.tags import parse_tags
from portside.domain.ecs.task_launch import (
    check_launch_target,
    check_network,
    launch_target,
    require_active,
)
from portside.domain.errors import (
    InvalidParameterException,
    ServiceNotActiveException,
    ServiceNotFoundException,
)
from portside.domain.pagination import Page, paginate
from portside.domain.scope import Scope
from portside.store.store import Store

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def service_arn(scope: Scope, cluster_name: str, name_or_arn: str) -> str:
    if is_arn(name_or_arn):
        return name_or_arn
    return scope.ecs(f"service/{cluster_name}/{name_or_arn}")


def find_service(store: Store, scope: Scope, cluster: str | None, ref: str) -> Service | None:
    """The service a name or ARN names in a cluster (any status), or None."""
    c_arn = cluster_arn(scope, cluster)
    c_name = c_arn.rsplit("/", 1)[-1]
    found = store.get(Service.KIND, service_arn(scope, c_name, ref))
    if isinstance(found, Service) and found.cluster_arn == c_arn:
        return found
    return None


def get_service(store: Store, scope: Scope, cluster: str | None, ref: str) -> Service:
    """The ACTIVE service a reference names; ServiceNotFound / ServiceNotActive otherwise."""
    get_cluster(store, scope, cluster)
    svc = find_service(store, scope, cluster, ref)
    if svc is None:
        raise ServiceNotFoundException("Service not found.")
    if svc.status != "ACTIVE":
        raise ServiceNotActiveException("Service was not ACTIVE.")
    return svc


def create_service(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    service_name: str,
    cluster: str | None = None,
    task_definition: str | None = None,
    desired_count: int | None = None,
    client_token: str | None = None,
    launch_type: str | None = None,
    capacity_provider_strategy: Sequence[Mapping[str, Any]] | None = None,
    platform_version: str | None = None,
    role: str | None = None,
    deployment_configuration: Mapping[str, Any] | None = None,
    placement_constraints: Sequence[Any] | None = None,
    placement_strategy: Sequence[Any] | None = None,
    network_configuration: Mapping[str, Any] | None = None,
    health_check_grace_period_seconds: int | None = None,
    scheduling_strategy: str | None = None,
    deployment_controller: Mapping[str, Any] | None = None,
    tags: Sequence[Mapping[str, Any]] | None = None,
    enable_ecs_managed_tags: bool | None = None,
    propagate_tags: str | None = None,
    enable_execute_command: bool | None = None,
    load_balancers: Sequence[Any] | None = None,
    service_registries: Sequence[Any] | None = None,
    service_connect_configuration: Mapping[str, Any] | None = None,
    volume_configurations: Sequence[Any] | None = None,
    vpc_lattice_configurations: Sequence[Any] | None = None,
    availability_zone_rebalancing: str | None = None,
) -> Service:
    from portside.domain.ecs.placement_rules import check_placement
    from portside.domain.ecs.task_definitions import resolve_task_definition

    c = get_cluster(store, scope, cluster)
    if not _NAME.match(service_name):
        raise InvalidParameterException(
            "Service names can have up to 255 letters, numbers, hyphens and underscores."
        )
    arn = service_arn(scope, c.cluster_name, service_name)
    existing = store.get(Service.KIND, arn)
    if isinstance(existing, Service) and existing.status != "INACTIVE":
        if client_token and existing.client_token == client_token:
            return existing
        raise InvalidParameterException("Creation of service was not idempotent.")
    scheduling = scheduling_strategy or "REPLICA"
    if scheduling == "DAEMON":
        if desired_count:
            raise InvalidParameterException(
                "The daemon scheduling strategy does not support a desired count for services."
            )
        if placement_strategy:
            raise InvalidParameterException(
                "The daemon scheduling strategy does not support placement strategies."
            )
    elif desired_count is None:
        raise InvalidParameterException("desiredCount is required for a REPLICA service.")
    if task_definition is None:
        raise InvalidParameterException("TaskDefinition must be specified.")
    td = resolve_task_definition(store, scope, task_definition)
    require_active(td)
    lt, cps = launch_target(store, scope, c, td, launch_type, capacity_provider_strategy)
    check_network(td, network_configuration)
    constraints, strategies = check_placement(placement_constraints, placement_strategy)
    registries = check_service_registries(store, td, lt, service_registries)
    sc = ensure_discovery_services(
        store, scope, now,
        check_service_connect(store, scope, c, td, lt, service_connect_configuration, arn),
    )
    cfg = service_deployments.deployment_configuration(deployment_configuration, scheduling)
    svc = Service(
        service_arn=arn,
        service_name=service_name,
        cluster_arn=c.cluster_arn,
        created_at=now,
        task_definition=td.task_definition_arn,
        desired_count=desired_count or 0,
        launch_type=lt,
        capacity_provider_strategy=cps,
        platform_version=platform_version,
        load_balancers=tuple(load_balancers or ()),
        service_registries=registries,
        deployment_configuration=cfg,
        role_arn=role,
        placement_constraints=constraints,
        placement_strategy=strategies,
        network_configuration=network_configuration,
        health_check_grace_period_seconds=health_check_grace_period_seconds,
        scheduling_strategy=scheduling,
        deployment_controller=deployment_controller or {"type": "ECS"},
        tags=parse_tags(tags),
        created_by=scope.arn("iam", "root").replace(":iam:" + scope.region, ":iam:"),
        enable_ecs_managed_tags=bool(enable_ecs_managed_tags),
        propagate_tags=propagate_tags or "NONE",
        enable_execute_command=bool(enable_execute_command),
        service_connect_configuration=sc,
        availability_zone_rebalancing=availability_zone_rebalancing,
        client_token=client_token,
    )
    svc = dataclasses.replace(svc, deployments=(primary_deployment(svc, now),))
    store.commit([svc, *track(store, svc, now)])
    return svc


def update_service(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    service: str,
    cluster: str | None = None,
    desired_count: int | None = None,
    task_definition: str | None = None,
    capacity_provider_strategy: Sequence[Mapping[str, Any]] | None = None,
    deployment_configuration: Mapping[str, Any] | None = None,
    network_configuration: Mapping[str, Any] | None = None,
    placement_constraints: Sequence[Any] | None = None,
    placement_strategy: Sequence[Any] | None = None,
    platform_version: str | None = None,
    force_new_deployment: bool | None = None,
    health_check_grace_period_seconds: int | None = None,
    enable_execute_command: bool | None = None,
    enable_ecs_managed_tags: bool | None = None,
    load_balancers: Sequence[Any] | None = None,
    propagate_tags: str | None = None,
    service_registries: Sequence[Any] | None = None,
    service_connect_configuration: Mapping[str, Any] | None = None,
    volume_configurations: Sequence[Any] | None = None,
    vpc_lattice_configurations: Sequence[Any] | None = None,
    availability_zone_rebalancing: str | None = None,
    deployment_controller: Mapping[str, Any] | None = None,
) -> Service:
    from portside.domain.ecs.placement_rules import check_placement
    from portside.domain.ecs.task_definitions import resolve_task_definition

    svc = get_service(store, scope, cluster, service)
    c = get_cluster(store, scope, cluster)
    changes: dict[str, Any] = {}
    new_deployment = bool(force_new_deployment)
    if desired_count is not None:
        if svc.scheduling_strategy == "DAEMON":
            raise InvalidParameterException(
                "The daemon scheduling strategy does not support a desired count for services."
            )
        changes["desired_count"] = desired_count
    td_arn = svc.task_definition
    if task_definition is not None:
        td = resolve_task_definition(store, scope, task_definition)
        require_active(td)
        if td.task_definition_arn != svc.task_definition:
            new_deployment = True
        td_arn = td.task_definition_arn
        changes["task_definition"] = td_arn
    td = resolve_task_definition(store, scope, td_arn)
    lt, cps = svc.launch_type, svc.capacity_provider_strategy
    if capacity_provider_strategy is not None:
        if svc.launch_type and capacity_provider_strategy:
            # ECS allows moving from a launch type to a strategy with a new deployment.
            lt = None
        cps = strategy(capacity_provider_strategy)
        if not cps:
            cps = c.default_capacity_provider_strategy
        check_launch_target(store, scope, c, td, lt, cps)
        changes.update(launch_type=lt, capacity_provider_strategy=cps)
        new_deployment = True
    if network_configuration is not None:
        check_network(td, network_configuration)
        changes["network_configuration"] = network_configuration
        new_deployment = True
    if placement_constraints is not None or placement_strategy is not None:
        if svc.scheduling_strategy == "DAEMON" and placement_strategy:
            raise InvalidParameterException(
                "The daemon scheduling strategy does not support placement strategies."
            )
        constraints, strategies = check_placement(
            placement_constraints if placement_constraints is not None else svc.placement_constraints,
            placement_strategy if placement_strategy is not None else svc.placement_strategy,
        )
        changes.update(placement_constraints=constraints, placement_strategy=strategies)
    if deployment_configuration is not None:
        changes["deployment_configuration"] = service_deployments.deployment_configuration(
            deployment_configuration, svc.scheduling_strategy, svc.deployment_configuration
        )
    simple = {
        "platform_version": platform_version,
        "health_check_grace_period_seconds": health_check_grace_period_seconds,
        "enable_execute_command": enable_execute_command,
        "enable_ecs_managed_tags": enable_ecs_managed_tags,
        "propagate_tags": propagate_tags,
        "availability_zone_rebalancing": availability_zone_rebalancing,
    }
    changes.update({k: v for k, v in simple.items() if v is not None})
    if load_balancers is not None:
        changes["load_balancers"] = tuple(load_balancers)
        new_deployment = True
    if service_registries is not None:
        changes["service_registries"] = check_service_registries(
            store, td, updated_launch_type(svc, changes), service_registries
        )
        new_deployment = True
    if service_connect_configuration is not None:
        changes["service_connect_configuration"] = ensure_discovery_services(
            store, scope, now,
            check_service_connect(
                store, scope, c, td, updated_launch_type(svc, changes),
                service_connect_configuration, svc.service_arn,
            ),
        )
        new_deployment = True
    elif td_arn != svc.task_definition and _connect_enabled(svc.service_connect_configuration):
        # the stored configuration names ports of the old definition: check it (and derive
        # its container, ports and timeouts) again against the new one
        changes["service_connect_configuration"] = ensure_discovery_services(
            store, scope, now,
            check_service_connect(
                store, scope, c, td, updated_launch_type(svc, changes),
                _as_requested(svc.service_connect_configuration), svc.service_arn,
            ),
        )
    if platform_version is not None and platform_version != svc.platform_version:
        new_deployment = True
    updated = dataclasses.replace(svc, **changes)
    deployments = list(updated.deployments)
    if new_deployment:
        deployments = list(start_deployment(updated, now))
    elif desired_count is not None:
        deployments = [
            dataclasses.replace(d, desired_count=desired_count, updated_at=now)
            if d.status == "PRIMARY"
            else d
            for d in deployments
        ]
    updated = dataclasses.replace(updated, deployments=tuple(deployments))
    store.commit([updated, *track(store, updated, now)])
    return updated


def visible(svc: Service) -> Service:
    """The service as ECS shows it: INACTIVE deployments (kept for rollback) hidden."""
    if all(d.status != "INACTIVE" for d in svc.deployments):
        return svc
    return dataclasses.replace(
        svc, deployments=tuple(d for d in svc.deployments if d.status != "INACTIVE")
    )


def _connect_enabled(cfg: Any) -> bool:
    return isinstance(cfg, Mapping) and bool(cfg.get("enabled"))


_DERIVED = ("discovery_arn", "container_name", "container_port", "app_protocol",
            "ingress_port", "network_mode")


def _as_requested(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A stored Service Connect configuration as its owner gave it (in its namespace).

    One stored before portside kept the request loses what it derived from the
    task definition, and the timeouts equal to its port's defaults."""
    if cfg.get("request"):
        return dict(cfg["request"])
    services = []
    for s in cfg.get("services") or ():
        given = {k: v for k, v in s.items() if k not in _DERIVED}
        protocol = s.get("app_protocol") or "tcp"
        defaults = {"idle_timeout_seconds": IDLE_DEFAULT.get(protocol),
                    "per_request_timeout_seconds": PER_REQUEST_DEFAULT}
        given["timeout"] = {k: v for k, v in (s.get("timeout") or {}).items()
                            if v != defaults.get(k)}
        services.append(given)
    return {**cfg, "services": services}


def updated_launch_type(svc: Service, changes: Mapping[str, Any]) -> str | None:
    lt = changes.get("launch_type", svc.launch_type)
    return lt if isinstance(lt, str) else None


def describe_services(
    store: Store,
    scope: Scope,
    *,
    services: Sequence[str],
    cluster: str | None = None,
    include: Sequence[str] | None = None,
) -> tuple[list[Any], list[Failure]]:
    if len(services) > 10:
        raise InvalidParameterException("At most 10 services can be described at once.")
    c = get_cluster(store, scope, cluster)
    found: list[Any] = []
    failures: list[Failure] = []
    for ref in services:
        svc = find_service(store, scope, cluster, ref)
        if svc is None:
            failures.append(Failure(arn=service_arn(scope, c.cluster_name, ref), reason="MISSING"))
            continue
        shown = visible(svc)
        found.append(shown if include and "TAGS" in include else dataclasses.replace(shown, tags=()))
    return found, failures


def list_services(
    store: Store,
    scope: Scope,
    *,
    cluster: str | None = None,
    launch_type: str | None = None,
    scheduling_strategy: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
    resource_management_type: str | None = None,
) -> Page:
    c = get_cluster(store, scope, cluster)
    keys = [
        s.service_arn
        for s in store.children(Service.KIND, c.cluster_arn).values()
        if s.status != "INACTIVE"
        and (launch_type is None or s.launch_type == launch_type)
        and (scheduling_strategy is None or s.scheduling_strategy == scheduling_strategy)
    ]
    return paginate(keys, next_token, max_results, default=10, limit=100)


def delete_service(
    store: Store, scope: Scope, now: datetime, *, service: str, cluster: str | None = None,
    force: bool | None = None,
) -> Service:
    get_cluster(store, scope, cluster)
    svc = find_service(store, scope, cluster, service)
    if svc is None:
        raise ServiceNotFoundException("Service not found.")
    if svc.status == "INACTIVE":
        raise ServiceNotActiveException("Service was not ACTIVE.")
    if svc.status == "DRAINING":
        return svc
    if svc.scheduling_strategy == "REPLICA" and svc.desired_count > 0 and not force:
        raise InvalidParameterException(
            "The service cannot be stopped while it is scaled above 0."
        )
    draining = dataclasses.replace(
        svc,
        status="DRAINING",
        desired_count=0,
        deployments=tuple(dataclasses.replace(d, desired_count=0, updated_at=now) for d in svc.deployments),
    )
    store.commit([draining, *track(store, draining, now)])
    return draining

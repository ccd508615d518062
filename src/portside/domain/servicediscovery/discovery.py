"""Finding instances and their health: DiscoverInstances, DiscoverInstancesRevision,
GetInstancesHealthStatus and UpdateInstanceCustomHealthStatus.

Health, as Cloud Map reports it:

- a service with HealthCheckCustomConfig: the status last set by
  UpdateInstanceCustomHealthStatus (or AWS_INIT_HEALTH_STATUS, default HEALTHY).
  Cloud Map waits about 30 seconds before acting on an update; portside applies
  it at once, so a failing ECS task leaves DNS answers immediately;
- a service with HealthCheckConfig: what portside's Route 53 health checker
  last observed (HEALTHY until enough checks fail; see health_checks.py);
- a service with no health check: UNKNOWN, and DiscoverInstances ignores the
  HealthStatus filter.

DiscoverInstances filters by QueryParameters (all must match), then by health,
then by OptionalParameters (applied only if some instance matches them), and
returns up to MaxResults (default 100) instances in random order.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping, Sequence
from typing import Any

from portside.domain.scope import Scope
from portside.domain.servicediscovery.errors import (
    CustomHealthNotFound,
    NamespaceNotFound,
    ServiceNotFound,
)
from portside.domain.servicediscovery.health_checks import status_of
from portside.domain.servicediscovery.instance import Instance
from portside.domain.servicediscovery.listing import page
from portside.domain.servicediscovery.model import HEALTHY, UNHEALTHY, UNKNOWN
from portside.domain.servicediscovery.namespace import Namespace
from portside.domain.servicediscovery.refs import (
    get_instance,
    get_service,
    instances_of,
    namespaces_in,
)
from portside.domain.servicediscovery.service import Service
from portside.store.store import Store

DEFAULT_DISCOVER_RESULTS = 100


def health_of(service: Service, inst: Instance) -> str:
    """HEALTHY, UNHEALTHY or UNKNOWN (the service has no health check)."""
    if service.health_check_custom_config is not None:
        return inst.custom_health or HEALTHY
    if service.health_check_config is not None:
        return status_of(inst)
    return UNKNOWN


def _find(
    store: Store, scope: Scope, namespace_name: str, service_name: str, owner: str | None
) -> tuple[Namespace, Service]:
    if owner is not None and owner != scope.account:
        raise NamespaceNotFound(f"Namespace not found: {namespace_name} in account {owner}")
    ns = next((n for n in namespaces_in(store, scope) if n.http_name == namespace_name), None)
    if ns is None:
        raise NamespaceNotFound(f"Namespace not found: {namespace_name}")
    services: list[Service] = list(store.children(Service.KIND, ns.id).values())
    svc = next((s for s in services if s.name == service_name), None)
    if svc is None and ns.is_dns:
        svc = next((s for s in services if s.name.lower() == service_name.lower()), None)
    if svc is None:
        raise ServiceNotFound(f"Service not found: {service_name} in namespace {namespace_name}")
    return ns, svc


def _has(inst: Instance, wanted: Mapping[str, str]) -> bool:
    return all(inst.attributes.get(k) == v for k, v in wanted.items())


def _by_health(svc: Service, found: list[Instance], wanted: str) -> list[Instance]:
    if not svc.has_health_check or wanted == "ALL":
        return found
    healthy = [i for i in found if health_of(svc, i) == HEALTHY]
    if wanted == HEALTHY:
        return healthy
    if wanted == UNHEALTHY:
        return [i for i in found if health_of(svc, i) == UNHEALTHY]
    return healthy or found  # HEALTHY_OR_ELSE_ALL


def discover_instances(
    store: Store,
    scope: Scope,
    *,
    namespace_name: str,
    service_name: str,
    max_results: int | None = None,
    query_parameters: Mapping[str, str] | None = None,
    optional_parameters: Mapping[str, str] | None = None,
    health_status: str | None = None,
    owner_account: str | None = None,
    rng: random.Random | None = None,
) -> dict[str, Any]:
    ns, svc = _find(store, scope, namespace_name, service_name, owner_account)
    found = [i for i in instances_of(store, svc.id) if _has(i, query_parameters or {})]
    found = _by_health(svc, found, health_status or HEALTHY)
    if optional_parameters:
        preferred = [i for i in found if _has(i, optional_parameters)]
        found = preferred or found
    (rng or random).shuffle(found)
    found = found[: max_results or DEFAULT_DISCOVER_RESULTS]
    return {
        "instances": [
            {
                "instance_id": i.id,
                "namespace_name": ns.http_name,
                "service_name": svc.name,
                "health_status": health_of(svc, i),
                "attributes": i.attributes,
            }
            for i in found
        ],
        "instances_revision": svc.instances_revision,
    }


def discover_instances_revision(
    store: Store,
    scope: Scope,
    *,
    namespace_name: str,
    service_name: str,
    owner_account: str | None = None,
) -> int:
    return _find(store, scope, namespace_name, service_name, owner_account)[1].instances_revision


def get_instances_health_status(
    store: Store,
    scope: Scope,
    *,
    service_id: str,
    instances: Sequence[str] | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    svc = get_service(store, scope, service_id)
    if instances is None:
        chosen = instances_of(store, svc.id)
    else:
        chosen = [get_instance(store, svc, i) for i in dict.fromkeys(instances)]
    one_page = page(chosen, next_token, max_results)
    return {
        "status": {i.id: health_of(svc, i) for i in one_page.items},
        "next_token": one_page.next_token,
    }


def update_instance_custom_health_status(
    store: Store, scope: Scope, *, service_id: str, instance_id: str, status: str
) -> None:
    svc = get_service(store, scope, service_id)
    inst = get_instance(store, svc, instance_id)
    if svc.health_check_custom_config is None:
        raise CustomHealthNotFound(
            f"Service {svc.id} has no HealthCheckCustomConfig: its instances' health "
            "cannot be set with UpdateInstanceCustomHealthStatus."
        )
    if inst.custom_health != status:
        store.commit([dataclasses.replace(inst, custom_health=status)])

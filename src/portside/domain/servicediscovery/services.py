"""Service operations: create, get, list, update, delete.

A service in a DNS namespace with a DnsConfig is DNS_HTTP (DNS queries and
DiscoverInstances find it); without one, or with Type HTTP, and in any HTTP
namespace, it is HTTP (DiscoverInstances only). In a DNS namespace service
names are DNS names, so two may not differ only by case.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from portside.domain.scope import Scope
from portside.domain.servicediscovery import ids, operation, operations, service_config
from portside.domain.servicediscovery.errors import (
    InvalidInput,
    ResourceInUse,
    ServiceAlreadyExists,
)
from portside.domain.servicediscovery.instance import Instance
from portside.domain.servicediscovery.listing import ListPage, check_filter, page
from portside.domain.servicediscovery.model import SERVICE_DNS_HTTP, SERVICE_HTTP, DnsConfig
from portside.domain.servicediscovery.namespace import Namespace
from portside.domain.servicediscovery.refs import get_namespace, instances_of, resource_id
from portside.domain.servicediscovery.refs import get_service as _get
from portside.domain.servicediscovery.service import Service
from portside.domain.servicediscovery.tagging import parse_tags
from portside.store.store import Delete, Store


def _namespace_of(
    store: Store, scope: Scope, namespace_id: str | None, dns_config: Mapping[str, Any] | None
) -> Namespace:
    legacy = (dns_config or {}).get("namespace_id")
    ref = namespace_id or legacy
    if not ref:
        raise InvalidInput("CreateService needs a NamespaceId.")
    ns = get_namespace(store, scope, ref)
    if legacy and resource_id(legacy, "namespace") != ns.id:
        raise InvalidInput("DnsConfig.NamespaceId names a different namespace than NamespaceId.")
    return ns


def _same_name(ns: Namespace, a: str, b: str) -> bool:
    return a.lower() == b.lower() if ns.is_dns else a == b


def create_service(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    name: str,
    namespace_id: str | None = None,
    creator_request_id: str | None = None,
    description: str | None = None,
    dns_config: Mapping[str, Any] | None = None,
    health_check_config: Mapping[str, Any] | None = None,
    health_check_custom_config: Mapping[str, Any] | None = None,
    tags: Sequence[Mapping[str, Any]] | None = None,
    type: str | None = None,
) -> Service:
    service_config.check_service_name(name)
    ns = _namespace_of(store, scope, namespace_id, dns_config)
    if dns_config is not None and not ns.is_dns:
        raise InvalidInput("Services in an HTTP namespace take no DnsConfig.")
    if dns_config is not None and type == SERVICE_HTTP:
        raise InvalidInput("A service of Type HTTP takes no DnsConfig.")
    if health_check_config is not None and health_check_custom_config is not None:
        raise InvalidInput("Specify HealthCheckConfig or HealthCheckCustomConfig, not both.")
    dns = service_config.dns_config(dns_config, ns) if dns_config is not None else None
    for old in store.children(Service.KIND, ns.id).values():
        if _same_name(ns, old.name, name):
            if creator_request_id and old.creator_request_id == creator_request_id:
                return old  # type: ignore[no-any-return]
            raise ServiceAlreadyExists(
                f"A service named {old.name!r} already exists in namespace {ns.id}: {old.id}.",
                service_id=old.id,
                service_arn=old.arn,
                creator_request_id=old.creator_request_id,
            )
    svc_id = ids.service_id()
    arn = scope.arn("servicediscovery", f"service/{svc_id}")
    svc = Service(
        id=svc_id,
        arn=arn,
        account=scope.account,
        region=scope.region,
        name=name,
        namespace_id=ns.id,
        type=SERVICE_DNS_HTTP if dns is not None else SERVICE_HTTP,
        created_at=now,
        creator_request_id=creator_request_id,
        description=description,
        dns_config=dns,
        health_check_config=service_config.health_check_config(health_check_config, ns, dns),
        health_check_custom_config=service_config.health_check_custom_config(
            health_check_custom_config
        ),
        tags=parse_tags(tags, arn),
        instances_revision=store.revision + 1,
    )
    store.commit([svc])
    return svc


def get_service(store: Store, scope: Scope, *, id: str) -> Service:
    return _get(store, scope, id)


_SERVICE_FILTERS = {"NAMESPACE_ID": ("EQ", "IN"), "RESOURCE_OWNER": ("EQ",)}


def list_services(
    store: Store,
    scope: Scope,
    *,
    next_token: str | None = None,
    max_results: int | None = None,
    filters: Sequence[Mapping[str, Any]] | None = None,
) -> ListPage[Service]:
    checked = [check_filter(f, _SERVICE_FILTERS) for f in filters or ()]
    found = [
        s
        for s in store.all(Service.KIND).values()
        if s.account == scope.account and s.region == scope.region
    ]
    for f in checked:
        if f.name == "NAMESPACE_ID":
            wanted = {resource_id(v, "namespace") for v in f.values}
            found = [s for s in found if s.namespace_id in wanted]
        elif f.values[0] not in ("SELF", "OTHER_ACCOUNTS"):
            raise InvalidInput("RESOURCE_OWNER takes SELF or OTHER_ACCOUNTS.")
        elif f.values[0] == "OTHER_ACCOUNTS":
            found = []  # no namespace is shared with this account
    return page(found, next_token, max_results)


def _updated_dns(svc: Service, raw: Mapping[str, Any] | None) -> DnsConfig | None:
    if raw is None:
        return svc.dns_config
    if svc.dns_config is None:
        raise InvalidInput(f"Service {svc.id} has no DnsConfig to update.")
    records = service_config.dns_records(raw.get("dns_records"))
    service_config.same_record_types(svc.dns_config, records)
    return dataclasses.replace(svc.dns_config, dns_records=records)


def update_service(
    store: Store, scope: Scope, now: datetime, *, id: str, service: Mapping[str, Any]
) -> str:
    """Change a service's description, record TTLs or Route 53 health check.

    In a DNS namespace, a HealthCheckConfig left out of the change is removed,
    as Cloud Map does; a DnsConfig left out stays. A service in an HTTP namespace
    can only have its description changed. HealthCheckCustomConfig never changes.
    """
    svc = _get(store, scope, id)
    ns = get_namespace(store, scope, svc.namespace_id)
    changes: dict[str, Any] = {}
    if service.get("description") is not None:
        changes["description"] = service["description"]
    raw_hc = service.get("health_check_config")
    if not ns.is_dns:
        if service.get("dns_config") is not None or raw_hc is not None:
            raise InvalidInput(
                "Only the description of a service in an HTTP namespace can be updated."
            )
    else:
        dns = _updated_dns(svc, service.get("dns_config"))
        if raw_hc is not None and svc.health_check_custom_config is not None:
            raise InvalidInput(
                "A service with HealthCheckCustomConfig cannot also have HealthCheckConfig."
            )
        changes["dns_config"] = dns
        hc = service_config.health_check_config(raw_hc, ns, dns)
        old_hc = svc.health_check_config
        if hc is not None and old_hc is not None and hc.type != old_hc.type:
            raise InvalidInput(
                f"The Type of a health check cannot be changed ({old_hc.type} to {hc.type}): "
                "remove the HealthCheckConfig, then add the new one."
            )
        changes["health_check_config"] = hc
    updated = dataclasses.replace(svc, **changes)
    op = operations.succeeded(
        scope, now, operation.UPDATE_SERVICE, {"SERVICE": svc.id}, namespace_id=ns.id
    )
    store.commit([updated, op, *_new_checks(store, svc, updated)])
    return op.id


def _new_checks(store: Store, old: Service, new: Service) -> list[Instance]:
    """A health check added or removed is a new check for every instance: what an earlier
    one found (Instance.checked_health) no longer counts, and it starts HEALTHY."""
    if (old.health_check_config is None) == (new.health_check_config is None):
        return []
    return [dataclasses.replace(i, checked_health=None)
            for i in instances_of(store, old.id) if i.checked_health is not None]


def delete_service(store: Store, scope: Scope, *, id: str) -> None:
    svc = _get(store, scope, id)
    if instances_of(store, svc.id):
        raise ResourceInUse(
            f"Service {svc.id} still has registered instances; deregister them first."
        )
    store.commit([Delete(Service.KIND, svc.id)])

"""Namespaces and services as the API describes them (snake_case; counts included).

The resources keep what they were given; these functions add what Cloud Map
derives (ServiceCount, InstanceCount, Properties, ResourceOwner) at read time.
"""

from __future__ import annotations

from typing import Any

from portside.domain.servicediscovery.instance import Instance
from portside.domain.servicediscovery.namespace import Namespace
from portside.domain.servicediscovery.service import Service
from portside.store.store import Store


def namespace_view(store: Store, ns: Namespace, *, summary: bool = False) -> dict[str, Any]:
    dns: dict[str, Any] = {}
    if ns.hosted_zone_id is not None:
        dns["hosted_zone_id"] = ns.hosted_zone_id
    if ns.soa_ttl is not None:
        dns["soa"] = {"ttl": ns.soa_ttl}
    view: dict[str, Any] = {
        "id": ns.id,
        "arn": ns.arn,
        "resource_owner": ns.account,
        "name": ns.name,
        "type": ns.type,
        "description": ns.description,
        "service_count": len(store.children(Service.KIND, ns.id)),
        "properties": {"dns_properties": dns, "http_properties": {"http_name": ns.http_name}},
        "create_date": ns.created_at,
    }
    if not summary:
        view["creator_request_id"] = ns.creator_request_id
    return view


def service_view(store: Store, svc: Service, *, summary: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": svc.id,
        "arn": svc.arn,
        "resource_owner": svc.account,
        "name": svc.name,
        "type": svc.type,
        "description": svc.description,
        "instance_count": len(store.children(Instance.KIND, svc.id)),
        "dns_config": svc.dns_config,
        "health_check_config": svc.health_check_config,
        "health_check_custom_config": svc.health_check_custom_config,
        "create_date": svc.created_at,
        "created_by_account": svc.account,
    }
    if not summary:
        view["namespace_id"] = svc.namespace_id
        view["creator_request_id"] = svc.creator_request_id
    return view

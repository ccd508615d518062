"""Finding namespaces, services and instances from the IDs or ARNs a request names.

Every ``Id`` / ``ServiceId`` / ``NamespaceId`` parameter takes either the ID
(``ns-…``) or the resource's ARN. A resource is visible only to requests in its
own account and Region; anything else is not found.
"""

from __future__ import annotations

from portside.aws.arn import parse_arn
from portside.domain.scope import Scope
from portside.domain.servicediscovery.errors import (
    InstanceNotFound,
    NamespaceNotFound,
    ServiceNotFound,
)
from portside.domain.servicediscovery.instance import Instance, instance_key
from portside.domain.servicediscovery.namespace import Namespace
from portside.domain.servicediscovery.service import Service
from portside.store.store import Store

SERVICE = "servicediscovery"


def resource_id(ref: str, resource_type: str) -> str:
    """The ID a reference names: the ID itself, or the last part of an ARN."""
    if not ref.startswith("arn:"):
        return ref
    arn = parse_arn(ref)
    if arn is None or arn.service != SERVICE or arn.resource_type != resource_type:
        return ""
    path = arn.resource_path
    return path[0] if len(path) == 1 else ""


def _visible(ref: str, arn: str, account: str, region: str, scope: Scope) -> bool:
    if account != scope.account or region != scope.region:
        return False
    return not ref.startswith("arn:") or ref == arn


def find_namespace(store: Store, scope: Scope, ref: str) -> Namespace | None:
    ns = store.get(Namespace.KIND, resource_id(ref, "namespace"))
    if isinstance(ns, Namespace) and _visible(ref, ns.arn, ns.account, ns.region, scope):
        return ns
    return None


def get_namespace(store: Store, scope: Scope, ref: str) -> Namespace:
    ns = find_namespace(store, scope, ref)
    if ns is None:
        raise NamespaceNotFound(f"Namespace not found: {ref}")
    return ns


def find_service(store: Store, scope: Scope, ref: str) -> Service | None:
    svc = store.get(Service.KIND, resource_id(ref, "service"))
    if isinstance(svc, Service) and _visible(ref, svc.arn, svc.account, svc.region, scope):
        return svc
    return None


def get_service(store: Store, scope: Scope, ref: str) -> Service:
    svc = find_service(store, scope, ref)
    if svc is None:
        raise ServiceNotFound(f"Service not found: {ref}")
    return svc


def get_instance(store: Store, service: Service, instance_id: str) -> Instance:
    inst = store.get(Instance.KIND, instance_key(service.id, instance_id))
    if not isinstance(inst, Instance):
        raise InstanceNotFound(f"Instance not found: {instance_id} in service {service.id}")
    return inst


def instances_of(store: Store, service_id: str) -> list[Instance]:
    return list(store.children(Instance.KIND, service_id).values())


def services_of(store: Store, namespace_id: str) -> list[Service]:
    return list(store.children(Service.KIND, namespace_id).values())


def namespaces_in(store: Store, scope: Scope) -> list[Namespace]:
    return [
        ns
        for ns in store.all(Namespace.KIND).values()
        if ns.account == scope.account and ns.region == scope.region
    ]

"""Instance operations: RegisterInstance, DeregisterInstance, GetInstance, ListInstances.

Registering an existing instance ID updates it. A service holds at most 1,000
instances and a namespace 2,000 (ResourceLimitExceeded past either). Each
registration or deregistration moves the service's InstancesRevision to the
store revision of its commit, so the revision only ever increases.

New instances of a service with HealthCheckCustomConfig start HEALTHY unless
AWS_INIT_HEALTH_STATUS says UNHEALTHY (ECS registers its tasks UNHEALTHY until
their container health check passes); re-registering keeps the current status
unless AWS_INIT_HEALTH_STATUS is given again. An instance of a service with
HealthCheckConfig keeps the status its Route 53 check found when re-registered
at the same endpoint; at a new one it starts again as a new check does (HEALTHY).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from portside.domain.scope import Scope
from portside.domain.servicediscovery import attributes as rules
from portside.domain.servicediscovery import operation, operations
from portside.domain.servicediscovery.errors import ResourceLimitExceeded
from portside.domain.servicediscovery.health_checks import target_of
from portside.domain.servicediscovery.instance import Instance, instance_key
from portside.domain.servicediscovery.listing import ListPage, page
from portside.domain.servicediscovery.model import HEALTHY
from portside.domain.servicediscovery.namespace import Namespace
from portside.domain.servicediscovery.refs import get_instance as _get
from portside.domain.servicediscovery.refs import (
    get_namespace,
    get_service,
    instances_of,
    services_of,
)
from portside.domain.servicediscovery.service import Service
from portside.store.store import Delete, Store

INSTANCES_PER_SERVICE = 1000
INSTANCES_PER_NAMESPACE = 2000


def _check_room(store: Store, service: Service) -> None:
    if len(store.children(Instance.KIND, service.id)) >= INSTANCES_PER_SERVICE:
        raise ResourceLimitExceeded(
            f"Service {service.id} already has {INSTANCES_PER_SERVICE} instances, the most "
            "a service can have."
        )
    in_namespace = sum(
        len(store.children(Instance.KIND, s.id)) for s in services_of(store, service.namespace_id)
    )
    if in_namespace >= INSTANCES_PER_NAMESPACE:
        raise ResourceLimitExceeded(
            f"Namespace {service.namespace_id} already has {INSTANCES_PER_NAMESPACE} "
            "instances, the most a namespace can have."
        )


def _initial_health(service: Service, attrs: Mapping[str, str], old: Instance | None) -> str | None:
    if service.health_check_custom_config is None:
        return None
    given = attrs.get(rules.INIT_HEALTH_STATUS)
    if given is not None:
        return given
    return old.custom_health if old is not None and old.custom_health else HEALTHY


def _checked_health(
    service: Service, ns: Namespace, new: Instance, old: Instance | None
) -> str | None:
    if old is None or target_of(service, old, ns) != target_of(service, new, ns):
        return None
    return old.checked_health


def register_instance(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    service_id: str,
    instance_id: str,
    attributes: Mapping[str, str],
    creator_request_id: str | None = None,
) -> str:
    svc = get_service(store, scope, service_id)
    ns = get_namespace(store, scope, svc.namespace_id)
    rules.check_instance_id(instance_id)
    fingerprint = json.dumps([svc.id, instance_id, dict(sorted(attributes.items()))])
    retry = operations.replayed(
        store, scope, operation.REGISTER_INSTANCE, creator_request_id, fingerprint,
        target=("SERVICE", svc.id),
    )
    if retry is not None:
        return retry.id
    rules.check_attributes(attributes, svc, ns)
    old = store.get(Instance.KIND, instance_key(svc.id, instance_id))
    if old is None:
        _check_room(store, svc)
    inst = Instance(
        service_id=svc.id,
        id=instance_id,
        account=scope.account,
        created_at=old.created_at if old is not None else now,
        attributes=dict(attributes),
        creator_request_id=creator_request_id,
        custom_health=_initial_health(svc, attributes, old),
    )
    inst = dataclasses.replace(inst, checked_health=_checked_health(svc, ns, inst, old))
    op = operations.succeeded(
        scope,
        now,
        operation.REGISTER_INSTANCE,
        {"INSTANCE": instance_id, "SERVICE": svc.id},
        namespace_id=ns.id,
        request_token=creator_request_id,
        fingerprint=fingerprint,
    )
    moved = dataclasses.replace(svc, instances_revision=store.revision + 1)
    store.commit([inst, moved, op])
    return op.id


def deregister_instance(
    store: Store, scope: Scope, now: datetime, *, service_id: str, instance_id: str
) -> str:
    svc = get_service(store, scope, service_id)
    inst = _get(store, svc, instance_id)
    op = operations.succeeded(
        scope,
        now,
        operation.DEREGISTER_INSTANCE,
        {"INSTANCE": instance_id, "SERVICE": svc.id},
        namespace_id=svc.namespace_id,
    )
    moved = dataclasses.replace(svc, instances_revision=store.revision + 1)
    store.commit([Delete(Instance.KIND, inst.key), moved, op])
    return op.id


def instance_view(inst: Instance, *, summary: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": inst.id,
        "attributes": inst.attributes,
        "created_by_account": inst.account,
    }
    if not summary:
        view["creator_request_id"] = inst.creator_request_id
    return view


def get_instance(
    store: Store, scope: Scope, *, service_id: str, instance_id: str
) -> dict[str, Any]:
    svc = get_service(store, scope, service_id)
    inst = _get(store, svc, instance_id)
    return {"resource_owner": svc.account, "instance": instance_view(inst)}


def list_instances(
    store: Store,
    scope: Scope,
    *,
    service_id: str,
    next_token: str | None = None,
    max_results: int | None = None,
) -> tuple[Service, ListPage[Instance]]:
    svc = get_service(store, scope, service_id)
    return svc, page(instances_of(store, svc.id), next_token, max_results)

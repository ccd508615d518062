"""Namespace operations: create (HTTP, private DNS, public DNS), get, list, update, delete.

Creating, updating and deleting a namespace is asynchronous in Cloud Map: the
call answers with an operation ID. portside carries the change out before it
answers and records the operation as SUCCESS in the same commit. A retry with
the same CreatorRequestId / UpdaterRequestId gets the same operation back.

Names: HTTP names must be unique in the account and Region (DiscoverInstances
finds a namespace by it); a clash is NamespaceAlreadyExists. DNS zone names,
compared without case, must be unique across every account and Region:
portside serves every DNS namespace from one DNS server, so two zones with the
same name (which Route 53 allows in different VPCs) would be ambiguous. A zone
name another account or Region already serves fails the way Cloud Map reports
a hosted zone Route 53 refuses: the call returns an operation, and that
operation is FAIL with ErrorCode CANNOT_CREATE_HOSTED_ZONE and Route 53's
ConflictingDomainExists in its ErrorMessage.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from portside.domain.scope import Scope
from portside.domain.servicediscovery import ids, operation, operations
from portside.domain.servicediscovery.errors import (
    InvalidInput,
    NamespaceAlreadyExists,
    ResourceInUse,
    ResourceLimitExceeded,
)
from portside.domain.servicediscovery.listing import ListPage, check_filter, matches_text, page
from portside.domain.servicediscovery.model import DNS_PRIVATE, DNS_PUBLIC, HTTP
from portside.domain.servicediscovery.namespace import Namespace
from portside.domain.servicediscovery.refs import get_namespace as _get
from portside.domain.servicediscovery.refs import namespaces_in, services_of
from portside.domain.servicediscovery.tagging import parse_tags
from portside.store.store import Delete, Store

NAMESPACES_PER_REGION = 50
CANNOT_CREATE_HOSTED_ZONE = "CANNOT_CREATE_HOSTED_ZONE"
DEFAULT_SOA_TTL = 15  # seconds of negative caching when Properties gives none

_HTTP_NAME = re.compile(r"^(?!arn:)[!-~]{1,1024}$")
_PRIVATE_NAME = re.compile(r"^(?!arn:)[!-~]{1,253}$")
_LABEL = r"[a-zA-Z0-9]([a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?"
_PUBLIC_NAME = re.compile(rf"^({_LABEL}\.)+{_LABEL}$")


def _dns_key(name: str) -> str:
    return name.rstrip(".").lower()


def _same_zone(new: Namespace, old: Namespace) -> bool:
    """Both DNS namespaces with one zone name (compared without case): one DNS server serves
    every zone, so two of them would be ambiguous."""
    return new.is_dns and old.is_dns and _dns_key(new.name) == _dns_key(old.name)


def _conflict(new: Namespace, old: Namespace) -> bool:
    return new.http_name == old.http_name or _same_zone(new, old)


def _served_elsewhere(store: Store, scope: Scope, new: Namespace) -> Namespace | None:
    """A DNS namespace of another account or Region with ``new``'s zone name, if any."""
    return next(
        (
            old
            for old in store.all(Namespace.KIND).values()
            if (old.account, old.region) != (scope.account, scope.region)
            and _same_zone(new, old)
        ),
        None,
    )


def _soa_ttl(properties: Mapping[str, Any] | None) -> int:
    if not properties:
        return DEFAULT_SOA_TTL
    return int(properties["dns_properties"]["soa"]["ttl"])


def _create(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    name: str,
    ns_type: str,
    creator_request_id: str | None,
    description: str | None,
    tags: Sequence[Mapping[str, Any]] | None,
    vpc: str | None = None,
    soa_ttl: int | None = None,
) -> str:
    fingerprint = json.dumps([ns_type, name, vpc])
    retry = operations.replayed(
        store, scope, operation.CREATE_NAMESPACE, creator_request_id, fingerprint
    )
    if retry is not None:
        return retry.id
    ns_id = ids.namespace_id()
    arn = scope.arn("servicediscovery", f"namespace/{ns_id}")
    ns = Namespace(
        id=ns_id,
        arn=arn,
        account=scope.account,
        region=scope.region,
        name=name,
        type=ns_type,
        http_name=name,
        created_at=now,
        creator_request_id=creator_request_id,
        description=description,
        vpc=vpc,
        hosted_zone_id=ids.hosted_zone_id() if ns_type != HTTP else None,
        soa_ttl=soa_ttl,
        tags=parse_tags(tags, arn),
    )
    existing = namespaces_in(store, scope)
    for old in existing:
        if _conflict(ns, old):
            raise NamespaceAlreadyExists(
                f"A namespace named {old.name!r} already exists: {old.id}.",
                namespace_id=old.id,
                creator_request_id=old.creator_request_id,
            )
    elsewhere = _served_elsewhere(store, scope, ns)
    if elsewhere is not None:
        failure = operations.failed(
            scope,
            now,
            operation.CREATE_NAMESPACE,
            error_code=CANNOT_CREATE_HOSTED_ZONE,
            error_message=(
                f"ConflictingDomainExists: the DNS name {name!r} is already served by "
                f"namespace {elsewhere.id} (account {elsewhere.account}, Region "
                f"{elsewhere.region}); portside serves one zone per name."
            ),
            request_token=creator_request_id,
            fingerprint=fingerprint,
        )
        store.commit([failure])
        return failure.id
    if len(existing) >= NAMESPACES_PER_REGION:
        raise ResourceLimitExceeded(
            f"An account can have at most {NAMESPACES_PER_REGION} namespaces per Region."
        )
    op = operations.succeeded(
        scope,
        now,
        operation.CREATE_NAMESPACE,
        {"NAMESPACE": ns_id},
        namespace_id=ns_id,
        request_token=creator_request_id,
        fingerprint=fingerprint,
    )
    store.commit([ns, op])
    return op.id


def create_http_namespace(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    name: str,
    creator_request_id: str | None = None,
    description: str | None = None,
    tags: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    if not _HTTP_NAME.match(name):
        raise InvalidInput(f"{name!r} is not a valid HTTP namespace name.")
    return _create(
        store, scope, now, name=name, ns_type=HTTP, creator_request_id=creator_request_id,
        description=description, tags=tags,
    )


def create_private_dns_namespace(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    name: str,
    vpc: str,
    creator_request_id: str | None = None,
    description: str | None = None,
    tags: Sequence[Mapping[str, Any]] | None = None,
    properties: Mapping[str, Any] | None = None,
) -> str:
    if not _PRIVATE_NAME.match(name):
        raise InvalidInput(f"{name!r} is not a valid private DNS namespace name.")
    if not vpc:
        raise InvalidInput("A private DNS namespace needs a VPC.")
    return _create(
        store, scope, now, name=name, ns_type=DNS_PRIVATE, creator_request_id=creator_request_id,
        description=description, tags=tags, vpc=vpc, soa_ttl=_soa_ttl(properties),
    )


def create_public_dns_namespace(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    name: str,
    creator_request_id: str | None = None,
    description: str | None = None,
    tags: Sequence[Mapping[str, Any]] | None = None,
    properties: Mapping[str, Any] | None = None,
) -> str:
    if not _PUBLIC_NAME.match(name.rstrip(".")) or len(name) > 253:
        raise InvalidInput(f"{name!r} is not a valid public DNS domain name.")
    return _create(
        store, scope, now, name=name, ns_type=DNS_PUBLIC, creator_request_id=creator_request_id,
        description=description, tags=tags, soa_ttl=_soa_ttl(properties),
    )


def get_namespace(store: Store, scope: Scope, *, id: str) -> Namespace:
    return _get(store, scope, id)


_NAMESPACE_FILTERS = {
    "TYPE": ("EQ", "IN", "BEGINS_WITH"),
    "NAME": ("EQ", "BEGINS_WITH"),
    "HTTP_NAME": ("EQ", "BEGINS_WITH"),
    "RESOURCE_OWNER": ("EQ",),
}


def list_namespaces(
    store: Store,
    scope: Scope,
    *,
    next_token: str | None = None,
    max_results: int | None = None,
    filters: Sequence[Mapping[str, Any]] | None = None,
) -> ListPage[Namespace]:
    checked = [check_filter(f, _NAMESPACE_FILTERS) for f in filters or ()]
    for f in checked:
        if f.name == "RESOURCE_OWNER" and f.values[0] not in ("SELF", "OTHER_ACCOUNTS"):
            raise InvalidInput("RESOURCE_OWNER takes SELF or OTHER_ACCOUNTS.")

    def keep(ns: Namespace) -> bool:
        for f in checked:
            value = {"TYPE": ns.type, "NAME": ns.name, "HTTP_NAME": ns.http_name}.get(f.name)
            if value is None:  # RESOURCE_OWNER: no namespace is shared with this account
                if f.values[0] != "SELF":
                    return False
            elif not matches_text(value, f):
                return False
        return True

    return page([ns for ns in namespaces_in(store, scope) if keep(ns)], next_token, max_results)


def _update(
    store: Store,
    scope: Scope,
    now: datetime,
    ref: str,
    ns_type: str,
    token: str | None,
    change: Mapping[str, Any],
) -> str:
    ns = _get(store, scope, ref)
    if ns.type != ns_type:
        raise InvalidInput(f"Namespace {ns.id} is a {ns.type} namespace, not {ns_type}.")
    fingerprint = json.dumps([ns.id, change], sort_keys=True, default=str)
    retry = operations.replayed(
        store, scope, operation.UPDATE_NAMESPACE, token, fingerprint, target=("NAMESPACE", ns.id)
    )
    if retry is not None:
        return retry.id
    updated = ns
    if change.get("description") is not None:
        updated = dataclasses.replace(updated, description=change["description"])
    if change.get("properties") is not None:
        updated = dataclasses.replace(updated, soa_ttl=_soa_ttl(change["properties"]))
    op = operations.succeeded(
        scope, now, operation.UPDATE_NAMESPACE, {"NAMESPACE": ns.id},
        namespace_id=ns.id, request_token=token, fingerprint=fingerprint,
    )
    store.commit([updated, op])
    return op.id


def update_http_namespace(
    store: Store, scope: Scope, now: datetime, *, id: str, namespace: Mapping[str, Any],
    updater_request_id: str | None = None,
) -> str:
    return _update(store, scope, now, id, HTTP, updater_request_id, namespace)


def update_private_dns_namespace(
    store: Store, scope: Scope, now: datetime, *, id: str, namespace: Mapping[str, Any],
    updater_request_id: str | None = None,
) -> str:
    return _update(store, scope, now, id, DNS_PRIVATE, updater_request_id, namespace)


def update_public_dns_namespace(
    store: Store, scope: Scope, now: datetime, *, id: str, namespace: Mapping[str, Any],
    updater_request_id: str | None = None,
) -> str:
    return _update(store, scope, now, id, DNS_PUBLIC, updater_request_id, namespace)


def delete_namespace(store: Store, scope: Scope, now: datetime, *, id: str) -> str:
    ns = _get(store, scope, id)
    if services_of(store, ns.id):
        raise ResourceInUse(
            f"Namespace {ns.id} still contains services; delete them before the namespace."
        )
    op = operations.succeeded(
        scope, now, operation.DELETE_NAMESPACE, {"NAMESPACE": ns.id}, namespace_id=ns.id
    )
    store.commit([Delete(Namespace.KIND, ns.id), op])
    return op.id

"""The rules a service's DnsConfig and health checks follow (CreateService, UpdateService).

Record types come in these combinations: A, AAAA, A and AAAA, SRV, CNAME —
and SRV together with A and/or AAAA, which is what ECS creates for awsvpc tasks.
CNAME needs the WEIGHTED routing policy and cannot have a Route 53 health check.
A service has HealthCheckConfig or HealthCheckCustomConfig, never both, and
HealthCheckConfig is for public DNS and HTTP namespaces only. HTTP namespaces
take no DnsConfig.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from portside.domain.servicediscovery.errors import InvalidInput
from portside.domain.servicediscovery.model import (
    AAAA,
    CNAME,
    DNS_PRIVATE,
    MULTIVALUE,
    SRV,
    WEIGHTED,
    A,
    DnsConfig,
    DnsRecord,
    HealthCheckConfig,
    HealthCheckCustomConfig,
)
from portside.domain.servicediscovery.namespace import Namespace

VALID_RECORD_SETS = frozenset(
    frozenset(s)
    for s in ({A}, {AAAA}, {A, AAAA}, {SRV}, {CNAME}, {A, SRV}, {AAAA, SRV}, {A, AAAA, SRV})
)

_LABEL = r"([a-zA-Z0-9_][a-zA-Z0-9-_]{0,61}[a-zA-Z0-9_]|[a-zA-Z0-9])"
_SERVICE_NAME = re.compile(rf"^(?=.{{1,127}}$){_LABEL}(\.{_LABEL})*$|^\.$")


def check_service_name(name: str) -> None:
    if not _SERVICE_NAME.match(name):
        raise InvalidInput(
            f"{name!r} is not a valid service name: use DNS labels of letters, digits, "
            "hyphens and underscores, at most 127 characters in all."
        )


def dns_records(raw: Any) -> tuple[DnsRecord, ...]:
    records = tuple(DnsRecord(str(r["type"]), int(r["ttl"])) for r in raw or ())
    if not records:
        raise InvalidInput("DnsConfig needs at least one DnsRecord.")
    types = [r.type for r in records]
    if len(set(types)) != len(types):
        raise InvalidInput("DnsConfig lists a record type more than once.")
    if frozenset(types) not in VALID_RECORD_SETS:
        raise InvalidInput(
            f"The record types {', '.join(types)} cannot be combined: use A, AAAA, A and AAAA, "
            "SRV (optionally with A and/or AAAA), or CNAME."
        )
    return records


def dns_config(raw: Mapping[str, Any], namespace: Namespace) -> DnsConfig:
    records = dns_records(raw.get("dns_records"))
    policy = str(raw.get("routing_policy") or MULTIVALUE)
    if any(r.type == CNAME for r in records) and policy != WEIGHTED:
        raise InvalidInput("A CNAME record needs the WEIGHTED routing policy.")
    return DnsConfig(routing_policy=policy, dns_records=records, namespace_id=namespace.id)


def health_check_config(
    raw: Mapping[str, Any] | None, namespace: Namespace, dns: DnsConfig | None
) -> HealthCheckConfig | None:
    if raw is None:
        return None
    if namespace.type == DNS_PRIVATE:
        raise InvalidInput(
            "HealthCheckConfig is for public DNS and HTTP namespaces only; "
            "use HealthCheckCustomConfig in a private DNS namespace."
        )
    if dns is not None and dns.has(CNAME):
        raise InvalidInput("A service with a CNAME record cannot have HealthCheckConfig.")
    kind = str(raw["type"])
    path = raw.get("resource_path")
    if kind == "TCP" and path is not None:
        raise InvalidInput("A TCP health check takes no ResourcePath.")
    if kind != "TCP" and path is None:
        path = "/"
    return HealthCheckConfig(type=kind, resource_path=path, failure_threshold=raw.get("failure_threshold"))


def health_check_custom_config(raw: Mapping[str, Any] | None) -> HealthCheckCustomConfig | None:
    if raw is None:
        return None
    return HealthCheckCustomConfig(failure_threshold=1)


def same_record_types(old: DnsConfig, new: tuple[DnsRecord, ...]) -> None:
    """UpdateService may change TTLs, never which record types a service has."""
    if sorted(r.type for r in old.dns_records) != sorted(r.type for r in new):
        raise InvalidInput(
            "The record types of a service cannot be changed: delete the service and "
            "create it again with the new DnsConfig."
        )

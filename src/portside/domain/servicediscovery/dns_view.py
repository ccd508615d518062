"""What a DNS server needs from Cloud Map, read from the store in one pass.

``dns_view(store)`` returns every DNS namespace (private and public, every
account and Region) with each of its services that has a DnsConfig, and each
service's instances with their attributes and health. Services without a
DnsConfig (Type HTTP) are left out: they have no DNS records.

The records of an instance follow Cloud Map: ``SERVICE.ZONE`` answers A (from
AWS_INSTANCE_IPV4), AAAA (AWS_INSTANCE_IPV6), CNAME (AWS_INSTANCE_CNAME) or SRV
(priority 1, weight 1, AWS_INSTANCE_PORT, target ``INSTANCE-ID.SERVICE.ZONE``,
which in turn answers A/AAAA for the instance's addresses). Answers honour
``routing_policy`` (MULTIVALUE: up to 8 healthy; WEIGHTED: one) and the health
rule: UNKNOWN means the service has no health check and counts as healthy.

The view is plain data (no dnslib); it is consistent with one store revision
(``store.revision``), so a caller can cache it until the revision moves.
``dns_namespace`` and ``dns_service`` build one piece of it, for a caller that
keeps the view current by rebuilding only what a commit touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from portside.domain.servicediscovery import attributes as attrs
from portside.domain.servicediscovery.discovery import health_of
from portside.domain.servicediscovery.instance import Instance
from portside.domain.servicediscovery.model import DNS_PRIVATE, UNHEALTHY
from portside.domain.servicediscovery.namespace import Namespace
from portside.domain.servicediscovery.service import Service
from portside.store.store import Store


@dataclass(frozen=True, slots=True)
class DnsInstance:
    id: str
    attributes: dict[str, str]
    health: str  # HEALTHY | UNHEALTHY | UNKNOWN (no health check: treat as healthy)

    @property
    def healthy(self) -> bool:
        return self.health != UNHEALTHY

    @property
    def ipv4(self) -> str | None:
        return self.attributes.get(attrs.INSTANCE_IPV4)

    @property
    def ipv6(self) -> str | None:
        return self.attributes.get(attrs.INSTANCE_IPV6)

    @property
    def port(self) -> int | None:
        port = self.attributes.get(attrs.INSTANCE_PORT)
        return int(port) if port is not None else None

    @property
    def cname(self) -> str | None:
        return self.attributes.get(attrs.INSTANCE_CNAME)


@dataclass(frozen=True, slots=True)
class DnsRecordSpec:
    type: str  # A | AAAA | SRV | CNAME
    ttl: int


@dataclass(frozen=True, slots=True)
class DnsService:
    id: str
    name: str  # the label(s) before the zone: NAME.ZONE
    routing_policy: str  # MULTIVALUE | WEIGHTED
    records: tuple[DnsRecordSpec, ...]
    instances: tuple[DnsInstance, ...]

    def ttl(self, record_type: str) -> int | None:
        """The TTL of ``record_type`` records, or None if the service has none."""
        return next((r.ttl for r in self.records if r.type == record_type), None)


@dataclass(frozen=True, slots=True)
class DnsNamespace:
    id: str
    name: str  # as created
    zone: str  # lower case, no trailing dot: what queries are matched against
    private: bool
    account: str
    region: str
    hosted_zone_id: str | None
    soa_ttl: int | None  # negative-caching TTL
    services: tuple[DnsService, ...]


def dns_service(store: Store, svc: Service) -> DnsService | None:
    """The DNS view of one service, None when it has no DnsConfig (no records)."""
    if svc.dns_config is None:
        return None
    instances = tuple(
        DnsInstance(i.id, dict(i.attributes), health_of(svc, i))
        for i in store.children(Instance.KIND, svc.id).values()
    )
    return DnsService(
        id=svc.id,
        name=svc.name,
        routing_policy=svc.dns_config.routing_policy,
        records=tuple(DnsRecordSpec(r.type, r.ttl) for r in svc.dns_config.dns_records),
        instances=instances,
    )


def dns_namespace(ns: Namespace, services: tuple[DnsService, ...] = ()) -> DnsNamespace:
    """The DNS view of one namespace (which must be a DNS one) with ``services``."""
    return DnsNamespace(
        id=ns.id,
        name=ns.name,
        zone=ns.name.rstrip(".").lower(),
        private=ns.type == DNS_PRIVATE,
        account=ns.account,
        region=ns.region,
        hosted_zone_id=ns.hosted_zone_id,
        soa_ttl=ns.soa_ttl,
        services=services,
    )


def dns_services(store: Store, ns: Namespace) -> tuple[DnsService, ...]:
    """The services of ``ns`` that have DNS records, in creation order."""
    return tuple(
        s
        for s in (dns_service(store, svc) for svc in store.children(Service.KIND, ns.id).values())
        if s is not None
    )


def dns_view(store: Store) -> tuple[DnsNamespace, ...]:
    return tuple(
        dns_namespace(ns, dns_services(store, ns))
        for ns in store.all(Namespace.KIND).values()
        if ns.is_dns
    )

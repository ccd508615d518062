"""Feed the DNS server from the Cloud Map registry in the store.

The server asks ``current()`` on every query; the zones are rebuilt only after a
commit touched a Cloud Map resource (the store tells us through ``subscribe``),
so a registration or a health change is served from the very next query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from portside.dns.zone import (
    DnsRecord,
    Instance,
    RecordType,
    RoutingPolicy,
    Service,
    Soa,
    Zone,
    Zones,
)
from portside.domain.servicediscovery.dns_view import DnsNamespace, dns_view
from portside.store.store import Store, kind_of

_KINDS = ("sd_namespace", "sd_service", "sd_instance")


class CloudMapRegistry:
    """A :class:`portside.dns.zone.Registry` over the store's Cloud Map resources."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._revision = 0
        self._zones = self._build()
        self._dirty = False
        store.subscribe(self._changed)

    def current(self) -> Zones:
        if self._dirty:
            self._dirty = False
            self._zones = self._build()
        return self._zones

    def _changed(self, changes: Sequence[Any]) -> None:
        for c in changes:
            kind = kind_of(c)
            if kind in _KINDS:
                self._dirty = True
                return

    def _build(self) -> Zones:
        self._revision += 1
        return Zones(tuple(zone_of(ns) for ns in dns_view(self._store)), self._revision)


def zone_of(ns: DnsNamespace) -> Zone:
    soa = Soa() if ns.soa_ttl is None else Soa(ttl=ns.soa_ttl, minimum=ns.soa_ttl)
    return Zone(
        name=ns.zone,
        soa=soa,
        services=tuple(
            Service(
                name=s.name,
                records=tuple(DnsRecord(RecordType(r.type), r.ttl) for r in s.records),
                routing_policy=RoutingPolicy(s.routing_policy),
                instances=tuple(
                    Instance(
                        id=i.id, ipv4=i.ipv4, ipv6=i.ipv6, port=i.port, cname=i.cname,
                        healthy=i.healthy,
                    )
                    for i in s.instances
                ),
            )
            for s in ns.services
        ),
    )

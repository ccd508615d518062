"""Feed the DNS server from the Cloud Map registry in the store.

The DNS server runs on its own thread (:mod:`portside.dns.thread`) and calls
``current()`` on every query, so ``current()`` only returns the last snapshot
built: an immutable ``Zones``, replaced by one attribute assignment. Snapshots
are built on the control plane's event loop, the only place that reads the
store: a commit that touched a Cloud Map resource (the store tells us through
``subscribe``) schedules one rebuild on the loop, and every commit before that
rebuild runs shares it. A registration or a health change is served from the
first query after the loop ran the rebuild, within one loop iteration of the
commit.
"""

from __future__ import annotations

import asyncio
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

    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop) -> None:
        self._store = store
        self._loop = loop
        self._revision = 0
        self._zones = self._build()
        self._pending = False
        self._closed = False
        store.subscribe(self._changed)

    def current(self) -> Zones:
        """The latest snapshot; safe from any thread."""
        return self._zones

    def close(self) -> None:
        """Stop rebuilding (the store has no unsubscribe; the listener goes quiet)."""
        self._closed = True

    def _changed(self, changes: Sequence[Any]) -> None:
        if self._pending or self._closed:
            return
        if any(kind_of(c) in _KINDS for c in changes):
            self._pending = True
            self._loop.call_soon_threadsafe(self._rebuild)

    def _rebuild(self) -> None:
        self._pending = False
        if not self._closed:
            self._zones = self._build()

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

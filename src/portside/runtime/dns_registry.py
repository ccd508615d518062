"""Feed the DNS server from the Cloud Map registry in the store, current at every commit.

The DNS server runs on its own thread (:mod:`portside.dns.thread`) and calls
``current()`` on every query, so ``current()`` only returns the last snapshot
built: an immutable ``Zones``, replaced by one attribute assignment (atomic
under the interpreter lock). The snapshot is rebuilt inside the store's commit
listener, which runs on the committing thread before ``commit`` returns: once
an API call that registered, deregistered or changed health has answered, the
very next query sees it. (Rebuilding later on the event loop, as this module
once did, let a client that queried at once get the old answer.)

Because it runs in every Cloud Map commit, the rebuild is incremental: a
commit rebuilds only the services it touched (their instances are read from
the store's per-service index) and the Zone objects around them; every other
service keeps its ``Service`` object, so the server's compiler
(:class:`portside.dns.index.Compiler`) reuses their encoded records too. A
registration costs O(instances of that service), not O(registry).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
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
from portside.domain.servicediscovery.dns_view import (
    DnsNamespace,
    DnsService,
    dns_namespace,
    dns_service,
    dns_services,
)
from portside.domain.servicediscovery.instance import Instance as SdInstance
from portside.domain.servicediscovery.instance import service_of_key
from portside.domain.servicediscovery.namespace import Namespace
from portside.domain.servicediscovery.service import Service as SdService
from portside.store.store import Delete, Store, kind_of

log = logging.getLogger("portside.dns")


class CloudMapRegistry:
    """A :class:`portside.dns.zone.Registry` over the store's Cloud Map resources.

    Create it on the thread that commits (the control plane's event loop): it
    subscribes to the store and reads it only from there.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._zones_by_ns: dict[str, Zone] = {}  # namespace id -> zone, in creation order
        self._services: dict[str, dict[str, Service]] = {}  # namespace id -> service id -> …
        self._namespace_of: dict[str, str] = {}  # service id -> namespace id
        self._revision = 0
        self._closed = False
        self._zones = Zones()
        self._reload_all()
        store.subscribe(self._changed)

    def current(self) -> Zones:
        """The latest snapshot; safe from any thread."""
        return self._zones

    def close(self) -> None:
        """Stop following commits (the store has no unsubscribe; the listener goes quiet)."""
        self._closed = True

    def _changed(self, changes: Sequence[Any]) -> None:
        if self._closed:
            return
        try:
            self._apply(changes)
        except Exception:  # a bug here must not fail the commit that is already durable
            log.exception("DNS: incremental update failed; rebuilding the whole view")
            self._reload_all()

    def _reload_all(self) -> None:
        self._zones_by_ns.clear()
        self._services.clear()
        self._namespace_of.clear()
        for ns in self._store.all(Namespace.KIND).values():
            self._load_namespace(ns)
        self._zones = self._publish()

    def _apply(self, changes: Sequence[Any]) -> None:
        namespaces: set[str] = set()
        services: set[str] = set()
        for change in changes:
            kind = kind_of(change)
            if kind == Namespace.KIND:
                namespaces.add(change.key)
            elif kind == SdService.KIND:
                services.add(change.key)
            elif kind == SdInstance.KIND:
                services.add(
                    service_of_key(change.key) if isinstance(change, Delete) else change.service_id
                )
        if not namespaces and not services:
            return
        dirty: set[str] = set()
        for ns_id in namespaces:
            dirty.add(ns_id)
            self._reload_namespace(ns_id)
        for svc_id in services:
            dirty.update(self._reload_service(svc_id))
        for ns_id in dirty:
            zone = self._zones_by_ns.get(ns_id)
            if zone is not None:
                services_now = tuple(self._services[ns_id].values())
                self._zones_by_ns[ns_id] = replace(zone, services=services_now)
        self._zones = self._publish()

    def _publish(self) -> Zones:
        self._revision += 1
        return Zones(tuple(self._zones_by_ns.values()), self._revision)

    def _load_namespace(self, ns: Namespace) -> None:
        if not ns.is_dns:
            return
        services = dns_services(self._store, ns)
        self._services[ns.id] = {s.id: service_of(s) for s in services}
        for s in services:
            self._namespace_of[s.id] = ns.id
        # The zone holds the very Service objects kept above, so the compiler's
        # identity cache hits for them on the first rebuild after this load.
        zone = zone_of(dns_namespace(ns))
        self._zones_by_ns[ns.id] = replace(zone, services=tuple(self._services[ns.id].values()))

    def _reload_namespace(self, ns_id: str) -> None:
        ns = self._store.get(Namespace.KIND, ns_id)
        if ns_id not in self._zones_by_ns:
            if ns is not None:
                self._load_namespace(ns)
            return
        if ns is None or not ns.is_dns:
            del self._zones_by_ns[ns_id]
            for svc_id in self._services.pop(ns_id, {}):
                self._namespace_of.pop(svc_id, None)
            return
        # No services here: _apply marks this namespace dirty and sets them.
        self._zones_by_ns[ns_id] = zone_of(dns_namespace(ns))

    def _reload_service(self, svc_id: str) -> set[str]:
        """Rebuild one service; return the namespaces whose zone changed.

        A rebuilt service keeps its place (a dict keeps a key's position on
        assignment); a new one goes last, which is its creation order.
        """
        svc = self._store.get(SdService.KIND, svc_id)
        view = None if svc is None else dns_service(self._store, svc)
        new_ns = None
        if svc is not None and view is not None and svc.namespace_id in self._services:
            new_ns = svc.namespace_id
        old_ns = self._namespace_of.get(svc_id)
        touched: set[str] = set()
        if old_ns is not None and old_ns != new_ns:
            self._services[old_ns].pop(svc_id, None)
            del self._namespace_of[svc_id]
            touched.add(old_ns)
        if new_ns is not None and view is not None:
            self._services[new_ns][svc_id] = service_of(view)
            self._namespace_of[svc_id] = new_ns
            touched.add(new_ns)
        return touched


def zone_of(ns: DnsNamespace) -> Zone:
    soa = Soa() if ns.soa_ttl is None else Soa(ttl=ns.soa_ttl, minimum=ns.soa_ttl)
    return Zone(name=ns.zone, soa=soa, services=tuple(service_of(s) for s in ns.services))


def service_of(s: DnsService) -> Service:
    return Service(
        name=s.name,
        records=tuple(DnsRecord(RecordType(r.type), r.ttl) for r in s.records),
        routing_policy=RoutingPolicy(s.routing_policy),
        instances=tuple(
            Instance(
                id=i.id, ipv4=i.ipv4, ipv6=i.ipv6, port=i.port, cname=i.cname, healthy=i.healthy
            )
            for i in s.instances
        ),
    )

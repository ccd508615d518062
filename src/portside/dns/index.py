"""Compile a Zones snapshot into lookup tables, once per revision.

Every record the server can send is encoded here, in wire format, so a query
costs one dict lookup, a random choice and a ``join``. The tables are keyed by
lower-cased wire names:

- the zone apex holds SOA and NS;
- ``SERVICE.NAMESPACE`` holds the service's A, AAAA, SRV or CNAME records, one
  per instance, split into healthy and unhealthy;
- for a service with an SRV record, ``INSTANCE-ID.SERVICE.NAMESPACE`` (the SRV
  target) holds the instance's A/AAAA, as Cloud Map creates them;
- names between a record and its apex (``_tcp.NAMESPACE`` under a service named
  ``_api._tcp``) exist with no records, so they answer NODATA, not NXDOMAIN.

A name with no instance behind it has no records and does not exist: a service
whose instances are all deregistered answers NXDOMAIN, as its Route 53 records
are gone. Entries that cannot be encoded (a label over 63 bytes, a bad address)
are skipped and listed in ``problems`` rather than failing the whole snapshot.

Compiling is incremental: the registry rebuilds a snapshot on every Cloud Map
commit, and encoding a service of 1,000 instances takes tens of milliseconds.
A :class:`Compiler` encodes each zone apex and each ``Service`` into a
fragment of nodes once, and reuses the fragment while the next snapshot holds
the very same (immutable) ``Service`` object in the same zone; a new revision
then costs one encoding of the services that changed plus dict merges of the
rest. Merging keeps the first record set of a type at a name, as when the
whole snapshot is encoded in one pass.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from enum import Enum

from portside.dns import wire
from portside.dns.zone import Instance, RecordType, Service, Zone, Zones

_RR_FIXED = struct.Struct("!HHIH")  # type, class, ttl, rdlength
_MAX_TTL = 2**31 - 1


class Policy(Enum):
    ALL = "ALL"  # static data: SOA, NS, an instance's own address
    MULTIVALUE = "MULTIVALUE"
    WEIGHTED = "WEIGHTED"


@dataclass(frozen=True, slots=True)
class RrSet:
    policy: Policy
    healthy: tuple[wire.Rr, ...]
    unhealthy: tuple[wire.Rr, ...] = ()


@dataclass(frozen=True, slots=True)
class ZoneData:
    apex: bytes
    negative: tuple[wire.Rr, ...]  # the SOA for NXDOMAIN / NODATA answers


@dataclass(slots=True)
class Node:
    zone: ZoneData
    rrsets: dict[int, RrSet] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Index:
    revision: int
    nodes: dict[bytes, Node]
    zones: dict[bytes, ZoneData]
    problems: tuple[str, ...] = ()

    def zone_of(self, key: bytes) -> ZoneData | None:
        """The zone a (lower-cased, valid) wire name falls in, if any."""
        zones, pos = self.zones, 0
        while True:
            zone = zones.get(key[pos:] if pos else key)
            if zone is not None:
                return zone
            length = key[pos]
            if length == 0:
                return None
            pos += length + 1


def compile_zones(zones: Zones) -> Index:
    """Encode ``zones`` from scratch (a :class:`Compiler` reuses what did not change)."""
    return Compiler().compile(zones)


@dataclass(frozen=True, slots=True)
class _Fragment:
    """The nodes one zone apex or one service contributes, and what was skipped."""

    nodes: dict[bytes, Node]
    problems: tuple[str, ...] = ()
    zone: ZoneData | None = None  # for an apex fragment; None when the zone is unusable


class Compiler:
    """Compile successive snapshots, re-encoding only the services that changed.

    Use from one thread (the server's): fragments are shared between the
    indexes it returns and are never mutated once built.
    """

    def __init__(self) -> None:
        self._apexes: dict[tuple[object, ...], _Fragment] = {}
        # id(service) -> (the service, the zone it was encoded in, its fragment); the
        # entry holds the service, so its id cannot be reused while cached
        self._services: dict[int, tuple[Service, ZoneData, _Fragment]] = {}

    def compile(self, zones: Zones) -> Index:
        nodes: dict[bytes, Node] = {}
        zone_map: dict[bytes, ZoneData] = {}
        problems: list[str] = []
        apexes: dict[tuple[object, ...], _Fragment] = {}
        services: dict[int, tuple[Service, ZoneData, _Fragment]] = {}
        for zone in zones.zones:
            key = (zone.name, zone.soa, zone.nameservers, zone.ns_ttl)
            apex = apexes[key] = self._apexes.get(key) or _apex_fragment(zone)
            problems += apex.problems
            data = apex.zone
            if data is None:
                continue
            if data.apex in zone_map:
                problems.append(f"zone {zone.name!r} skipped: served twice")
                continue
            zone_map[data.apex] = data
            _merge(nodes, apex.nodes)
            for service in zone.services:
                cached = self._services.get(id(service))
                if cached is not None and cached[0] is service and cached[1] is data:
                    fragment = cached[2]
                else:
                    fragment = _service_fragment(zone, data, service)
                services[id(service)] = (service, data, fragment)
                problems += fragment.problems
                _merge(nodes, fragment.nodes)
        self._apexes, self._services = apexes, services
        return Index(zones.revision, nodes, zone_map, tuple(problems))


def _merge(nodes: dict[bytes, Node], more: dict[bytes, Node]) -> None:
    """Add ``more`` to ``nodes``; at a name both hold, the record sets already there win."""
    if not nodes.keys() & more.keys():
        nodes.update(more)
        return
    for key, node in more.items():
        old = nodes.get(key)
        nodes[key] = node if old is None else Node(old.zone, {**node.rrsets, **old.rrsets})


def _apex_fragment(zone: Zone) -> _Fragment:
    builder = _Builder()
    data = builder.add_apex(zone)
    return _Fragment(builder.nodes, tuple(builder.problems), data)


def _service_fragment(zone: Zone, data: ZoneData, service: Service) -> _Fragment:
    builder = _Builder()
    try:
        builder.add_service(zone, data, service)
    except ValueError as exc:
        builder.problems.append(f"service {service.name!r} in {zone.name!r} skipped: {exc}")
    return _Fragment(builder.nodes, tuple(builder.problems))


def encode_rr(owner: bytes, rtype: int, ttl: int, rdata: bytes, target: bytes = b"") -> wire.Rr:
    ttl = max(0, min(ttl, _MAX_TTL))
    body = _RR_FIXED.pack(rtype, wire.CLASS_IN, ttl, len(rdata)) + rdata
    return wire.Rr(owner, body, target.lower())


class _Builder:
    def __init__(self) -> None:
        self.nodes: dict[bytes, Node] = {}
        self.problems: list[str] = []

    def add_apex(self, zone: Zone) -> ZoneData | None:
        """The zone's SOA and NS at its apex; None (and a problem) if they cannot be encoded."""
        try:
            apex = wire.encode_name(zone.name).lower()
            soa = zone.soa
            soa_rdata = (
                wire.encode_name(soa.primary)
                + wire.encode_name(soa.hostmaster)
                + struct.pack("!5I", soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum)
            )
            ns = tuple(
                encode_rr(apex, wire.NS, zone.ns_ttl, wire.encode_name(n)) for n in zone.nameservers
            )
        except (ValueError, struct.error) as exc:
            self.problems.append(f"zone {zone.name!r} skipped: {exc}")
            return None
        data = ZoneData(apex, (encode_rr(apex, wire.SOA, soa.negative_ttl, soa_rdata),))
        node = self.nodes[apex] = Node(data)
        node.rrsets[wire.SOA] = RrSet(Policy.ALL, (encode_rr(apex, wire.SOA, soa.ttl, soa_rdata),))
        if ns:
            node.rrsets[wire.NS] = RrSet(Policy.ALL, ns)
        return data

    def add_service(self, zone: Zone, data: ZoneData, service: Service) -> None:
        fqdn = f"{service.name}.{zone.name.rstrip('.')}"
        name = wire.encode_name(fqdn)
        key = name.lower()
        policy = Policy(service.routing_policy.value)
        ttls = {record.type: record.ttl for record in service.records}
        rrsets: dict[int, RrSet] = {}
        for rtype, ttl in ttls.items():
            good: list[wire.Rr] = []
            bad: list[wire.Rr] = []
            for instance in service.instances:
                rr = self._instance_rr(rtype, ttl, key, fqdn, instance, ttls, data)
                if rr is not None:
                    (good if instance.healthy else bad).append(rr)
            if good or bad:
                code = _TYPE_CODES[rtype]
                chosen = Policy.WEIGHTED if rtype is RecordType.CNAME else policy
                rrsets[code] = RrSet(chosen, tuple(good), tuple(bad))
        if rrsets:
            node = self._node(key, data)
            for code, rrset in rrsets.items():
                node.rrsets.setdefault(code, rrset)

    def _instance_rr(
        self,
        rtype: RecordType,
        ttl: int,
        key: bytes,
        fqdn: str,
        instance: Instance,
        ttls: dict[RecordType, int],
        data: ZoneData,
    ) -> wire.Rr | None:
        try:
            if rtype is RecordType.A:
                return _address_rr(key, wire.A, ttl, instance.ipv4)
            if rtype is RecordType.AAAA:
                return _address_rr(key, wire.AAAA, ttl, instance.ipv6)
            if rtype is RecordType.CNAME:
                if not instance.cname:
                    return None
                target = wire.encode_name(instance.cname)
                return encode_rr(key, wire.CNAME, ttl, target, target)
            if instance.port is None:
                return None
            target = wire.encode_name(f"{instance.id}.{fqdn}")
            rdata = struct.pack("!HHH", 1, 1, instance.port) + target
            rr = encode_rr(key, wire.SRV, ttl, rdata, target)
        except (ValueError, struct.error) as exc:
            self.problems.append(f"instance {instance.id!r} of {fqdn!r} skipped: {exc}")
            return None
        extras = self._add_host(target.lower(), instance, ttls, ttl, data)
        return wire.Rr(rr.owner, rr.body, rr.target, extras)

    def _add_host(
        self, host: bytes, instance: Instance, ttls: dict[RecordType, int], ttl: int, data: ZoneData
    ) -> tuple[wire.Rr, ...]:
        """The A/AAAA records Cloud Map creates at an SRV target, also sent as extras."""
        try:
            a = _address_rr(host, wire.A, ttls.get(RecordType.A, ttl), instance.ipv4)
            aaaa = _address_rr(host, wire.AAAA, ttls.get(RecordType.AAAA, ttl), instance.ipv6)
        except ValueError as exc:
            self.problems.append(f"instance {instance.id!r} address skipped: {exc}")
            return ()
        extras = tuple(rr for rr in (a, aaaa) if rr is not None)
        if extras:
            node = self._node(host, data)
            for rr in extras:
                node.rrsets.setdefault(rr.rtype, RrSet(Policy.ALL, (rr,)))
        return extras

    def _node(self, key: bytes, data: ZoneData) -> Node:
        """The node at ``key``, creating it and the empty names below its apex.

        The apex itself is the apex fragment's, so a service's fragment rarely
        shares a name with another and merges as one ``dict.update``.
        """
        node = self.nodes.get(key)
        if node is None:
            node = self.nodes[key] = Node(data)
            parent = key
            while parent != data.apex and parent[0]:
                parent = parent[parent[0] + 1 :]
                if parent == data.apex:
                    break
                self.nodes.setdefault(parent, Node(data))
        return node


def _address_rr(owner: bytes, rtype: int, ttl: int, address: str | None) -> wire.Rr | None:
    """The record for ``address``; None when there is none, ValueError when it is bad."""
    if not address:
        return None
    ip = ipaddress.ip_address(address)
    if (ip.version == 4) != (rtype == wire.A):
        raise ValueError(f"{address!r} is not an IPv{4 if rtype == wire.A else 6} address")
    return encode_rr(owner, rtype, ttl, ip.packed)


_TYPE_CODES = {
    RecordType.A: wire.A,
    RecordType.AAAA: wire.AAAA,
    RecordType.SRV: wire.SRV,
    RecordType.CNAME: wire.CNAME,
}

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
    builder = _Builder()
    for zone in zones.zones:
        builder.add_zone(zone)
    return Index(zones.revision, builder.nodes, builder.zones, tuple(builder.problems))


def encode_rr(owner: bytes, rtype: int, ttl: int, rdata: bytes, target: bytes = b"") -> wire.Rr:
    ttl = max(0, min(ttl, _MAX_TTL))
    body = _RR_FIXED.pack(rtype, wire.CLASS_IN, ttl, len(rdata)) + rdata
    return wire.Rr(owner, body, target.lower())


class _Builder:
    def __init__(self) -> None:
        self.nodes: dict[bytes, Node] = {}
        self.zones: dict[bytes, ZoneData] = {}
        self.problems: list[str] = []

    def add_zone(self, zone: Zone) -> None:
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
            return
        if apex in self.zones:
            self.problems.append(f"zone {zone.name!r} skipped: served twice")
            return
        data = ZoneData(apex, (encode_rr(apex, wire.SOA, soa.negative_ttl, soa_rdata),))
        self.zones[apex] = data
        node = self._node(apex, data)
        node.rrsets[wire.SOA] = RrSet(Policy.ALL, (encode_rr(apex, wire.SOA, soa.ttl, soa_rdata),))
        if ns:
            node.rrsets[wire.NS] = RrSet(Policy.ALL, ns)
        for service in zone.services:
            try:
                self._add_service(zone, data, service)
            except ValueError as exc:
                self.problems.append(f"service {service.name!r} in {zone.name!r} skipped: {exc}")

    def _add_service(self, zone: Zone, data: ZoneData, service: Service) -> None:
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
        """The node at ``key``, creating it and the empty names up to its apex."""
        node = self.nodes.get(key)
        if node is None:
            node = self.nodes[key] = Node(data)
            parent = key
            while parent != data.apex and parent[0]:
                parent = parent[parent[0] + 1 :]
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

"""What the DNS server serves: one Zone per Cloud Map DNS namespace.

The server does not read the store. It reads a :class:`Registry`, anything
with ``current() -> Zones``; a ``Zones`` snapshot carries a revision number and
the server recompiles its lookup tables only when that number changes. The
adapter from the Cloud Map registry view lives elsewhere; :class:`StaticRegistry`
feeds the server from code (tests, the benchmark) and :func:`zones_from_json`
from a file (``python -m portside.dns --zones FILE``).

The model follows Cloud Map: a service ``SERVICE`` in namespace ``NAMESPACE``
answers at ``SERVICE.NAMESPACE`` with the record types of its DnsConfig, one TTL
per type, and the routing policy of the service; each instance brings its
addresses (``AWS_INSTANCE_IPV4`` / ``AWS_INSTANCE_IPV6``), port
(``AWS_INSTANCE_PORT``), CNAME (``AWS_INSTANCE_CNAME``) and health.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

DEFAULT_PRIMARY_NS = "ns.portside."
DEFAULT_HOSTMASTER = "hostmaster.portside."


class RecordType(StrEnum):
    A = "A"
    AAAA = "AAAA"
    SRV = "SRV"
    CNAME = "CNAME"


class RoutingPolicy(StrEnum):
    """MULTIVALUE: up to eight records per answer; WEIGHTED: one, chosen at random."""

    MULTIVALUE = "MULTIVALUE"
    WEIGHTED = "WEIGHTED"


@dataclass(frozen=True, slots=True)
class Instance:
    """A registered instance; ``healthy`` is False while its health check fails."""

    id: str
    ipv4: str | None = None
    ipv6: str | None = None
    port: int | None = None
    cname: str | None = None
    healthy: bool = True


@dataclass(frozen=True, slots=True)
class DnsRecord:
    """One entry of a service's DnsConfig.DnsRecords."""

    type: RecordType
    ttl: int


@dataclass(frozen=True, slots=True)
class Service:
    """A Cloud Map service with DNS records; ``name`` is relative to its zone."""

    name: str
    records: tuple[DnsRecord, ...]
    routing_policy: RoutingPolicy = RoutingPolicy.MULTIVALUE
    instances: tuple[Instance, ...] = ()


@dataclass(frozen=True, slots=True)
class Soa:
    """The zone's SOA; the timers are Route 53's defaults for a new hosted zone."""

    primary: str = DEFAULT_PRIMARY_NS
    hostmaster: str = DEFAULT_HOSTMASTER
    serial: int = 1
    refresh: int = 7200
    retry: int = 900
    expire: int = 1209600
    minimum: int = 86400
    ttl: int = 900

    @property
    def negative_ttl(self) -> int:
        """How long NXDOMAIN / NODATA may be cached (RFC 2308 section 5)."""
        return min(self.ttl, self.minimum)


@dataclass(frozen=True, slots=True)
class Zone:
    """A DNS namespace: the apex ``name`` with its SOA and NS, and its services."""

    name: str
    services: tuple[Service, ...] = ()
    soa: Soa = field(default_factory=Soa)
    nameservers: tuple[str, ...] = (DEFAULT_PRIMARY_NS,)
    ns_ttl: int = 172800


@dataclass(frozen=True, slots=True)
class Zones:
    """Everything the server answers for, as of ``revision``."""

    zones: tuple[Zone, ...] = ()
    revision: int = 0


class Registry(Protocol):
    """Where the server reads its data; called once per query, so keep it cheap."""

    def current(self) -> Zones: ...


class StaticRegistry:
    """A registry fed from code: every :meth:`publish` bumps the revision."""

    def __init__(self, zones: tuple[Zone, ...] = ()) -> None:
        self._zones = Zones(zones, 1)

    def current(self) -> Zones:
        return self._zones

    def publish(self, zones: tuple[Zone, ...]) -> Zones:
        self._zones = Zones(zones, self._zones.revision + 1)
        return self._zones


def zones_from_json(doc: Any) -> tuple[Zone, ...]:
    """Zones from plain data, keys in snake_case as the dataclasses above::

    [{"name": "ns.local", "services": [{"name": "api",
      "records": [{"type": "A", "ttl": 60}], "routing_policy": "MULTIVALUE",
      "instances": [{"id": "i-1", "ipv4": "10.0.0.1", "healthy": true}]}]}]
    """
    if not isinstance(doc, list):
        raise ValueError("zones: expected a list of zones")
    return tuple(_zone(z) for z in doc)


def load_zones(path: str) -> tuple[Zone, ...]:
    with open(path) as f:
        return zones_from_json(json.load(f))


def _zone(doc: dict[str, Any]) -> Zone:
    zone = Zone(name=str(doc["name"]), services=tuple(_service(s) for s in doc.get("services", [])))
    if "soa" in doc:
        zone = replace(zone, soa=Soa(**doc["soa"]))
    if "nameservers" in doc:
        zone = replace(zone, nameservers=tuple(str(n) for n in doc["nameservers"]))
    return zone


def _service(doc: dict[str, Any]) -> Service:
    return Service(
        name=str(doc["name"]),
        records=tuple(DnsRecord(RecordType(r["type"]), int(r["ttl"])) for r in doc["records"]),
        routing_policy=RoutingPolicy(doc.get("routing_policy", "MULTIVALUE")),
        instances=tuple(Instance(**i) for i in doc.get("instances", [])),
    )

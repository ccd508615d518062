"""Value types shared by Cloud Map resources, and the names of their enumerations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Namespace types.
HTTP: Final = "HTTP"
DNS_PRIVATE: Final = "DNS_PRIVATE"
DNS_PUBLIC: Final = "DNS_PUBLIC"

# Service types: DNS_HTTP services are discoverable by DNS and by API, HTTP ones by API only.
SERVICE_HTTP: Final = "HTTP"
SERVICE_DNS_HTTP: Final = "DNS_HTTP"

# Routing policies and record types.
MULTIVALUE: Final = "MULTIVALUE"
WEIGHTED: Final = "WEIGHTED"
A: Final = "A"
AAAA: Final = "AAAA"
SRV: Final = "SRV"
CNAME: Final = "CNAME"

# Health.
HEALTHY: Final = "HEALTHY"
UNHEALTHY: Final = "UNHEALTHY"
UNKNOWN: Final = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class DnsRecord:
    type: str  # A | AAAA | SRV | CNAME
    ttl: int


@dataclass(frozen=True, slots=True)
class DnsConfig:
    """The records every instance of a service gets, and how answers are chosen."""

    routing_policy: str
    dns_records: tuple[DnsRecord, ...]
    namespace_id: str | None = None  # deprecated echo of the service's namespace

    def has(self, record_type: str) -> bool:
        return any(r.type == record_type for r in self.dns_records)


@dataclass(frozen=True, slots=True)
class HealthCheckConfig:
    """A Route 53 health check (public DNS and HTTP namespaces only)."""

    type: str  # HTTP | HTTPS | TCP
    resource_path: str | None = None
    failure_threshold: int | None = None


@dataclass(frozen=True, slots=True)
class HealthCheckCustomConfig:
    """Health reported through UpdateInstanceCustomHealthStatus (always threshold 1)."""

    failure_threshold: int = 1

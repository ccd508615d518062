"""A real DNS server per test, on a free port, in its own event-loop thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import pytest

from portside.dns.server import DnsServer, DnsSettings
from portside.dns.zone import (
    DnsRecord,
    Instance,
    RecordType,
    RoutingPolicy,
    Service,
    StaticRegistry,
    Zone,
)

HOST = "127.0.0.1"


class ServerThread:
    """A DnsServer on a free port (127.0.0.1 unless ``host``), its loop in a thread."""

    def __init__(self, zones: tuple[Zone, ...], host: str = HOST, **settings: Any) -> None:
        self.host = host
        self.registry = StaticRegistry(zones)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = DnsServer(self.registry, DnsSettings(host=host, port=0, **settings))

    def start(self) -> ServerThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(5)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    @property
    def port(self) -> int:
        return self.server.port

    def publish(self, *zones: Zone) -> None:
        self.registry.publish(zones)

    def udp(self, name: str, rdtype: str = "A", **kw: Any) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype, **kw)
        return dns.query.udp(query, self.host, port=self.port, timeout=10)

    def tcp(self, name: str, rdtype: str = "A", **kw: Any) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype, **kw)
        return dns.query.tcp(query, self.host, port=self.port, timeout=10)


@pytest.fixture
def start_dns() -> Iterator[Callable[..., ServerThread]]:
    started: list[ServerThread] = []

    def start(*zones: Zone, **settings: Any) -> ServerThread:
        server = ServerThread(zones, **settings).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def service(
    name: str,
    *types: RecordType,
    ttl: int = 60,
    policy: RoutingPolicy = RoutingPolicy.MULTIVALUE,
    instances: tuple[Instance, ...] = (),
    ttls: dict[RecordType, int] | None = None,
) -> Service:
    ttls = ttls or {}
    records = tuple(DnsRecord(t, ttls.get(t, ttl)) for t in types)
    return Service(name, records, policy, instances)


def instances(
    count: int, healthy: bool = True, first: int = 1, port: int = 8080
) -> tuple[Instance, ...]:
    return tuple(
        Instance(
            id=f"task{n}",
            ipv4=f"10.0.{n // 256}.{n % 256}",
            ipv6=f"fd00::{n:x}",
            port=port + n,
            healthy=healthy,
        )
        for n in range(first, first + count)
    )


def values(msg: dns.message.Message, rdtype: str = "A") -> list[str]:
    """The text values of the answer records of one type."""
    kind = dns.rdatatype.from_text(rdtype)
    return [rd.to_text() for rrset in msg.answer if rrset.rdtype == kind for rd in rrset]

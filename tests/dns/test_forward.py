"""Forwarding beyond the basics: truncation relayed, spoofed replies ignored, IPv6."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from portside.dns.forward import Upstream
from portside.dns.zone import Instance, RecordType, Zone
from tests.dns.conftest import HOST, ServerThread, service, values

Start = Callable[..., ServerThread]
A, SRV = RecordType.A, RecordType.SRV


def upstream_zone() -> Zone:
    tasks = tuple(Instance(f"{n:032x}", ipv4=f"10.2.0.{n}", port=n) for n in range(1, 9))
    return Zone("example.com", (service("big", A, SRV, instances=tasks),))


def test_a_truncated_upstream_answer_is_relayed_and_tcp_gets_it_whole(start_dns: Start) -> None:
    upstream = start_dns(upstream_zone())
    srv = start_dns(Zone("corp.local"), upstreams=(Upstream(HOST, upstream.port),))
    over_udp = srv.udp("big.example.com", "SRV")
    assert over_udp.flags & dns.flags.TC and over_udp.flags & dns.flags.RA
    assert not over_udp.flags & dns.flags.AA  # relayed, not ours
    over_tcp = srv.tcp("big.example.com", "SRV")
    assert len(values(over_tcp, "SRV")) == 8


@pytest.fixture
def spoofer() -> Iterator[tuple[int, list[bytes]]]:
    """An 'upstream' that answers every query with the wrong id."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.settimeout(0.1)
    seen: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(4096)
            except TimeoutError:
                continue
            seen.append(data)
            reply = dns.message.make_response(dns.message.from_wire(data))
            reply.id ^= 0x5555
            sock.sendto(reply.to_wire(), addr)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1], seen
    stop.set()
    thread.join(2)
    sock.close()


def test_replies_with_the_wrong_id_are_ignored(
    start_dns: Start, spoofer: tuple[int, list[bytes]]
) -> None:
    port, seen = spoofer
    srv = start_dns(Zone("corp.local"), upstreams=(Upstream(HOST, port),), upstream_timeout=0.4)
    query = dns.message.make_query("www.example.com", "A")
    started = time.monotonic()
    reply = dns.query.udp(query, HOST, port=srv.port, timeout=30)
    assert reply.rcode() == dns.rcode.SERVFAIL
    assert time.monotonic() - started >= 0.35
    assert reply.id == query.id
    # The forwarded query went out with a fresh id, not the client's.
    assert seen and dns.message.from_wire(seen[0]).id != query.id


def test_tcp_connections_close_when_idle(start_dns: Start) -> None:
    srv = start_dns(Zone("corp.local"), tcp_idle_timeout=0.3)
    started = time.monotonic()  # before the server accepts: its idle clock starts later
    with socket.create_connection((HOST, srv.port), timeout=60) as sock:
        assert sock.recv(10) == b""  # the server closed it (the 60 s socket timeout would raise)
        assert time.monotonic() - started > 0.2


def test_serves_on_ipv6_loopback(start_dns: Start) -> None:
    one = (Instance("t", ipv4="10.0.0.1"),)
    srv = start_dns(Zone("corp.local", (service("api", A, instances=one),)), host="::1")
    assert values(srv.udp("api.corp.local")) == ["10.0.0.1"]
    assert values(srv.tcp("api.corp.local")) == ["10.0.0.1"]

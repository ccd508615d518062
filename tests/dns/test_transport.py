"""EDNS0, truncation and TCP, refusal and forwarding, against the real server."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from portside.dns.forward import Upstream
from portside.dns.zone import Instance, RecordType, Zone
from tests.dns.conftest import HOST, ServerThread, instances, service, values

A, AAAA, SRV = RecordType.A, RecordType.AAAA, RecordType.SRV
Start = Callable[..., ServerThread]


def ecs_tasks(count: int) -> tuple[Instance, ...]:
    """Instances with ECS-style 32-character task ids: long SRV targets."""
    return tuple(
        Instance(f"{n:032x}", ipv4=f"10.1.0.{n}", ipv6=f"fd00::1:{n:x}", port=30000 + n)
        for n in range(1, count + 1)
    )


def big_zone() -> Zone:
    return Zone("corp.local", (service("api", A, AAAA, SRV, instances=ecs_tasks(8)),))


def test_edns0_answer_has_an_opt_record_with_our_payload_size(start_dns: Start) -> None:
    srv = start_dns(big_zone())
    reply = srv.udp("api.corp.local", "A", use_edns=0, payload=4096)
    assert reply.edns == 0
    assert reply.payload == 1232
    assert len(values(reply)) == 8
    plain = srv.udp("api.corp.local", "A")
    assert plain.edns == -1  # no OPT unless the client sent one


def test_edns0_do_bit_is_echoed_and_unknown_versions_get_badvers(start_dns: Start) -> None:
    srv = start_dns(big_zone())
    reply = srv.udp("api.corp.local", "A", use_edns=0, want_dnssec=True)
    assert reply.ednsflags & dns.flags.DO
    badvers = srv.udp("api.corp.local", "A", use_edns=1)
    assert badvers.rcode() == dns.rcode.BADVERS
    assert not badvers.answer


def test_udp_answer_too_big_sets_tc_and_tcp_has_it_all(start_dns: Start) -> None:
    srv = start_dns(big_zone())
    truncated = srv.udp("api.corp.local", "SRV")
    assert truncated.flags & dns.flags.TC
    assert not truncated.answer
    full = srv.tcp("api.corp.local", "SRV")
    assert not full.flags & dns.flags.TC
    assert len(values(full, "SRV")) == 8
    assert sum(len(r) for r in full.additional) == 16  # A and AAAA of every target
    # A client announcing a larger payload gets the whole answer over UDP.
    roomy = srv.udp("api.corp.local", "SRV", use_edns=0, payload=1232)
    assert not roomy.flags & dns.flags.TC and len(values(roomy, "SRV")) == 8
    # One announcing less than the answer needs gets TC; below 512 counts as 512.
    small = srv.udp("api.corp.local", "SRV", use_edns=0, payload=530)
    assert small.flags & dns.flags.TC
    tiny = srv.udp("api.corp.local", "A", use_edns=0, payload=100)
    assert not tiny.flags & dns.flags.TC and len(values(tiny)) == 8


def test_additional_records_that_do_not_fit_are_dropped_without_tc(start_dns: Start) -> None:
    srv = start_dns(Zone("corp.local", (service("api", SRV, instances=ecs_tasks(6)),)))
    reply = srv.udp("api.corp.local", "SRV")
    assert not reply.flags & dns.flags.TC
    assert len(values(reply, "SRV")) == 6
    assert 0 < sum(len(r) for r in reply.additional) < 12
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(dns.message.make_query("api.corp.local", "SRV").to_wire(), (HOST, srv.port))
        assert len(sock.recv(65535)) <= 512


def test_dns_query_udp_with_fallback_gets_the_full_answer(start_dns: Start) -> None:
    srv = start_dns(big_zone())
    query = dns.message.make_query("api.corp.local", "SRV")
    reply, used_tcp = dns.query.udp_with_fallback(query, HOST, port=srv.port, timeout=3)
    assert used_tcp and len(values(reply, "SRV")) == 8


def test_tcp_connection_carries_several_queries(start_dns: Start) -> None:
    srv = start_dns(big_zone())
    with socket.create_connection((HOST, srv.port), timeout=3) as sock:
        names = ["api.corp.local", "nope.corp.local", "API.corp.local"]
        wires = [dns.message.make_query(n, "A").to_wire() for n in names]
        sock.sendall(b"".join(struct.pack("!H", len(w)) + w for w in wires))  # pipelined
        replies = [dns.message.from_wire(_read_frame(sock)) for _ in names]
    assert [r.rcode() for r in replies] == [
        dns.rcode.NOERROR,
        dns.rcode.NXDOMAIN,
        dns.rcode.NOERROR,
    ]
    assert [r.id for r in replies] == [dns.message.from_wire(w).id for w in wires]


def _read_frame(sock: socket.socket) -> bytes:
    def exactly(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    return exactly(struct.unpack("!H", exactly(2))[0])


def test_names_outside_every_zone_are_refused(start_dns: Start) -> None:
    srv = start_dns(big_zone())
    reply = srv.udp("www.example.com", "A")
    assert reply.rcode() == dns.rcode.REFUSED
    assert not reply.flags & dns.flags.AA
    assert srv.tcp("local", "A").rcode() == dns.rcode.REFUSED


def test_zone_transfers_and_other_classes_are_refused_other_opcodes_not_implemented(
    start_dns: Start,
) -> None:
    srv = start_dns(big_zone())
    assert srv.tcp("corp.local", "AXFR").rcode() == dns.rcode.REFUSED
    assert srv.udp("corp.local", "TXT", rdclass="CH").rcode() == dns.rcode.REFUSED
    notify = dns.message.make_query("corp.local", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    assert dns.query.udp(notify, HOST, port=srv.port, timeout=3).rcode() == dns.rcode.NOTIMP


@pytest.fixture
def upstream(start_dns: Start) -> ServerThread:
    return start_dns(Zone("example.com", (service("www", A, instances=instances(1, first=99)),)))


def test_outside_names_are_forwarded_to_the_upstream(
    start_dns: Start, upstream: ServerThread
) -> None:
    srv = start_dns(big_zone(), upstreams=(Upstream(HOST, upstream.port),))
    for ask in (srv.udp, srv.tcp):
        reply = ask("www.example.com", "A")
        assert reply.rcode() == dns.rcode.NOERROR
        assert values(reply) == ["10.0.0.99"]
        assert reply.flags & dns.flags.RA
        nx = ask("nope.example.com", "A")
        assert nx.rcode() == dns.rcode.NXDOMAIN and nx.authority
    # Still authoritative for its own zones, and says it offers recursion.
    own = srv.udp("api.corp.local", "A")
    assert own.flags & dns.flags.AA and own.flags & dns.flags.RA
    # No recursion desired: nothing is forwarded.
    norec = dns.message.make_query("www.example.com", "A")
    norec.flags &= ~dns.flags.RD
    assert dns.query.udp(norec, HOST, port=srv.port, timeout=3).rcode() == dns.rcode.REFUSED


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A UDP port where nothing ever answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        yield sock.getsockname()[1]


def test_a_silent_upstream_gives_servfail_after_the_timeout(
    start_dns: Start, silent_port: int, upstream: ServerThread
) -> None:
    srv = start_dns(big_zone(), upstreams=(Upstream(HOST, silent_port),), upstream_timeout=0.3)
    assert srv.udp("www.example.com", "A").rcode() == dns.rcode.SERVFAIL
    assert values(srv.udp("api.corp.local", "A"))  # the server is fine
    both = start_dns(
        big_zone(),
        upstreams=(Upstream(HOST, silent_port), Upstream(HOST, upstream.port)),
        upstream_timeout=2.0,  # the answering upstream is a thread of this loaded process
    )
    assert values(both.udp("www.example.com", "A")) == ["10.0.0.99"]  # the next one answers

"""Garbage in: dropped or answered FORMERR, and the server keeps answering."""

from __future__ import annotations

import contextlib
import random
import socket
import struct
from collections.abc import Callable
from typing import BinaryIO

import dns.exception
import dns.message
import dns.query
import dns.rcode
from hypothesis import given, settings
from hypothesis import strategies as st

from portside.dns import wire
from portside.dns.server import DnsServer
from portside.dns.zone import RecordType, StaticRegistry, Zone
from tests.dns.conftest import HOST, ServerThread, instances, service, values

Start = Callable[..., ServerThread]
ZONE = Zone("corp.local", (service("api", RecordType.A, RecordType.SRV, instances=instances(3)),))
VALID = dns.message.make_query("api.corp.local", "SRV", use_edns=0).to_wire()
HEADER = struct.pack("!6H", 0x1234, 0x0100, 1, 0, 0, 0)

MALFORMED = [
    HEADER + b"\x03api",  # question cut short
    HEADER + b"\x03api\x04corp\x05local\x00\x00\x01",  # no class
    HEADER + b"\xc0\x0c\x00\x01\x00\x01",  # compression pointer in the question
    HEADER + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01",  # label of 64 bytes
    HEADER + (b"\x3f" + b"a" * 63) * 4 + b"\x00\x00\x01\x00\x01",  # name over 255 bytes
    struct.pack("!6H", 1, 0x0100, 2, 0, 0, 0) + VALID[12:] + VALID[12:],  # two questions
    struct.pack("!6H", 1, 0x0100, 0, 0, 0, 0),  # no question
    VALID + b"junk",  # trailing bytes
    VALID[:-3],  # OPT record cut short
    struct.pack("!6H", 1, 0x0100, 1, 0, 0, 1) + VALID[12:-11] + b"\x00\x00\x01\x00\x01" + b"\0" * 6,
]
DROPPED = [b"", b"\x00", b"\x12\x34" * 5 + b"\x00", VALID[:2] + b"\x81\x00" + VALID[4:]]


def server() -> DnsServer:
    return DnsServer(StaticRegistry((ZONE,)))


def test_readable_headers_around_bad_queries_get_formerr() -> None:
    dns_server = server()
    for packet in MALFORMED:
        out = dns_server.handle(packet, tcp=False)
        assert isinstance(out, bytes), packet
        reply = dns.message.from_wire(out)
        assert reply.rcode() == dns.rcode.FORMERR, packet
        assert reply.id == struct.unpack("!H", packet[:2])[0]
    for packet in DROPPED:
        assert dns_server.handle(packet, tcp=False) is None, packet


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_get_nothing_or_a_well_formed_response(packet: bytes) -> None:
    _check(_SERVER.handle(packet, tcp=False), packet)


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=6),
    st.integers(0, len(VALID)),
)
def test_mutated_queries_get_nothing_or_a_well_formed_response(
    flips: list[tuple[int, int]], cut: int
) -> None:
    packet = bytearray(VALID)
    for at, value in flips:
        packet[at] = value
    _check(_SERVER.handle(bytes(packet[:cut]), tcp=True), bytes(packet))


_SERVER = server()


def _check(out: bytes | wire.Query | None, packet: bytes) -> None:
    if out is None:
        return
    assert isinstance(out, bytes)  # no upstream configured: nothing to forward
    try:
        reply = dns.message.from_wire(out)
    except dns.exception.FormError:  # unknown rdata types echo back unparsed
        reply = None
    assert out[:2] == packet[:2]
    assert out[2] & 0x80  # QR
    if reply is not None:
        assert reply.rcode() in (0, 1, 3, 4, 5, 16)


def test_garbage_over_udp_then_a_valid_query(start_dns: Start) -> None:
    srv = start_dns(ZONE)
    rng = random.Random(5)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in MALFORMED + DROPPED:
            sock.sendto(packet, (HOST, srv.port))
        for _ in range(500):
            sock.sendto(rng.randbytes(rng.randrange(0, 700)), (HOST, srv.port))
        for _ in range(500):
            mutated = bytearray(VALID)
            mutated[rng.randrange(len(VALID))] = rng.randrange(256)
            sock.sendto(bytes(mutated[: rng.randrange(len(VALID) + 1)]), (HOST, srv.port))
    # The burst may overflow the socket buffer and drop the next datagram, as
    # UDP may: ask again, as a resolver would.
    query = dns.message.make_query("api.corp.local", "A")
    for attempt in range(10):  # the server may still be working through the burst
        try:
            reply = dns.query.udp(query, HOST, port=srv.port, timeout=3)
            break
        except dns.exception.Timeout:
            assert attempt < 9
    assert sorted(values(reply)) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert len(values(srv.tcp("api.corp.local", "SRV"), "SRV")) == 3


def test_garbage_over_tcp_then_a_valid_query(start_dns: Start) -> None:
    srv = start_dns(ZONE)
    rng = random.Random(6)
    for _ in range(30):
        with socket.create_connection((HOST, srv.port), timeout=3) as sock:
            blob = rng.randbytes(rng.randrange(1, 300))
            sock.sendall(blob)
            sock.shutdown(socket.SHUT_WR)
            # An answer, or the close (a reset, if it left our bytes unread).
            with contextlib.suppress(ConnectionResetError):
                sock.recv(70000)
    with socket.create_connection((HOST, srv.port), timeout=3) as sock:
        bad = MALFORMED[0]
        sock.sendall(struct.pack("!H", len(bad)) + bad + struct.pack("!H", len(VALID)) + VALID)
        stream = sock.makefile("rb")  # both answers may arrive in one segment
        first = _frame(stream)
        second = _frame(stream)
    assert dns.message.from_wire(first).rcode() == dns.rcode.FORMERR
    assert dns.message.from_wire(second).rcode() == dns.rcode.NOERROR
    assert len(values(srv.udp("api.corp.local", "SRV"), "SRV")) == 3


def _frame(stream: BinaryIO) -> bytes:
    """One length-prefixed DNS message from a TCP stream, leaving the rest unread."""
    head = stream.read(2)
    assert len(head) == 2
    (length,) = struct.unpack("!H", head)
    body = stream.read(length)
    assert len(body) == length
    return body

"""Forward queries for names outside every zone to upstream resolvers.

Each forwarded query goes out on its own socket (a fresh source port) with a
fresh random id, as a resolver must to resist spoofed answers; a reply counts
only if dnslib can read it, it is a response, and its id and question match.
The client's OPT record travels unchanged, so the upstream sizes its UDP answer
for the client. Upstreams are tried in order, each with ``timeout`` seconds;
None means none answered (the server then answers SERVFAIL).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass

from dnslib import DNSError, DNSRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Upstream:
    host: str
    port: int = 53

    @classmethod
    def parse(cls, text: str) -> Upstream:
        """``HOST``, ``HOST:PORT`` or ``[V6]:PORT``; ValueError for anything else."""
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            upstream = cls(host, _port(rest.removeprefix(":")) if rest else 53)
        elif text.count(":") == 1:
            host, port = text.split(":")
            upstream = cls(host, _port(port))
        else:
            upstream = cls(text)
        if not upstream.host:
            raise ValueError("no host")
        return upstream


def _port(text: str) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return port


async def forward(
    packet: bytes, upstreams: tuple[Upstream, ...], timeout: float, tcp: bool
) -> bytes | None:
    for upstream in upstreams:
        ident = secrets.randbits(16)
        outgoing = ident.to_bytes(2, "big") + packet[2:]
        try:
            async with asyncio.timeout(timeout):
                if tcp:
                    reply = await _ask_tcp(upstream, outgoing, ident)
                else:
                    reply = await _ask_udp(upstream, outgoing, ident)
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            log.info("upstream %s:%d failed: %r", upstream.host, upstream.port, exc)
            continue
        if reply is not None:
            return packet[:2] + reply[2:]
    return None


def matches(reply: bytes, query: bytes, ident: int) -> bool:
    """Whether ``reply`` answers ``query`` (sent with ``ident``)."""
    try:
        got, sent = DNSRecord.parse(reply), DNSRecord.parse(query)
    except (DNSError, ValueError, IndexError):
        return False
    if got.header.id != ident or not got.header.qr:
        return False
    return [(str(q.qname).lower(), q.qtype) for q in got.questions] == [
        (str(q.qname).lower(), q.qtype) for q in sent.questions
    ]


class _Exchange(asyncio.DatagramProtocol):
    def __init__(self, query: bytes, ident: int) -> None:
        self.query, self.ident = query, ident
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if not self.reply.done() and matches(data, self.query, self.ident):
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


async def _ask_udp(upstream: Upstream, query: bytes, ident: int) -> bytes:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Exchange(query, ident), remote_addr=(upstream.host, upstream.port)
    )
    try:
        transport.sendto(query)
        return await protocol.reply
    finally:
        transport.close()


async def _ask_tcp(upstream: Upstream, query: bytes, ident: int) -> bytes | None:
    reader, writer = await asyncio.open_connection(upstream.host, upstream.port)
    try:
        writer.write(len(query).to_bytes(2, "big") + query)
        await writer.drain()
        size = int.from_bytes(await reader.readexactly(2), "big")
        reply = await reader.readexactly(size)
        return reply if matches(reply, query, ident) else None
    finally:
        writer.close()

"""The authoritative DNS server for Cloud Map DNS namespaces, over UDP and TCP.

One :class:`DnsServer` serves one :class:`~portside.dns.zone.Registry`. Each
query asks the registry for its current snapshot; when the revision differs
from the compiled one the tables are rebuilt (:mod:`portside.dns.index`), so the
per-query path is: parse, look up, choose, join (:mod:`portside.dns.wire`).

Transport rules:
- UDP answers fit the client's limit (512 bytes, or its EDNS0 payload size up
  to ``max_udp_payload``); an answer that does not fit comes back empty with
  TC set and the client retries over TCP, where the full answer is sent.
- TCP connections carry any number of length-prefixed queries (RFC 7766) and
  close after ``tcp_idle_timeout`` seconds of silence.
- Garbage is dropped (shorter than a header, or a response) or answered
  FORMERR; a bug answering one query costs that query a SERVFAIL, never the
  server.
- Names outside every zone are REFUSED, or, with upstreams configured and
  recursion desired, forwarded (:mod:`portside.dns.forward`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from dataclasses import dataclass
from typing import cast

from portside.config import DEFAULT_DNS_PORT, DEFAULT_HOST
from portside.dns import wire
from portside.dns.answer import choose, resolve
from portside.dns.forward import Upstream, forward
from portside.dns.index import Compiler, Index, RrSet
from portside.dns.zone import Registry, Zones

log = logging.getLogger(__name__)

MAX_FORWARDS_IN_FLIGHT = 1024
HOT_ENTRIES = 4096
UDP_RECEIVE_BUFFER = 4 << 20  # capped by net.core.rmem_max


@dataclass(frozen=True, slots=True)
class DnsSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_DNS_PORT  # 0: any free port (the same for UDP and TCP)
    upstreams: tuple[Upstream, ...] = ()
    upstream_timeout: float = 2.0
    max_udp_payload: int = 1232  # the DNS flag day 2020 value: no IP fragmentation
    tcp_idle_timeout: float = 10.0
    seed: int | None = None  # for the random choice of records; None: from the OS


class DnsServer:
    def __init__(self, registry: Registry, settings: DnsSettings | None = None) -> None:
        self.registry = registry
        self.settings = settings or DnsSettings()
        self._rng = random.Random(self.settings.seed)
        self._compiler = Compiler()
        self._index = self._compile(registry.current())
        self._flags = wire.AA | (wire.RA if self.settings.upstreams else 0)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Query packets (less their id) with a direct answer -> what answering takes.
        self._hot: dict[bytes, tuple[RrSet, wire.Template]] = {}
        self.port = self.settings.port

    # -- answering -------------------------------------------------------------

    def handle(self, data: bytes, tcp: bool) -> bytes | wire.Query | None:
        """The response to ``data``, None to drop it, or the query to forward."""
        if not tcp:  # the same packet as before, bar its id: skip to choosing records
            hot = self._hot.get(data[2:])
            if hot is not None and self.registry.current().revision == self._index.revision:
                out = wire.assemble(data[:2], hot[1], choose(hot[0], self._rng))
                if out is not None:
                    return out
        try:
            query = wire.parse_query(data)
        except wire.Drop:
            return None
        except wire.FormatError as err:
            return wire.format_error(err)
        try:
            return self._answer(query, data, tcp)
        except Exception:
            log.exception("DNS query failed")
            return wire.error_response(query, wire.SERVFAIL, self.settings.max_udp_payload)

    def _answer(self, query: wire.Query, data: bytes, tcp: bool) -> bytes | wire.Query:
        server_max = self.settings.max_udp_payload
        if query.edns is not None and query.edns.version > 0:
            return wire.error_response(query, wire.BADVERS, server_max)
        if query.qclass not in (wire.CLASS_IN, wire.CLASS_ANY) or query.qtype in (
            wire.AXFR,
            wire.IXFR,
        ):
            return wire.error_response(query, wire.REFUSED, server_max)
        zones = self.registry.current()
        index = self._index
        if zones.revision != index.revision:
            index = self._index = self._compile(zones)
            self._hot.clear()
        res = resolve(index, query.key, query.qtype, self._rng)
        if res.outside:
            if self.settings.upstreams and query.flags & wire.RD:
                return query
            return wire.error_response(query, wire.REFUSED, server_max, self._flags & wire.RA)
        limit = wire.TCP_LIMIT if tcp else wire.udp_limit(query, server_max)
        if res.direct is not None:
            tpl = wire.template(query, limit, server_max, self._flags)
            out = wire.assemble(data[:2], tpl, res.answer)
            if out is not None:
                if not tcp:
                    if len(self._hot) >= HOT_ENTRIES:
                        self._hot.clear()
                    self._hot[data[2:]] = (res.direct, tpl)
                return out
        return wire.response(
            query, res.rcode, res.answer, res.authority, limit, server_max, self._flags
        )

    def _compile(self, zones: Zones) -> Index:
        index = self._compiler.compile(zones)
        for problem in index.problems:
            log.warning("DNS: %s", problem)
        return index

    async def _forwarded(self, query: wire.Query, data: bytes, tcp: bool) -> bytes:
        settings = self.settings
        reply = await forward(data, settings.upstreams, settings.upstream_timeout, tcp)
        if reply is None:
            return wire.error_response(
                query, wire.SERVFAIL, settings.max_udp_payload, self._flags & wire.RA
            )
        return wire.relayed(reply)

    # -- transports ------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        host = self.settings.host
        for _attempt in range(20):
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(host, self.settings.port)
            )
            port = transport.get_extra_info("sockname")[1]
            _grow_receive_buffer(transport)
            try:
                self._tcp = await asyncio.start_server(
                    self._serve_tcp, host, port, reuse_address=True
                )
            except OSError:
                transport.close()
                if self.settings.port:
                    raise
                continue
            self._udp = transport
            self.port = port
            break
        else:
            raise OSError(f"no port free for both UDP and TCP on {host}")
        log.info("DNS listening on %s port %d (UDP and TCP)", host, self.port)

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def spawn_udp_forward(
        self, query: wire.Query, data: bytes, addr: tuple[str | int, ...]
    ) -> None:
        if len(self._tasks) >= MAX_FORWARDS_IN_FLIGHT:
            self._reply_udp(
                wire.error_response(query, wire.SERVFAIL, self.settings.max_udp_payload), addr
            )
            return
        task = asyncio.create_task(self._udp_forward(query, data, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _udp_forward(
        self, query: wire.Query, data: bytes, addr: tuple[str | int, ...]
    ) -> None:
        self._reply_udp(await self._forwarded(query, data, tcp=False), addr)

    def _reply_udp(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if self._udp is not None and not self._udp.is_closing():
            self._udp.sendto(data, addr)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, TimeoutError):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                async with asyncio.timeout(self.settings.tcp_idle_timeout):
                    size = int.from_bytes(await reader.readexactly(2), "big")
                    data = await reader.readexactly(size)
                out = self.handle(data, tcp=True)
                if out is None:
                    break
                if isinstance(out, wire.Query):
                    out = await self._forwarded(out, data, tcp=True)
                writer.write(len(out).to_bytes(2, "big") + out)
                await writer.drain()
        writer.close()


def _grow_receive_buffer(transport: asyncio.BaseTransport) -> None:
    """Room for bursts: the default buffer drops queries after a few hundred."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            out = self.server.handle(data, tcp=False)
        except Exception:  # a bug: lose the query, keep the socket (asyncio would close it)
            log.exception("DNS: dropped a query")
            return
        if out is None:
            return
        if isinstance(out, bytes):
            if self.transport is not None:
                self.transport.sendto(out, addr)
        else:
            self.server.spawn_udp_forward(out, data, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("DNS UDP error: %r", exc)

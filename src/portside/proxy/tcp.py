"""Plain TCP splice: tcp ports, and for now http2 and gRPC carried opaquely.

One balancing decision per connection: the downstream socket stays paused until
an endpoint accepted a connection (a refused connect is tried on another endpoint,
up to the retry policy's count, and feeds outlier detection); then bytes are
copied both ways with back-pressure (a side whose write buffer fills pauses the
other side's reads). A half-close is passed on where the transport can (not over
TLS, where a server's FIN closes the client's side instead), also one that
arrives while the upstream connection is still opening (uvloop reports it even
though reading is paused); the idle timeout closes both sides after no bytes
either way.

HTTP/2 and gRPC through this path get per-connection, not per-request, balancing,
retries and metrics: their long-lived connections stick to one endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from typing import cast

from portside.proxy.cluster import Cluster
from portside.proxy.idle import IdleTimer
from portside.proxy.metrics import Stats
from portside.proxy.types import NoHealthyUpstream


class TcpSite:
    __slots__ = ("cluster", "connections", "stats")

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.stats = cluster.stats
        self.connections: set[asyncio.BaseTransport] = set()  # downstream ones, for shutdown


class _Side(asyncio.Protocol):
    """One socket of a splice; ``peer`` is the other one."""

    accepted = False  # True for the downstream side (the connection the proxy accepted)

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.idle: IdleTimer | None = None
        self.eof = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(
            asyncio.Transport, transport
        )  # uvloop's transports are not subclasses
        self.stats.connections_active += 1
        self.stats.connections_total += 1

    def data_received(self, data: bytes) -> None:
        self.stats.bytes_received += len(data)
        if self.idle is not None:
            self.idle.touch()
        self.forward(data)

    def forward(self, data: bytes) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.closed:
            peer.stats.bytes_sent += len(data)
            peer.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        peer = self.peer
        if peer is None or peer.transport is None:
            return False
        if peer.eof:
            return False  # both halves done: close
        if peer.transport.can_write_eof():
            peer.transport.write_eof()
        elif not self.accepted:
            # TLS carries no half-close: the server is done, so the client's side closes
            # once its pending bytes are out (a client's half-close is kept: an answer follows)
            peer.transport.close()
            return False
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.stats.connections_active -= 1
        if self.idle is not None:
            self.idle.cancel()
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None and not self.peer.closed:
            self.peer.transport.resume_reading()

    def close_both(self) -> None:
        for side in (self, self.peer):
            if side is not None and side.transport is not None:
                side.transport.close()


class SpliceProtocol(_Side):
    """The downstream (accepted) side; it opens the upstream side."""

    accepted = True

    def __init__(self, site: TcpSite) -> None:
        super().__init__(site.stats)
        self._site = site
        self._cluster = site.cluster
        self._early: list[bytes] = []
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self._site.connections.add(self.transport)
        self.transport.pause_reading()
        self._task = asyncio.get_running_loop().create_task(self._open())

    def forward(self, data: bytes) -> None:
        if self.peer is None:
            self._early.append(data)
        else:
            super().forward(data)

    def eof_received(self) -> bool:
        if self.peer is None:  # a FIN before the upstream is open: pass it on once joined
            self.eof = True
            return True
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self.transport is not None:
            self._site.connections.discard(self.transport)
        super().connection_lost(exc)

    async def _open(self) -> None:
        cluster = self._cluster
        loop = asyncio.get_running_loop()
        tried: set[str] = set()
        upstream: _Side | None = None
        for _ in range(1 + max(0, cluster.config.retry.max_retries)):
            try:
                endpoint = cluster.pick(tried)
            except NoHealthyUpstream:
                break
            tried.add(endpoint.key)
            stats = cluster.endpoint_stats(endpoint.key)
            tls = cluster.tls
            config_tls = cluster.config.tls
            try:
                async with asyncio.timeout(cluster.config.timeouts.connect_seconds or None):
                    _, upstream = await loop.create_connection(
                        functools.partial(_Side, stats),
                        endpoint.address,
                        endpoint.port,
                        ssl=tls,
                        server_hostname=(config_tls.server_name or cluster.name)
                        if tls is not None and config_tls is not None
                        else None,
                    )
            except (OSError, TimeoutError, ssl.SSLError):
                stats.connect_failures += 1
                cluster.failed(endpoint.key)
                continue
            cluster.succeeded(endpoint.key)
            break
        if upstream is None or self.closed:
            if upstream is not None and upstream.transport is not None:
                upstream.transport.close()
            if self.transport is not None:
                self.transport.close()
            return
        self._join(upstream, loop)

    def _join(self, upstream: _Side, loop: asyncio.AbstractEventLoop) -> None:
        assert self.transport is not None
        self.peer, upstream.peer = upstream, self
        idle = self._cluster.config.timeouts.idle_seconds
        self.idle = upstream.idle = IdleTimer(loop, idle, self.close_both) if idle > 0 else None
        early, self._early = self._early, []
        for data in early:
            super().forward(data)
        if self.eof and upstream.transport is not None and upstream.transport.can_write_eof():
            upstream.transport.write_eof()
        if upstream.eof and self.transport.can_write_eof():
            self.transport.write_eof()
        elif upstream.eof:  # over TLS: as in eof_received
            self.transport.close()
        with contextlib.suppress(RuntimeError):
            self.transport.resume_reading()

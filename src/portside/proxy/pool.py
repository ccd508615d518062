"""HTTP/1.1 to one endpoint: kept-alive connections in a pool, one exchange at a time each.

:class:`Pool` hands out an idle connection (most recently used first, so a
small working set stays warm) or opens a new one (with TLS when the upstream
has it); a connection goes back after a complete response that allows
keep-alive, and is closed otherwise, on error, on cancellation, or after the
upstream's idle timeout in the pool.

:class:`UpstreamConnection` parses responses with httptools. A response whose
``Content-Length`` is at most :data:`BUFFER_LIMIT` is returned whole once it has
arrived; any other (large or chunked) is returned at its head with a
:class:`BodyStream` that applies back-pressure to the upstream socket. HEAD
responses end at their head (llhttp cannot be told the request was HEAD, so the
parser is replaced for the next exchange). Interim 1xx responses are skipped.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from typing import Any, cast

import httptools

from portside.proxy.config import Endpoint
from portside.proxy.http1 import end_to_end, request_head
from portside.proxy.idle import IdleTimer
from portside.proxy.metrics import Stats
from portside.proxy.types import (
    ConnectFailure,
    Headers,
    ProxyError,
    Request,
    Response,
    UpstreamProtocolError,
    UpstreamReset,
)

BUFFER_LIMIT = 256 << 10
STREAM_HIGH_WATER = 1 << 20
MAX_IDLE = 256


class BodyStream:
    """The rest of a response body, as an async iterator of byte chunks."""

    def __init__(self, conn: UpstreamConnection) -> None:
        self._conn = conn
        self._chunks: list[bytes] = []
        self._size = 0
        self._done = False
        self._error: ProxyError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if self._size > STREAM_HIGH_WATER and not self._paused:
            self._paused = True
            self._conn.pause_reading()
        self._wake()

    def finish(self) -> None:
        self._done = True
        self._wake()

    def fail(self, error: ProxyError) -> None:
        if not self._done:
            self._error = error
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> BodyStream:
        return self

    async def __anext__(self) -> bytes:
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._done:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._size = 0
        if self._paused:
            self._paused = False
            self._conn.resume_reading()
        return data

    async def aclose(self) -> None:
        if not self._done:
            self._conn.abort()


def response_parser(protocol: Any) -> httptools.HttpResponseParser:
    """A parser for upstream responses that accepts bare LF line endings.

    Applications behind the proxy are not always strict HTTP servers: busybox
    httpd passes a CGI script's ``\n``-terminated headers through as they are.
    The client side is parsed strictly; upstreams get this one leniency.
    """
    parser = httptools.HttpResponseParser(protocol)
    parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)
    return parser


class UpstreamConnection(asyncio.Protocol):
    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._stats = pool.stats
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = response_parser(self)
        self._fresh_parser = True
        self._waiter: asyncio.Future[Response] | None = None
        self._head_only = False
        self._headers: Headers = []
        self._reason = b""
        self._body: list[bytes] | None = None
        self._pending = Response(0, [])
        self._stream: BodyStream | None = None
        self._length: int | None = None
        self._interim = False
        self._until_close = False
        self.closed = False
        self._idle: IdleTimer | None = None

    # --- transport ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(
            asyncio.Transport, transport
        )  # uvloop's transports are not subclasses
        self._stats.connections_active += 1
        self._stats.connections_total += 1
        self._idle = IdleTimer(self._loop, self._pool.idle_seconds, transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._stats.connections_active -= 1
        if self._idle is not None:
            self._idle.cancel()
        self._pool.forget(self)
        if self._stream is not None and self._until_close:
            self._stream.finish()  # an HTTP/1.0-style body ends with the connection
            self._stream = None
        self._fail(UpstreamReset())

    def data_received(self, data: bytes) -> None:
        self._stats.bytes_received += len(data)
        if self._idle is not None:
            self._idle.touch()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail(UpstreamProtocolError())
            self.abort()

    def pause_reading(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.resume_reading()

    def abort(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    # --- one exchange ---------------------------------------------------------------
    def exchange(self, request: Request) -> asyncio.Future[Response]:
        assert self._transport is not None and self._waiter is None
        if not self._fresh_parser:
            self._parser = response_parser(self)
        self._fresh_parser = False
        self._head_only = request.method == b"HEAD"
        self._waiter = waiter = self._loop.create_future()
        data = request_head(request)
        if request.body:
            data += request.body
        self._stats.bytes_sent += len(data)
        if self._idle is not None:
            self._idle.touch()
        self._transport.write(data)
        return waiter

    def _fail(self, error: ProxyError) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
        self._waiter = None
        if self._stream is not None:
            self._stream.fail(error)
            self._stream = None

    def _resolve(self, response: Response) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(response)

    # --- parser callbacks -----------------------------------------------------------
    def on_message_begin(self) -> None:
        self._headers = []
        self._reason = b""
        self._body = None
        self._interim = False

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            self._interim = True
            return
        headers, length = end_to_end(self._headers)
        self._length = length
        if self._head_only or status in (204, 304):
            self._resolve(Response(status, headers, length=length, reason=self._reason))
            self._waiter = None
            keep = self._parser.should_keep_alive()
            self._fresh_parser = not self._head_only  # llhttp would wait for a HEAD's body
            self._finish(keep)
        elif length is not None and length <= BUFFER_LIMIT:
            self._body = []
            self._pending = Response(status, headers, reason=self._reason)
        else:  # large, chunked, or delimited by the connection's close
            self._until_close = length is None and not any(
                n.lower() == b"transfer-encoding" for n, _ in self._headers
            )
            self._stream = BodyStream(self)
            self._resolve(
                Response(status, headers, stream=self._stream, length=length, reason=self._reason)
            )
            self._waiter = None

    def on_body(self, body: bytes) -> None:
        if self._body is not None:
            self._body.append(body)
        elif self._stream is not None:
            self._stream.feed(body)

    def on_message_complete(self) -> None:
        if self._interim:
            return
        if self._waiter is None and self._stream is None:
            return  # HEAD/204/304: already finished at the head
        keep = self._parser.should_keep_alive()
        if self._body is not None:
            response = self._pending
            response.body = b"".join(self._body)
            self._body = None
            self._resolve(response)
            self._waiter = None
        elif self._stream is not None:
            self._stream.finish()
            self._stream = None
        self._fresh_parser = True
        self._finish(keep)

    def _finish(self, keep: bool) -> None:
        if keep and not self.closed:
            self._pool.release(self)
        elif self._transport is not None:
            self.closed = True
            self._transport.close()


class Pool:
    """Connections to one endpoint of one upstream."""

    def __init__(
        self,
        endpoint: Endpoint,
        stats: Stats,
        *,
        idle_seconds: float,
        connect_seconds: float,
        tls: ssl.SSLContext | None = None,
        server_name: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.stats = stats
        self.idle_seconds = idle_seconds
        self.connect_seconds = connect_seconds
        self.tls = tls
        self.server_name = server_name
        self._idle: collections.deque[UpstreamConnection] = collections.deque()
        self._closed = False

    def idle(self) -> UpstreamConnection | None:
        """The most recently used idle connection, if any."""
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
        return None

    async def acquire(self) -> UpstreamConnection:
        return self.idle() or await self.connect()

    async def connect(self) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_seconds or None):
                _, conn = await loop.create_connection(
                    lambda: UpstreamConnection(self),
                    self.endpoint.address,
                    self.endpoint.port,
                    ssl=self.tls,
                    server_hostname=self.server_name if self.tls is not None else None,
                )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            self.stats.connect_failures += 1
            raise ConnectFailure(str(exc)) from exc
        return conn

    def release(self, conn: UpstreamConnection) -> None:
        if self._closed or len(self._idle) >= MAX_IDLE:
            conn.abort()
        else:
            self._idle.append(conn)

    def forget(self, conn: UpstreamConnection) -> None:
        if conn in self._idle:
            self._idle.remove(conn)

    def close(self) -> None:
        """Close idle connections; busy ones close when their exchange ends."""
        self._closed = True
        while self._idle:
            self._idle.pop().abort()

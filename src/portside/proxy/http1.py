"""HTTP/1.1 on the application's side: parse requests, run the App, write responses.

One :class:`ServerProtocol` per accepted connection (``asyncio.Protocol`` with
httptools' llhttp parser, the fastest path asyncio offers). Requests are handled
one at a time in arrival order; pipelined requests wait in a short queue (reading
pauses when it grows). Keep-alive follows the client (HTTP/1.1 default on,
``Connection: close`` honoured, HTTP/1.0 ``keep-alive`` honoured). A client's
half-close (``nc`` at the end of its stdin) ends its requests, not the answers:
the connection closes once every request received before the FIN is answered.

Request bodies are buffered whole (up to ``max_body`` bytes, else 413) so a retry
can resend them; ``Expect: 100-continue`` is answered here. Response bodies are
written as they were received: whole with ``Content-Length``, or streamed with the
upstream's length or chunked. If the application goes away mid-request the
handler is cancelled, which closes the upstream connection too.

Framing helpers (:func:`end_to_end`, :func:`response_head`, :func:`request_head`)
are shared with the upstream side in :mod:`portside.proxy.pool`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from http import HTTPStatus
from typing import cast

import httptools

from portside.proxy.idle import IdleTimer
from portside.proxy.metrics import Stats
from portside.proxy.types import App, Headers, Request, Response

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
        b"expect",
    }
)
BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH"})
MAX_QUEUED = 8
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}


def end_to_end(headers: Headers) -> tuple[Headers, int | None]:
    """Headers without hop-by-hop ones (and those named by ``Connection``); plus Content-Length."""
    out: Headers = []
    length: int | None = None
    named: set[bytes] | None = None
    for name, value in headers:
        lower = name.lower()
        if lower in HOP_BY_HOP:
            if lower == b"content-length" and value.strip().isdigit():
                length = int(value)
            elif lower == b"connection":
                named = {t.strip().lower() for t in value.split(b",")}
            continue
        out.append((name, value))
    if named:
        out = [(n, v) for n, v in out if n.lower() not in named]
    return out, length


def request_head(request: Request) -> bytes:
    parts = [request.method, b" ", request.target, b" HTTP/1.1\r\n"]
    for name, value in request.headers:
        parts += (name, b": ", value, b"\r\n")
    if request.body or request.method in BODY_METHODS:
        parts += (b"content-length: ", str(len(request.body)).encode(), b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def response_head(response: Response, framing: bytes) -> bytes:
    reason = response.reason or _REASONS.get(response.status, b"Unknown")
    parts = [b"HTTP/1.1 ", str(response.status).encode(), b" ", reason, b"\r\n"]
    for name, value in response.headers:
        parts += (name, b": ", value, b"\r\n")
    parts += (framing, b"\r\n")
    return b"".join(parts)


def local_reply(status: int, detail: str, *, close: bool = False) -> Response:
    headers: Headers = [(b"content-type", b"text/plain")]
    if close:
        headers.append((b"connection", b"close"))
    return Response(status, headers, body=detail.encode())


class HttpSite:
    """What a listener's connections share; the proxy swaps ``app`` on reconfiguration."""

    __slots__ = ("app", "connections", "idle_seconds", "max_body", "stats")

    def __init__(
        self, app: App, stats: Stats, idle_seconds: float, max_body: int = 16 << 20
    ) -> None:
        self.app = app
        self.stats = stats
        self.idle_seconds = idle_seconds
        self.max_body = max_body
        self.connections: set[asyncio.BaseTransport] = set()  # open ones, to close on shutdown


class ServerProtocol(asyncio.Protocol):
    def __init__(self, site: HttpSite) -> None:
        self._site = site
        self._stats = site.stats
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: Headers = []
        self._body: list[bytes] = []
        self._body_size = 0
        self._queue: collections.deque[tuple[Request, bool]] = collections.deque()
        self._task: asyncio.Task[None] | None = None  # one worker per connection
        self._wakeup: asyncio.Future[None] | None = None  # set while the worker waits
        self._busy = False  # the worker is handling a request
        self._writable: asyncio.Future[None] | None = None
        self._paused = False
        self._closed = False
        self._eof = False  # the client half-closed: no more requests, answers still go out
        self._idle: IdleTimer | None = None

    # --- connection -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(
            asyncio.Transport, transport
        )  # uvloop's transports are not subclasses
        self._stats.connections_active += 1
        self._stats.connections_total += 1
        self._site.connections.add(transport)
        self._idle = IdleTimer(self._loop, self._site.idle_seconds, transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._stats.connections_active -= 1
        if self._transport is not None:
            self._site.connections.discard(self._transport)
        if self._idle is not None:
            self._idle.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def eof_received(self) -> bool:
        """A half-close ends the requests, not the answers: keep writing until they are out."""
        self._eof = True
        return self._busy or bool(self._queue)  # False: nothing in flight, close now

    def pause_writing(self) -> None:
        self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    def data_received(self, data: bytes) -> None:
        self._stats.bytes_received += len(data)
        if self._idle is not None:
            self._idle.touch()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._queue.clear()  # llhttp completed the message before pausing
            self._fail(501, "protocol upgrades are not supported on http ports (use tcp)")
        except httptools.HttpParserError:
            self._fail(400, "malformed HTTP request")

    # --- parser callbacks -----------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._body = []
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        for name, value in self._headers:
            if name.lower() == b"expect" and value.lower() == b"100-continue" and self._transport:
                self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self._site.max_body:
            raise ValueError("request body too large")  # surfaces as HttpParserCallbackError
        self._body.append(body)

    def on_message_complete(self) -> None:
        headers, _ = end_to_end(self._headers)
        request = Request(
            method=self._parser.get_method(),
            target=self._url,
            headers=headers,
            body=b"".join(self._body) if self._body else b"",
            keep_alive=self._parser.should_keep_alive(),
        )
        self._queue.append((request, self._parser.get_http_version() == "1.0"))
        if self._task is None:
            self._task = self._loop.create_task(self._serve())
        elif self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)
        if len(self._queue) >= MAX_QUEUED and self._transport is not None:
            self._transport.pause_reading()
            self._paused = True

    # --- handling -------------------------------------------------------------------
    def _fail(self, status: int, detail: str) -> None:
        if self._body_size > self._site.max_body:
            status, detail = 413, "request body too large"
        if self._transport is not None and not self._busy:
            self._transport.write(_serialize_local(local_reply(status, detail, close=True)))
        if self._transport is not None:
            self._transport.close()

    async def _serve(self) -> None:
        """The connection's worker: requests in arrival order, one at a time.

        One long-lived task per connection (waiting on a future between requests)
        costs less than a task per request."""
        transport = self._transport
        assert transport is not None
        while True:
            if not self._queue:
                self._busy = False
                if self._eof:  # answered everything the client sent before its FIN
                    transport.close()
                    return
                self._wakeup = self._loop.create_future()
                await self._wakeup
                self._wakeup = None
                continue
            self._busy = True
            request, http10 = self._queue.popleft()
            if self._paused and len(self._queue) < MAX_QUEUED // 2:
                self._paused = False
                transport.resume_reading()
            try:
                response = await self._site.app(request)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("proxy filter chain failed")
                response = local_reply(500, "proxy internal error")
            keep = await self._write(request, http10, response)
            if not keep or self._closed:
                transport.close()
                return

    async def _write(self, request: Request, http10: bool, response: Response) -> bool:
        """Write one response; False when the connection must close afterwards."""
        transport = self._transport
        assert transport is not None
        keep = request.keep_alive
        status = response.status
        stream = response.stream
        no_body = request.method == b"HEAD" or status in (204, 304) or status < 200
        if no_body:
            framing = (
                b""
                if response.length is None or status == 204
                else b"content-length: %d\r\n" % response.length
            )
            stream = None
        elif stream is None:
            framing = b"content-length: %d\r\n" % len(response.body)
        elif response.length is not None:
            framing = b"content-length: %d\r\n" % response.length
        elif not http10:
            framing = b"transfer-encoding: chunked\r\n"
        else:
            framing, keep = b"", False
        if not keep:
            framing += b"connection: close\r\n"
        elif http10:
            framing += b"connection: keep-alive\r\n"
        head = response_head(response, framing)
        data = head if no_body or stream is not None else head + response.body
        self._send(data)
        if stream is None:
            return keep
        chunked = response.length is None and not http10
        done = False
        try:
            async for chunk in stream:
                self._send(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                if self._writable is not None:
                    await self._writable
                if self._closed:
                    return False
            done = True
        except Exception:  # the upstream failed mid-body: the client must see a broken message
            log.debug("upstream body failed after the head was sent", exc_info=True)
            return False
        finally:
            if not done:  # the client left or the upstream failed: drop the upstream connection
                await response.discard()
        if chunked:
            self._send(b"0\r\n\r\n")
        return keep

    def _send(self, data: bytes) -> None:
        if self._transport is not None and not self._closed:
            self._stats.bytes_sent += len(data)
            if self._idle is not None:
                self._idle.touch()
            self._transport.write(data)


def _serialize_local(response: Response) -> bytes:
    return response_head(response, b"content-length: %d\r\n" % len(response.body)) + response.body

"""The HTTP data path's vocabulary, declared once.

An exchange is data: a :class:`Request` in, a :class:`Response` out. Every stage
of the path has the same shape, like starlette's ASGI apps::

    App = Callable[[Request], Awaitable[Response]]
    Filter = Callable[[App], App]

A filter wraps an App and returns an App (metrics -> local replies -> timeout ->
retry -> forward); see :mod:`portside.proxy.chain` for the assembled stack.

Failures below the filters are exceptions from this tree, each carrying the
status a client sees when nothing handles it (Envoy's choices)::

    ProxyError
    ├── NoHealthyUpstream      503  no endpoint to send to
    ├── ConnectFailure         503  could not open a connection (nothing was sent)
    ├── UpstreamReset          503  connection lost before a complete response head
    ├── UpstreamTimeout        504  the per-request timeout expired
    └── UpstreamProtocolError  502  the upstream spoke broken HTTP
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

Headers = list[tuple[bytes, bytes]]

IDEMPOTENT_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})


@dataclass(slots=True)
class Request:
    method: bytes
    target: bytes
    headers: Headers  # end-to-end headers only; framing is the writer's job
    body: bytes = b""
    keep_alive: bool = True
    tried: set[str] = field(default_factory=set)  # endpoint keys already attempted
    deadline: float | None = None  # loop time by which the response must be complete

    @property
    def idempotent(self) -> bool:
        return self.method in IDEMPOTENT_METHODS


@dataclass(slots=True)
class Response:
    status: int
    headers: Headers  # end-to-end headers only
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None  # when set, the body comes from here
    length: int | None = None  # declared length of a streamed (or HEAD) body, if known
    reason: bytes = b""
    endpoint: str = ""  # which endpoint answered ("" for a local reply)

    async def discard(self) -> None:
        """Drop an unread streamed body (its connection is then not reused)."""
        stream, self.stream = self.stream, None
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()


App = Callable[[Request], Awaitable[Response]]
Filter = Callable[[App], App]


class ProxyError(Exception):
    """A request could not be completed upstream."""

    status = 502
    detail = "upstream error"


class NoHealthyUpstream(ProxyError):
    """No endpoint is available for the upstream."""

    status = 503
    detail = "no healthy upstream"


class ConnectFailure(ProxyError):
    """A connection to the endpoint could not be opened; no byte was sent."""

    status = 503
    detail = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"


class UpstreamReset(ProxyError):
    """The connection closed before a complete response head arrived."""

    status = 503
    detail = "upstream connect error or disconnect/reset before headers. reset reason: connection termination"


class UpstreamTimeout(ProxyError):
    """The per-request timeout expired."""

    status = 504
    detail = "upstream request timeout"


class UpstreamProtocolError(ProxyError):
    """The upstream's bytes are not valid HTTP/1.1."""

    status = 502
    detail = "upstream protocol error"

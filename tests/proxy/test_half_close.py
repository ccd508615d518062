"""A client that half-closes after its request still gets the answer.

``printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc api 8080`` sends its request and then a
FIN as soon as stdin ends, before the answer comes back: a half-close says "no
more requests", not "I am gone". Both the HTTP path and the TCP splice must
finish the exchange and only then close.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from portside.proxy.config import Endpoint
from tests.proxy.rig import backends, proxy_config, running, upstream
from tests.proxy.test_tcp import tcp_config


async def _ask(host: str, port: int, request: bytes) -> bytes:
    """Send ``request``, half-close at once, read until the proxy closes."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        writer.write_eof()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_http_request_then_half_close_gets_its_response() -> None:
    async with backends(1) as (b,), running(proxy_config(upstream(), [b])) as proxy:
        host, port = proxy.address("api:80")
        for version in (b"1.0", b"1.1"):
            answer = await _ask(host, port, b"GET / HTTP/" + version + b"\r\nhost: api\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 200 "), answer
            assert answer.endswith(b.name.encode()), answer
        # pipelined requests before the FIN are all answered, in order
        two = b"GET /a HTTP/1.1\r\nhost: api\r\n\r\nGET /b HTTP/1.1\r\nhost: api\r\n\r\n"
        answer = await _ask(host, port, two)
        assert answer.count(b"HTTP/1.1 200 ") == 2, answer
        assert [p for _, p, _, _ in b.seen[-2:]] == ["/a", "/b"]


@contextlib.asynccontextmanager
async def line_server(host: str) -> AsyncIterator[Endpoint]:
    """Answers as soon as it read a request head (like busybox httpd), then closes."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(0.05)  # the client's FIN is already here
            writer.write(b"HTTP/1.0 200 OK\r\n\r\nhello")
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(serve, host, 0)
    try:
        yield Endpoint(host, server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def test_tcp_request_then_immediate_half_close_gets_its_response() -> None:
    # The FIN arrives before the upstream connection is open: it must be passed on
    # once the splice is joined, not taken as the client going away.
    async with line_server("127.0.0.2") as ep, running(tcp_config((ep,))) as proxy:
        for _ in range(5):
            answer = await _ask(*proxy.address("db:5432"), b"GET / HTTP/1.0\r\n\r\n")
            assert answer == b"HTTP/1.0 200 OK\r\n\r\nhello"

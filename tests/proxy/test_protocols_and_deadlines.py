"""HTTP/2 carried as TCP, the per-request deadline against retries, and the HTTP idle timeout.

- A port whose ``appProtocol`` is ``http2`` is spliced (proxy/tcp.py): an h2c
  connection with prior knowledge (RFC 9113 section 3.3) goes through byte for
  byte, its streams multiplexed on one upstream connection chosen once. The h2
  peers are hand-written (the ``h2`` package is not a dependency): the few
  frames and HPACK representations used are spelled out below.
- ``per_request_seconds`` covers every attempt: 503 backends with a large
  retry budget give a 504 at the deadline, after fewer attempts than the budget.
- ``idle_seconds`` on an HTTP port closes a client connection that stays idle;
  0 keeps it open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp

from portside.proxy.config import (
    AppProtocol,
    Endpoint,
    OutlierPolicy,
    RetryPolicy,
    Timeouts,
)
from portside.proxy.server import Proxy
from tests.proxy.rig import Backend, backends, proxy_config, running, upstream, url

# -- a little HTTP/2 (RFC 9113) and HPACK (RFC 7541) -----------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, SETTINGS = 0x0, 0x1, 0x4
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
STATIC = {2: (":method", "GET"), 4: (":path", "/"), 6: (":scheme", "http"), 8: (":status", "200")}
NAMES = {1: ":authority", 4: ":path"}  # static-table names used by literals


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, int, int, bytes]:
    """(type, flags, stream id, payload)."""
    head = await reader.readexactly(9)
    payload = await reader.readexactly(int.from_bytes(head[:3], "big"))
    return head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, payload


def request_block(path: str, authority: str) -> bytes:
    """GET: ``:method`` and ``:scheme`` indexed; ``:path`` and ``:authority`` literal
    without indexing, name from the static table, plain (not Huffman) strings."""
    return bytes([0x82, 0x86]) + _literal(4, path) + _literal(1, authority)


def _literal(name_index: int, value: str) -> bytes:
    data = value.encode()
    assert len(data) < 127  # a one-byte length
    return bytes([name_index, len(data)]) + data


def decode(block: bytes) -> dict[str, str]:
    """The representations :func:`request_block` and the backend's answer use, only."""
    out: dict[str, str] = {}
    i = 0
    while i < len(block):
        if block[i] & 0x80:
            name, value = STATIC[block[i] & 0x7F]
            i += 1
        else:
            name, n = NAMES[block[i] & 0x0F], block[i + 1]
            value = block[i + 2 : i + 2 + n].decode()
            i += 2 + n
        out[name] = value
    return out


@contextlib.asynccontextmanager
async def h2c_backend(host: str) -> AsyncIterator[tuple[Endpoint, list[bytes]]]:
    """Answers every request stream with 200 and ``HOST PATH``; records each
    connection's first 24 bytes (the client preface, if it arrived intact)."""
    prefaces: list[bytes] = []
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            prefaces.append(await reader.readexactly(len(PREFACE)))
            writer.write(frame(SETTINGS, 0, 0))
            while True:
                kind, flags, stream, payload = await read_frame(reader)
                if kind == SETTINGS and not flags & ACK:
                    writer.write(frame(SETTINGS, ACK, 0))
                elif kind == HEADERS:
                    path = decode(payload)[":path"]
                    writer.write(frame(HEADERS, END_HEADERS, stream, bytes([0x88])))
                    writer.write(frame(DATA, END_STREAM, stream, f"{host} {path}".encode()))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(serve, host, 0)
    try:
        yield Endpoint(host, server.sockets[0].getsockname()[1]), prefaces
    finally:
        server.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def h2_get(proxy: Proxy, paths: list[str]) -> dict[int, tuple[str, str]]:
    """GET every path on one connection, all streams opened before any answer is read:
    ``{stream id: (status, body)}``."""
    host, port = proxy.address("api:80")
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(PREFACE + frame(SETTINGS, 0, 0))
        for i, path in enumerate(paths):
            writer.write(frame(HEADERS, END_STREAM | END_HEADERS, 1 + 2 * i,
                               request_block(path, "api:80")))
        statuses: dict[int, str] = {}
        bodies: dict[int, str] = {}
        acked = False
        while len(bodies) < len(paths) or not acked:
            kind, flags, stream, payload = await read_frame(reader)
            if kind == SETTINGS and not flags & ACK:
                writer.write(frame(SETTINGS, ACK, 0))
            elif kind == SETTINGS:
                acked = True  # the backend acknowledged our SETTINGS
            elif kind == HEADERS:
                statuses[stream] = decode(payload)[":status"]
            elif kind == DATA:
                bodies[stream] = payload.decode()
        return {s: (statuses[s], bodies[s]) for s in bodies}
    finally:
        writer.close()


# -- the tests ---------------------------------------------------------------------


async def test_h2c_streams_go_through_an_http2_port_spliced_per_connection() -> None:
    async with (
        h2c_backend("127.0.0.2") as (first, first_prefaces),
        h2c_backend("127.0.0.3") as (second, second_prefaces),
    ):
        up = upstream(protocol=AppProtocol.HTTP2)
        endpoints: list[Backend | Endpoint] = [first, second]
        async with running(proxy_config(up, endpoints)) as proxy:
            one = await h2_get(proxy, ["/a", "/b"])
            two = await h2_get(proxy, ["/c"])
            stats = proxy.clusters["api"].stats
            # (h2 through the HTTP/1.1 path would be refused: "PRI * HTTP/2.0" is not a request)
            assert stats.requests == 0 and stats.connections_total == 2
            assert stats.bytes_received > len(PREFACE) * 2
    # both streams of a connection on the same backend; the next connection on the other
    host = one[1][1].split()[0]
    assert one == {1: ("200", f"{host} /a"), 3: ("200", f"{host} /b")}, one
    other = second.address if host == first.address else first.address
    assert two == {1: ("200", f"{other} /c")}
    assert first_prefaces == second_prefaces == [PREFACE]  # relayed byte for byte


async def test_the_per_request_deadline_cuts_retries_short() -> None:
    attempts = 11  # 1 + max_retries: at 0.2 s each, 2.2 s or more if nothing cut them
    async with backends(3, status=503, delay=0.2) as bs:
        up = upstream(
            retry=RetryPolicy(max_retries=attempts - 1, base_interval_seconds=0.001),
            timeouts=Timeouts(per_request_seconds=1.0),
            outlier=OutlierPolicy(enabled=False),  # every attempt reaches a backend
        )
        async with running(proxy_config(up, bs)) as proxy, aiohttp.ClientSession() as s:
            async with s.get(url(proxy)) as r:
                assert r.status == 504 and await r.text() == "upstream request timeout"
            stats = proxy.clusters["api"].stats
            assert stats.timeouts == 1 and stats.retries >= 1
    seen = sum(b.requests for b in bs)
    assert 2 <= seen < attempts, seen  # retried, then stopped by the deadline


async def _get_on(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """One keep-alive GET on an open connection; the whole response."""
    writer.write(b"GET / HTTP/1.1\r\nHost: api\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(x.split(b":", 1)[1]) for x in head.split(b"\r\n")
                  if x.lower().startswith(b"content-length:"))
    return head + await reader.readexactly(length)


async def test_an_idle_http_client_connection_is_closed_by_the_idle_timeout() -> None:
    async with backends(1) as bs:
        up = upstream(timeouts=Timeouts(idle_seconds=0.3, per_request_seconds=5.0))
        async with running(proxy_config(up, bs)) as proxy:
            reader, writer = await asyncio.open_connection(*proxy.address("api:80"))
            try:
                assert (await _get_on(reader, writer)).startswith(b"HTTP/1.1 200")
                assert await reader.read() == b""  # closed by the proxy: we sent nothing more
            finally:
                writer.close()
            stats = proxy.clusters["api"].stats
            assert stats.connections_total == 1 and stats.timeouts == 0


async def test_idle_timeout_zero_keeps_an_idle_http_connection_open() -> None:
    async with backends(1) as bs:
        up = upstream(timeouts=Timeouts(idle_seconds=0, per_request_seconds=5.0))
        async with running(proxy_config(up, bs)) as proxy:
            reader, writer = await asyncio.open_connection(*proxy.address("api:80"))
            try:
                assert (await _get_on(reader, writer)).startswith(b"HTTP/1.1 200")
                await asyncio.sleep(1.0)  # over three times what closes it in the test above
                assert not reader.at_eof()
                assert (await _get_on(reader, writer)).startswith(b"HTTP/1.1 200")
            finally:
                writer.close()
            assert proxy.clusters["api"].stats.connections_total == 1  # the same connection

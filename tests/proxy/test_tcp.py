"""Plain TCP through the proxy: splice, half-close, failover on connect, idle timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from portside.proxy.config import (
    AppProtocol,
    Endpoint,
    ListenerConfig,
    ProxyConfig,
    Timeouts,
    UpstreamConfig,
)
from tests.proxy.rig import running


@contextlib.asynccontextmanager
async def tcp_server(host: str) -> AsyncIterator[tuple[Endpoint, list[int]]]:
    """Reads until EOF, then answers ``got N bytes`` and closes; counts connections."""
    accepted: list[int] = []
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        accepted.append(1)
        try:
            data = await reader.read()  # until the client's half-close
            writer.write(b"got %d bytes" % len(data))
            await writer.drain()
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(serve, host, 0)
    try:
        yield Endpoint(host, server.sockets[0].getsockname()[1]), accepted
    finally:
        server.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


def tcp_config(endpoints: tuple[Endpoint, ...], idle: float | None = None) -> ProxyConfig:
    timeouts = Timeouts(idle_seconds=idle, per_request_seconds=0) if idle else Timeouts()
    up = UpstreamConfig(name="db", protocol=AppProtocol.TCP, timeouts=timeouts)
    return ProxyConfig(
        upstreams=(up,),
        listeners=(ListenerConfig(name="db:5432", upstream="db", port=0),),
        endpoints={"db": endpoints},
    )


async def test_tcp_passthrough_with_half_close_and_failover() -> None:
    dead = Endpoint("127.0.0.9", 1)
    async with tcp_server("127.0.0.2") as (ep, accepted), running(tcp_config((dead, ep))) as proxy:
        host, port = proxy.address("db:5432")
        for _ in range(3):
            reader, writer = await asyncio.open_connection(host, port)
            payload = b"\x00binary\xff" * 100_000  # ~900 KB, exercises back-pressure
            writer.write(payload)
            writer.write_eof()  # the server answers only after our half-close
            assert await reader.read() == b"got %d bytes" % len(payload)
            writer.close()
            await writer.wait_closed()
        assert len(accepted) == 3
        stats = proxy.metrics.service("db")
        assert stats.connections_total == 3 and stats.bytes_received == 3 * len(payload)
        assert proxy.metrics.endpoint("db", dead.key).connect_failures >= 1
        assert proxy.metrics.endpoint("db", ep.key).bytes_sent == 3 * len(payload)


async def test_tcp_idle_timeout_closes_both_sides() -> None:
    async with tcp_server("127.0.0.2") as (ep, _), running(tcp_config((ep,), idle=0.3)) as proxy:
        reader, writer = await asyncio.open_connection(*proxy.address("db:5432"))
        writer.write(b"hello")
        started = asyncio.get_running_loop().time()
        # closed by the proxy, not by us, and long before TCP's default 1 h idle timeout
        assert await asyncio.wait_for(reader.read(), 60) == b""
        assert asyncio.get_running_loop().time() - started > 0.25
        writer.close()

"""Test rig for the proxy: real backends on loopback addresses and a proxy in front of them.

:class:`Backend` is a deliberately separate, minimal HTTP/1.1 server on asyncio
streams (no httptools), so the proxy's parser is checked against another
implementation. It counts accepted connections and requests, and its behaviour
(status, delay, body size, chunked) can be changed while it runs. Clients in the
tests are aiohttp's, a third implementation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from portside.proxy.config import (
    Endpoint,
    ListenerConfig,
    OutlierPolicy,
    ProxyConfig,
    RetryPolicy,
    Timeouts,
    UpstreamConfig,
)
from portside.proxy.server import Proxy


@dataclass
class Backend:
    host: str
    name: str = ""
    status: int = 200
    delay: float = 0.0
    body_size: int = 0  # 0: the body names the backend
    chunked: bool = False
    close_delimited: bool = False  # HTTP/1.0 style: no length, the body ends with the connection
    port: int = 0
    connections: int = 0
    requests: int = 0
    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def start(self) -> Backend:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.name = self.name or f"{self.host}:{self.port}"
        return self

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and reset every open connection (a crashed task)."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip()
                    for k, v in (x.split(":", 1) for x in lines[1:] if x)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests += 1
                self.seen.append((method, path, headers, body))
                if self.delay:
                    await asyncio.sleep(self.delay)
                payload = b"x" * self.body_size if self.body_size else self.name.encode()
                if path.startswith("/echo"):
                    payload = body
                out = f"HTTP/1.1 {self.status} X\r\nx-backend: {self.name}\r\n"
                if self.close_delimited:
                    writer.write(out.encode() + b"connection: close\r\n\r\n" + payload)
                    await writer.drain()
                    break
                if self.chunked:
                    out += "transfer-encoding: chunked\r\n\r\n"
                    half = len(payload) // 2
                    data = out.encode()
                    for part in (payload[:half], payload[half:]):
                        if part:
                            data += b"%x\r\n%s\r\n" % (len(part), part)
                    writer.write(data + b"0\r\n\r\n")
                else:
                    out += f"content-length: {len(payload)}\r\n\r\n"
                    writer.write(out.encode() + (b"" if method == "HEAD" else payload))
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def upstream(name: str = "api", **kw: Any) -> UpstreamConfig:
    """An HTTP upstream with test-friendly defaults (short ejections, quick retries)."""
    kw.setdefault("outlier", OutlierPolicy(base_ejection_seconds=0.5))
    kw.setdefault("retry", RetryPolicy(max_retries=2, base_interval_seconds=0.001))
    kw.setdefault("timeouts", Timeouts(per_request_seconds=5.0))
    return UpstreamConfig(name=name, **kw)


def proxy_config(
    up: UpstreamConfig, backends: list[Backend] | list[Backend | Endpoint], **listener: Any
) -> ProxyConfig:
    """One upstream behind one listener ``NAME:80`` on a free port."""
    eps = tuple(b if isinstance(b, Endpoint) else b.endpoint for b in backends)
    return ProxyConfig(
        upstreams=(up,),
        listeners=(ListenerConfig(name=f"{up.name}:80", upstream=up.name, port=0, **listener),),
        endpoints={up.name: eps},
    )


@contextlib.asynccontextmanager
async def backends(n: int, **kw: Any) -> AsyncIterator[list[Backend]]:
    """``n`` backends on 127.0.0.2, 127.0.0.3, …, stopped on the way out."""
    started: list[Backend] = []
    try:
        for i in range(n):
            started.append(await Backend(host=f"127.0.0.{i + 2}", **kw).start())
        yield started
    finally:
        for b in started:
            await b.stop()


@contextlib.asynccontextmanager
async def running(config: ProxyConfig) -> AsyncIterator[Proxy]:
    proxy = Proxy(config)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


def url(proxy: Proxy, listener: str = "api:80", path: str = "/") -> str:
    host, port = proxy.address(listener)
    return f"http://{host}:{port}{path}"

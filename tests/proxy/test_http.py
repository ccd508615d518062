"""HTTP/1.1 through the proxy: balancing, keep-alive and pooling, bodies, framing, metrics."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter

import aiohttp

from portside.proxy.config import AdminConfig
from tests.proxy.rig import backends, proxy_config, running, upstream, url


async def test_round_robin_spreads_evenly_over_three_backends() -> None:
    async with backends(3) as bs:
        async with running(proxy_config(upstream(), bs)) as proxy, aiohttp.ClientSession() as s:
            seen: Counter[str] = Counter()
            for _ in range(30):
                async with s.get(url(proxy)) as r:
                    assert r.status == 200
                    seen[await r.text()] += 1
        assert sorted(seen.values()) == [10, 10, 10] and set(seen) == {b.name for b in bs}


async def test_keep_alive_reuses_upstream_connections() -> None:
    async with backends(3) as bs, running(proxy_config(upstream(), bs)) as proxy:
        conn = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=conn) as s:
            for _ in range(60):
                async with s.get(url(proxy)) as r:
                    await r.read()
        # one client connection, one pooled connection per backend, 20 requests each
        assert proxy.metrics.service("api").connections_total == 1
        assert [b.connections for b in bs] == [1, 1, 1]
        assert [b.requests for b in bs] == [20, 20, 20]

        async with aiohttp.ClientSession() as s:  # 8 concurrent clients share the pools

            async def client() -> None:
                for _ in range(25):
                    async with s.get(url(proxy)) as r:
                        assert r.status == 200
                        await r.read()

            await asyncio.gather(*(client() for _ in range(8)))
        assert sum(b.requests for b in bs) == 260
        assert sum(b.connections for b in bs) <= 3 + 8 + 3  # bounded by concurrency, not requests


async def test_bodies_and_framing() -> None:
    async with (
        backends(1) as (b,),
        running(proxy_config(upstream(), [b])) as proxy,
        aiohttp.ClientSession() as s,
    ):
        payload = bytes(range(256)) * 400  # 100 KiB request body, buffered and re-framed
        async with s.post(url(proxy, path="/echo"), data=payload) as r:
            assert r.status == 200 and await r.read() == payload
        method, path, headers, _ = b.seen[-1]
        assert (method, path, headers["content-length"]) == ("POST", "/echo", str(len(payload)))
        async with s.head(url(proxy)) as r:  # HEAD keeps the upstream's length, sends no body
            assert r.status == 200 and r.headers["content-length"] == str(len(b.name))
        b.chunked = True
        async with s.get(url(proxy, path="/c")) as r:  # chunked upstream -> chunked downstream
            assert r.headers.get("transfer-encoding") == "chunked" and await r.text() == b.name
        b.chunked, b.body_size = False, 3 << 20  # large: streamed with its length
        async with s.get(url(proxy, path="/big")) as r:
            assert r.headers["content-length"] == str(3 << 20)
            assert await r.read() == b"x" * (3 << 20)
        b.body_size, b.close_delimited = 0, True  # no length: ends when the upstream closes
        async with s.get(url(proxy, path="/eof")) as r:
            assert r.headers.get("transfer-encoding") == "chunked" and await r.text() == b.name
        b.close_delimited = False
        async with s.get(url(proxy, path="/after?q=1")) as r:  # the pooled connection still works
            assert await r.text() == b.name
        assert b.seen[-1][1] == "/after?q=1" and b.connections == 2  # one closed after /eof
        assert "x-backend" in r.headers


async def test_http10_pipelining_and_connection_close() -> None:
    async with backends(1) as (b,), running(proxy_config(upstream(), [b])) as proxy:
        host, port = proxy.address("api:80")
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /1 HTTP/1.1\r\nhost: api\r\n\r\nGET /2 HTTP/1.1\r\nhost: api\r\n\r\n")
        first = await reader.readuntil(b"\r\n\r\n")
        assert first.startswith(b"HTTP/1.1 200") and b"content-length: " in first
        await reader.readexactly(len(b.name))
        second = await reader.readuntil(b"\r\n\r\n")
        assert second.startswith(b"HTTP/1.1 200")
        await reader.readexactly(len(b.name))
        writer.write(b"GET /3 HTTP/1.1\r\nhost: api\r\nconnection: close\r\n\r\n")
        rest = await reader.read()  # the proxy closes after the response
        assert rest.startswith(b"HTTP/1.1 200") and b"connection: close" in rest
        writer.close()

        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /4 HTTP/1.0\r\n\r\n")  # HTTP/1.0 without keep-alive: close
        rest = await reader.read()
        assert rest.endswith(b.name.encode()) and b"connection: close" in rest
        writer.close()
        assert [p for _, p, _, _ in b.seen] == ["/1", "/2", "/3", "/4"]
        assert b.connections == 1  # the upstream side stayed kept-alive throughout

        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.1 400")
        writer.close()

        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            b"GET /ws HTTP/1.1\r\nhost: api\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n"
        )
        assert (await reader.read()).startswith(b"HTTP/1.1 501")
        writer.close()
        assert len(b.seen) == 4  # neither reached the backend


async def test_a_client_leaving_mid_body_releases_the_upstream() -> None:
    async with (
        backends(1, body_size=16 << 20) as (b,),
        running(proxy_config(upstream(), [b])) as proxy,
    ):
        host, port = proxy.address("api:80")
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /huge HTTP/1.1\r\nhost: api\r\n\r\n")
        await reader.readexactly(1 << 20)  # a MiB in, then hang up
        writer.transport.abort()
        endpoint = proxy.metrics.endpoint("api", b.endpoint.key)
        deadline = asyncio.get_running_loop().time() + 60  # generous: CI machines are loaded
        while endpoint.connections_active and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        assert endpoint.connections_active == 0


async def test_metrics_count_what_happened() -> None:
    async with backends(2) as bs:
        config = proxy_config(upstream(), bs)
        config = dataclasses.replace(config, admin=AdminConfig(port=0))
        async with running(config) as proxy, aiohttp.ClientSession() as s:
            bs[1].status = 404
            for _ in range(10):
                async with s.get(url(proxy)) as r:
                    await r.read()
            admin = proxy.admin_address
            assert isinstance(admin, tuple)
            async with s.get(f"http://{admin[0]}:{admin[1]}/metrics") as r:
                assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
                text = await r.text()
            async with s.get(f"http://{admin[0]}:{admin[1]}/stats") as r:
                stats = await r.json()
        lines = set(text.splitlines())
        ep0, ep1 = bs[0].name, bs[1].name
        assert 'portside_proxy_requests_total{service="api"} 10' in lines
        assert 'portside_proxy_responses_total{service="api",class="2xx"} 5' in lines
        assert 'portside_proxy_responses_total{service="api",class="4xx"} 5' in lines
        assert 'portside_proxy_request_duration_seconds_count{service="api"} 10' in lines
        assert (
            f'portside_proxy_endpoint_requests_total{{service="api",endpoint="{ep0}"}} 5' in lines
        )
        assert (
            f'portside_proxy_endpoint_responses_total{{service="api",endpoint="{ep1}",class="4xx"}} 5'
            in lines
        )
        assert (
            f'portside_proxy_endpoint_connections_total{{service="api",endpoint="{ep0}"}} 1'
            in lines
        )
        assert f'portside_proxy_endpoint_ejected{{service="api",endpoint="{ep1}"}} 0' in lines
        assert 'portside_proxy_connections_active{service="api"} 1' in lines
        svc = stats["services"]["api"]
        assert svc["bytes_received"] > 0 and svc["bytes_sent"] > 0
        assert stats["endpoints"][f"api/{ep0}"]["bytes_received"] > 0


async def test_an_upstream_with_bare_lf_line_endings_is_understood() -> None:
    """busybox httpd relays a CGI script's ``\\n`` headers as they are: still a response."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\nContent-Type: text/plain\n\nhello from cgi")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.9", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        from portside.proxy.config import Endpoint

        config = proxy_config(upstream(), [Endpoint("127.0.0.9", port)])
        async with running(config) as proxy, aiohttp.ClientSession() as s, s.get(url(proxy)) as r:
            assert r.status == 200
            assert await r.text() == "hello from cgi"
    finally:
        server.close()
        await server.wait_closed()

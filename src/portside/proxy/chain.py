"""The HTTP path for one upstream, assembled in one place.

Outermost first::

    measure ........ per-service requests, responses by class, latency
    local_replies .. a ProxyError becomes 503 / 504 / 502 with Envoy's wording
    timeout ........ request.deadline = now + per_request_seconds (covers retries)
    retry .......... connect failure (any method), reset or 503 (idempotent methods)
                     -> another endpoint after a jittered back-off
    forward ........ pick an endpoint, borrow a pooled connection, one exchange;
                     feeds outlier detection and per-endpoint metrics
"""

from __future__ import annotations

import asyncio

from portside.proxy.cluster import Cluster
from portside.proxy.filters import local_replies, measure, retry, timeout
from portside.proxy.pool import Pool, UpstreamConnection
from portside.proxy.types import App, ProxyError, Request, Response, UpstreamTimeout


def http_chain(cluster: Cluster) -> App:
    config = cluster.config
    app = forward(cluster)
    app = retry(config.retry, cluster.stats, cluster.rng)(app)
    app = timeout(config.timeouts.per_request_seconds, cluster.stats)(app)
    app = local_replies(app)
    return measure(cluster.stats)(app)


def forward(cluster: Cluster) -> App:
    loop = asyncio.get_running_loop()

    async def call(request: Request) -> Response:
        endpoint = cluster.pick(request.tried)
        key = endpoint.key
        request.tried.add(key)
        stats = cluster.endpoint_stats(key)
        stats.requests += 1
        active = cluster.active
        active[key] = active.get(key, 0) + 1
        started = loop.time()
        deadline = request.deadline
        conn: UpstreamConnection | None = None
        try:
            try:
                pool = cluster.pool(endpoint)
                conn = pool.idle()
                if conn is None:
                    conn = await _connect(pool, deadline)
                response = await _exchange(loop, conn, request, deadline)
            except UpstreamTimeout:
                stats.timeouts += 1
                if conn is not None:
                    conn.abort()
                raise
            except asyncio.CancelledError:  # the client went away
                if conn is not None:
                    conn.abort()
                raise
        except ProxyError:  # connect failures are counted by the pool, timeouts above
            cluster.failed(key)
            raise
        finally:
            active[key] -= 1
        stats.response(response.status, loop.time() - started)
        if response.status >= 500:
            cluster.failed(key)
        else:
            cluster.succeeded(key)
        response.endpoint = key
        return response

    return call


async def _connect(pool: Pool, deadline: float | None) -> UpstreamConnection:
    if deadline is None:
        return await pool.connect()
    try:
        async with asyncio.timeout_at(deadline):
            return await pool.connect()
    except TimeoutError:
        raise UpstreamTimeout() from None


async def _exchange(
    loop: asyncio.AbstractEventLoop,
    conn: UpstreamConnection,
    request: Request,
    deadline: float | None,
) -> Response:
    """One exchange; the deadline is a plain timer on the response future (cheaper than a
    cancellation scope on this, the hottest path)."""
    waiter = conn.exchange(request)
    if deadline is None:
        return await waiter
    if loop.time() >= deadline:
        raise UpstreamTimeout()
    timer = loop.call_at(deadline, _expire, waiter)
    try:
        return await waiter
    finally:
        timer.cancel()


def _expire(waiter: asyncio.Future[Response]) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamTimeout())

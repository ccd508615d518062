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
import contextlib

from portside.proxy.cluster import Cluster
from portside.proxy.filters import local_replies, measure, retry, timeout
from portside.proxy.pool import UpstreamConnection
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
        conn: UpstreamConnection | None = None
        try:
            deadline = request.deadline
            scope = (
                asyncio.timeout_at(deadline) if deadline is not None else contextlib.nullcontext()
            )
            try:
                async with scope:
                    conn = await cluster.pool(endpoint).acquire()
                    response = await conn.exchange(request)
            except TimeoutError:
                if conn is not None:
                    conn.abort()
                stats.timeouts += 1
                raise UpstreamTimeout() from None
            except asyncio.CancelledError:
                if conn is not None:
                    conn.abort()
                raise
        except ProxyError:  # counted by the pool (connect failures) or above (timeouts)
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

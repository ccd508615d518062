"""The HTTP filters: each takes an App and returns an App (see :mod:`portside.proxy.types`).

From the outside in: :func:`measure` (per-service metrics), :func:`local_replies`
(failures become Envoy-style 5xx responses), :func:`timeout` (the per-request
deadline, covering every retry), :func:`retry` (another endpoint after a
retryable failure, with jittered back-off). :mod:`portside.proxy.chain` stacks them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

from portside.proxy.config import RetryPolicy
from portside.proxy.http1 import local_reply
from portside.proxy.metrics import Stats
from portside.proxy.retry import backoff, retryable_error, retryable_status
from portside.proxy.types import App, Filter, ProxyError, Request, Response, UpstreamTimeout


def measure(stats: Stats) -> Filter:
    def wrap(app: App) -> App:
        loop = asyncio.get_running_loop()

        async def call(request: Request) -> Response:
            stats.requests += 1
            started = loop.time()
            response = await app(request)
            stats.response(response.status, loop.time() - started)
            return response

        return call

    return wrap


def local_replies(app: App) -> App:
    async def call(request: Request) -> Response:
        try:
            return await app(request)
        except ProxyError as error:
            return local_reply(error.status, error.detail)

    return call


def timeout(seconds: float, stats: Stats) -> Filter:
    """Sets ``request.deadline``; the forwarder enforces it on each attempt, streams on each chunk."""

    def wrap(app: App) -> App:
        if seconds <= 0:
            return app
        loop = asyncio.get_running_loop()

        async def call(request: Request) -> Response:
            request.deadline = deadline = loop.time() + seconds
            try:
                response = await app(request)
            except UpstreamTimeout:
                stats.timeouts += 1
                raise
            if response.stream is not None:
                response.stream = _until(response.stream, deadline)
            return response

        return call

    return wrap


async def _until(stream: AsyncIterator[bytes], deadline: float) -> AsyncIterator[bytes]:
    try:
        while True:
            async with asyncio.timeout_at(deadline):
                try:
                    chunk = await anext(stream)
                except StopAsyncIteration:
                    return
            yield chunk
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()


def retry(policy: RetryPolicy, stats: Stats, rng: random.Random) -> Filter:
    def wrap(app: App) -> App:
        if policy.max_retries <= 0:
            return app
        loop = asyncio.get_running_loop()

        async def call(request: Request) -> Response:
            attempt = 0
            while True:
                try:
                    response = await app(request)
                except ProxyError as error:
                    if attempt >= policy.max_retries or not retryable_error(
                        error, request.idempotent
                    ):
                        raise
                else:
                    if attempt >= policy.max_retries or not retryable_status(
                        response.status, request.idempotent
                    ):
                        return response
                    await response.discard()
                attempt += 1
                stats.retries += 1
                delay = backoff(policy, attempt, rng.random())
                if request.deadline is not None:
                    delay = min(delay, max(0.0, request.deadline - loop.time()))
                if delay > 0:
                    await asyncio.sleep(delay)

        return call

    return wrap

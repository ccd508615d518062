"""least_request through a running proxy: new requests avoid the backend holding requests open.

The policies' unit tests check the balancer as a bare function; here the proxy's
own in-flight counts drive it. Two backends answer only when their gate opens,
so which requests each one holds is known exactly, with no timing involved: both
gates shut, four requests spread two and two; the fast backend's gate then opens
for good while the slow one keeps its two. Requests sent one after another from
then on all go to the idle backend under least_request, and alternate under
round_robin — the same procedure, so the test tells the two policies apart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import pytest

from portside.proxy.config import Balancing, Endpoint, Timeouts
from tests.proxy.rig import proxy_config, running, upstream, url


@dataclass
class GatedBackend:
    """Answers each request (``200``, its own name) only once ``gate`` is set."""

    host: str
    port: int = 0
    received: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None

    async def start(self) -> GatedBackend:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.host, self.port)

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                await reader.readuntil(b"\r\n\r\n")  # GETs only: no body
                self.received += 1
                await self.gate.wait()
                body = self.host.encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        writer.close()


async def _eventually(check: Callable[[], bool]) -> None:
    """Wait for ``check()``; the package's per-test time limit bounds the wait."""
    while not check():
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("balancing", [Balancing.LEAST_REQUEST, Balancing.ROUND_ROBIN])
async def test_new_requests_go_to_the_idle_backend_while_the_slow_one_holds_its_own(
    balancing: Balancing,
) -> None:
    fast, slow = GatedBackend("127.0.0.2"), GatedBackend("127.0.0.3")
    await fast.start()
    await slow.start()
    up = upstream(balancing=balancing, timeouts=Timeouts(per_request_seconds=0))
    answered: list[str] = []
    try:
        async with (
            running(proxy_config(up, [fast.endpoint, slow.endpoint])) as proxy,
            aiohttp.ClientSession() as s,
        ):

            async def get() -> None:
                async with s.get(url(proxy)) as r:
                    assert r.status == 200
                    answered.append(await r.text())

            pending = [asyncio.create_task(get()) for _ in range(4)]
            await _eventually(lambda: fast.received + slow.received == 4)
            assert (fast.received, slow.received) == (2, 2)  # both policies: two and two
            fast.gate.set()
            await _eventually(lambda: len(answered) == 2)

            # One at a time: each request is answered, or held by the slow backend,
            # before the next one is sent, so the balancer sees settled counts.
            def settled() -> int:
                return len(answered) + slow.received

            for _ in range(20):
                target = settled() + 1
                pending.append(asyncio.create_task(get()))
                await _eventually(lambda: settled() == target)  # noqa: B023 - awaited here
            if balancing is Balancing.LEAST_REQUEST:
                assert (fast.received, slow.received) == (22, 2)
            else:
                assert (fast.received, slow.received) == (12, 12)
            assert all(a == fast.host for a in answered)

            slow.gate.set()
            await asyncio.gather(*pending)
            assert len(answered) == 24
    finally:
        fast.gate.set()
        slow.gate.set()
        await fast.close()
        await slow.close()

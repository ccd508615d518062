"""A :class:`~portside.dns.server.DnsServer` on a thread and event loop of its own.

Beside the control plane, the DNS server shared one event loop with the API,
the store and the controllers: a query that arrived during a controller pass or
a commit waited for it, and under API load its p50 rose from under a
millisecond to several (bench/dns_cp.py). On its own loop, a query waits at
most for the interpreter lock, which a busy thread hands over every 5 ms
(``sys.getswitchinterval()``). Lowering that interval to 0.5 ms made no
difference measurable here, so it is left alone.

The registry is read from this thread, so it must be cheap and thread-safe:
return an immutable snapshot built elsewhere (a plain attribute read is atomic).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any

from portside.dns.server import DnsServer, DnsSettings
from portside.dns.zone import Registry

START_TIMEOUT = 10.0


class DnsThread:
    """Start with :meth:`start` (from any thread), stop with :meth:`stop`."""

    def __init__(self, registry: Registry, settings: DnsSettings | None = None) -> None:
        self.server = DnsServer(registry, settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> DnsThread:
        """Bind and serve; raises what binding raised (OSError for a port in use)."""
        loop = self._loop = _new_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="portside-dns", daemon=True)
        self._thread.start()
        try:
            self._call(self.server.start())
        except BaseException:
            self._halt()
            raise
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        try:
            self._call(self.server.stop())
        finally:
            self._halt()

    async def aclose(self) -> None:
        """:meth:`stop` without blocking the caller's event loop."""
        await asyncio.to_thread(self.stop)

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(START_TIMEOUT)

    def _halt(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT)
        if not thread.is_alive():
            loop.close()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()

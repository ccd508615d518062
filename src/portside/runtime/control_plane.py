"""Run the control plane: lock and open the store, serve the API, stop cleanly on a signal."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

from aiohttp import web

from portside.api.app import App
from portside.api.server import make_app
from portside.config import Settings
from portside.runtime.components import components
from portside.runtime.dns_component import start_dns
from portside.store.lock import lock_store


async def serve(settings: Settings, on_ready: Callable[[App], None] | None = None) -> None:
    # before the store opens (and migrates): a second server on this database is refused
    held = lock_store(settings.store_url, f"portside pid {os.getpid()} at {settings.endpoint}")
    try:
        await _serve(settings, on_ready)
    finally:
        held.release()


async def _serve(settings: Settings, on_ready: Callable[[App], None] | None) -> None:
    app = App.open(settings)
    runner = web.AppRunner(make_app(app), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        dns = await start_dns(app)
        site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
        await site.start()
        # no await from here to on_ready: no request is served before it ran (it creates
        # the cluster 'default' that clients may ask for as soon as /health answers)
        stop = asyncio.Event()
        background = [asyncio.create_task(c(app, stop)) for c in components()]
        if on_ready is not None:
            on_ready(app)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        if dns is not None:
            await dns.stop()
    finally:
        await runner.cleanup()
        app.close()


def run(settings: Settings, on_ready: Callable[[App], None] | None = None) -> None:
    try:
        import uvloop

        uvloop.run(serve(settings, on_ready))
    except ImportError:
        asyncio.run(serve(settings, on_ready))

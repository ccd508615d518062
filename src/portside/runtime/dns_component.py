"""The DNS server beside the API (``portside up --dns-port``), on its own thread."""

from __future__ import annotations

import asyncio
import logging

from portside.api.app import App
from portside.dns.forward import Upstream
from portside.dns.server import DnsSettings
from portside.dns.thread import DnsThread
from portside.runtime.dns_registry import CloudMapRegistry

log = logging.getLogger("portside.dns")


class DnsComponent:
    """What :func:`start_dns` returns: the serving thread and the registry feeding it."""

    def __init__(self, thread: DnsThread, registry: CloudMapRegistry) -> None:
        self.thread = thread
        self.registry = registry

    @property
    def port(self) -> int:
        return self.thread.port

    async def stop(self) -> None:
        self.registry.close()
        await self.thread.aclose()


async def start_dns(app: App) -> DnsComponent | None:
    """Start serving Cloud Map DNS namespaces, or None when DNS is off."""
    port = app.settings.dns_port
    if port is None:
        return None
    registry = CloudMapRegistry(app.store)
    upstreams = tuple(Upstream.parse(u) for u in app.settings.dns_upstreams)
    settings = DnsSettings(host=app.settings.dns_host, port=port, upstreams=upstreams)
    thread = DnsThread(registry, settings)
    try:
        await asyncio.to_thread(thread.start)
    except BaseException:
        registry.close()
        raise
    app.extras["dns_port"] = thread.port
    return DnsComponent(thread, registry)

"""The DNS server beside the API (``portside up --dns-port``)."""

from __future__ import annotations

import logging

from portside.api.app import App
from portside.dns.server import DnsServer, DnsSettings
from portside.runtime.dns_registry import CloudMapRegistry

log = logging.getLogger("portside.dns")


async def start_dns(app: App) -> DnsServer | None:
    """Start serving Cloud Map DNS namespaces, or None when DNS is off."""
    port = app.settings.dns_port
    if port is None:
        return None
    server = DnsServer(
        CloudMapRegistry(app.store), DnsSettings(host=app.settings.dns_host, port=port)
    )
    await server.start()
    app.extras["dns_port"] = server.port
    return server

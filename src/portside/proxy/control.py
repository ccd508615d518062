"""The control plane's side of the admin API: push a configuration or an endpoint set.

The agent runs one proxy per task with Service Connect and keeps it current with
two calls; the proxy's admin API listens on a TCP address or, when the proxy runs
inside the task's network namespace, on a Unix socket on the host's filesystem::

    admin = ProxyAdmin.unix("/run/portside/tasks/<task-id>/proxy.sock")
    await admin.push_config(config)                      # whole document
    await admin.push_endpoints("api", endpoints)         # one upstream's whole set

Each call raises :class:`ProxyAdminError` with the proxy's message when the proxy
refuses the document (400), does not know the upstream (404) or cannot bind (409).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from portside.proxy.config import Endpoint, ProxyConfig, config_to_dict


class ProxyAdminError(Exception):
    """The proxy refused an admin request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


@dataclass(frozen=True, slots=True)
class ProxyAdmin:
    base_url: str
    unix_path: str | None = None
    timeout_seconds: float = 5.0

    @classmethod
    def tcp(cls, host: str, port: int) -> ProxyAdmin:
        return cls(f"http://{host}:{port}")

    @classmethod
    def unix(cls, path: str) -> ProxyAdmin:
        return cls("http://proxy", unix_path=path)

    async def push_config(self, config: ProxyConfig) -> None:
        await self._call("POST", "/config", config_to_dict(config))

    async def push_endpoints(self, service: str, endpoints: Iterable[Endpoint]) -> None:
        body = {
            "service": service,
            "endpoints": [
                {"address": e.address, "port": e.port, "health": e.health.value} for e in endpoints
            ],
        }
        await self._call("POST", "/endpoints", body)

    async def stats(self) -> dict[str, Any]:
        result = await self._call("GET", "/stats", None)
        return dict(result)

    async def _call(self, method: str, path: str, body: Any) -> Any:
        connector = aiohttp.UnixConnector(path=self.unix_path) if self.unix_path else None
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            session.request(
                method, self.base_url + path, data=None if body is None else json.dumps(body)
            ) as response,
        ):
            text = await response.text()
            if response.status != 200:
                try:
                    message = json.loads(text).get("error", text)
                except (ValueError, AttributeError):
                    message = text
                raise ProxyAdminError(response.status, str(message))
            return json.loads(text)

"""The proxy process: listeners, upstream clusters and the admin API, changed live.

:class:`Proxy` is the whole data plane of one task. The control plane drives it
with two calls, locally or through the admin API:

- :meth:`Proxy.apply` (``POST /config``, or the watched config file): the whole
  configuration. Listeners whose binding is unchanged keep their sockets and
  connections and switch to the new filter chain; upstreams keep their pools,
  outlier history and metrics; endpoint sets named in the document replace the
  current ones (upstreams it does not list keep theirs).
- :meth:`Proxy.set_endpoints` (``POST /endpoints``): one upstream's whole
  endpoint set, as tasks start, become healthy or begin to stop.

Admin API (HTTP/1.1 on a TCP port or a Unix socket, served by the same
:mod:`portside.proxy.http1` code as the data path)::

    GET  /metrics    Prometheus text
    GET  /stats      the same counters as JSON (for ``portside top``)
    GET  /config     the configuration in force, endpoints included
    GET  /listeners  {NAME: {"address", "port"}} as bound (port 0 resolved)
    POST /config     {config document}                         -> 200 | 400
    POST /endpoints  {"service": NAME, "endpoints": [{address, port, health}]}
                     or {"endpoints": {NAME: [...], ...}}       -> 200 | 400 | 404
    GET  /ready      200 once listening
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import Any

from portside.proxy.chain import http_chain
from portside.proxy.cluster import Cluster
from portside.proxy.config import (
    AdminConfig,
    ConfigError,
    Endpoint,
    ListenerConfig,
    ProxyConfig,
    config_to_dict,
    parse_config,
    parse_endpoint_sets,
    parse_endpoints,
)
from portside.proxy.http1 import HttpSite, ServerProtocol, local_reply
from portside.proxy.metrics import CONTENT_TYPE, Metrics, Stats
from portside.proxy.netns import listening_socket
from portside.proxy.tcp import SpliceProtocol, TcpSite
from portside.proxy.tls import TlsContexts
from portside.proxy.types import Request, Response

log = logging.getLogger(__name__)


@dataclasses.dataclass
class _Listener:
    config: ListenerConfig
    spliced: bool
    server: asyncio.Server
    site: HttpSite | TcpSite


class Proxy:
    def __init__(self, config: ProxyConfig) -> None:
        self.config = ProxyConfig()
        self._initial = config
        self.metrics = Metrics()
        self.tls = TlsContexts()
        self.clusters: dict[str, Cluster] = {}
        self._listeners: dict[str, _Listener] = {}
        self._admin: asyncio.Server | None = None
        self._admin_config: AdminConfig | None = None
        self._lock = asyncio.Lock()

    # --- control --------------------------------------------------------------------
    async def start(self) -> None:
        await self.apply(self._initial)

    async def apply(self, config: ProxyConfig) -> None:
        async with self._lock:
            await self._apply(config)

    async def _apply(self, config: ProxyConfig) -> None:
        loop = asyncio.get_running_loop()
        self.tls.retain(
            {u.tls for u in config.upstreams if u.tls} | {x.tls for x in config.listeners if x.tls}
        )
        endpoints = dict(self.config.endpoints)
        for name in list(self.clusters):
            if name not in {u.name for u in config.upstreams}:
                self.clusters.pop(name).close()
                endpoints.pop(name, None)
        for upstream in config.upstreams:
            ctx = self.tls.client(upstream.tls) if upstream.tls else None
            cluster = self.clusters.get(upstream.name)
            if cluster is None:
                cluster = self.clusters[upstream.name] = Cluster(
                    upstream, self.metrics, loop.time, tls=ctx
                )
            else:
                cluster.reconfigure(upstream, ctx)
        for name, eps in config.endpoints.items():
            self.clusters[name].set_endpoints(eps)
            endpoints[name] = eps
        self.config = dataclasses.replace(config, endpoints=endpoints)
        await self._apply_listeners(config.listeners)
        if config.admin != self._admin_config:
            await self._start_admin(config.admin)

    async def _apply_listeners(self, listeners: tuple[ListenerConfig, ...]) -> None:
        wanted = {x.name: x for x in listeners}
        for name, current in list(self._listeners.items()):
            new = wanted.get(name)
            if new is None or not self._same_binding(current, new):
                del self._listeners[name]
                current.server.close()
        for config in listeners:
            cluster = self.clusters[config.upstream]
            found = self._listeners.get(config.name)
            if found is None:
                self._listeners[config.name] = await self._bind(config, cluster)
                continue
            found.config = config
            site = found.site
            if isinstance(site, HttpSite):
                site.app = http_chain(cluster)
                site.stats = cluster.stats
                site.idle_seconds = cluster.config.timeouts.idle_seconds
            else:
                site.cluster, site.stats = cluster, cluster.stats

    def _same_binding(self, current: _Listener, new: ListenerConfig) -> bool:
        old = current.config
        spliced = (
            self.clusters[new.upstream].config.spliced if new.upstream in self.clusters else None
        )
        return (old.address, old.port, old.tls, old.netns) == (
            new.address, new.port, new.tls, new.netns
        ) and (
            spliced == current.spliced
        )

    async def _bind(self, config: ListenerConfig, cluster: Cluster) -> _Listener:
        loop = asyncio.get_running_loop()
        ssl_ctx = self.tls.server(config.tls) if config.tls else None
        site: HttpSite | TcpSite
        # a listener in another network namespace (a Docker bridge container's) gets its
        # socket made there; the proxy itself, and its upstream connections, stay here
        where: dict[str, Any] = (
            {"sock": listening_socket(config.netns, config.address, config.port)}
            if config.netns
            else {"host": config.address, "port": config.port, "reuse_address": True}
        )
        if cluster.config.spliced:
            tcp_site = site = TcpSite(cluster)
            server = await loop.create_server(
                lambda: SpliceProtocol(tcp_site), ssl=ssl_ctx, backlog=1024, **where
            )
        else:
            http_site = site = HttpSite(
                http_chain(cluster), cluster.stats, cluster.config.timeouts.idle_seconds
            )
            server = await loop.create_server(
                lambda: ServerProtocol(http_site), ssl=ssl_ctx, backlog=1024, **where
            )
        log.info(
            "listener %s on %s:%s -> %s", config.name, config.address, _port(server), cluster.name
        )
        return _Listener(config, cluster.config.spliced, server, site)

    def set_endpoints(self, service: str, endpoints: tuple[Endpoint, ...]) -> None:
        cluster = self.clusters.get(service)
        if cluster is None:
            raise KeyError(service)
        cluster.set_endpoints(endpoints)
        self.config = dataclasses.replace(
            self.config, endpoints={**self.config.endpoints, service: endpoints}
        )

    def refresh_tls(self) -> int:
        """Reload certificates whose files changed (call periodically)."""
        return self.tls.refresh()

    async def close(self) -> None:
        """Stop listening and close every connection, both sides."""
        for listener in self._listeners.values():
            listener.server.close()
            for transport in list(listener.site.connections):
                transport.close()
        if self._admin is not None:
            self._admin.close()
        for cluster in self.clusters.values():
            cluster.close()
        self._listeners.clear()
        self._admin = None
        await asyncio.sleep(0)  # let the transports run their connection_lost callbacks

    # --- introspection --------------------------------------------------------------
    def address(self, listener: str) -> tuple[str, int]:
        found = self._listeners[listener]
        return found.config.address, _port(found.server)

    @property
    def admin_address(self) -> tuple[str, int] | str | None:
        if self._admin is None or self._admin_config is None:
            return None
        if self._admin_config.unix:
            return self._admin_config.unix
        return self._admin_config.address, _port(self._admin)

    def stats(self) -> dict[str, Any]:
        """The counters as JSON (``GET /stats``), with each endpoint's ``ejected`` 0/1."""
        for cluster in self.clusters.values():
            cluster.publish_ejections()
        return self.metrics.snapshot()

    def render_metrics(self) -> str:
        for cluster in self.clusters.values():
            cluster.publish_ejections()
        return self.metrics.render()

    # --- admin API ------------------------------------------------------------------
    async def _start_admin(self, admin: AdminConfig | None) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        self._admin_config = admin
        if admin is None:
            return
        loop = asyncio.get_running_loop()
        site = HttpSite(self._admin_app, Stats(), idle_seconds=300.0)
        if admin.unix:
            self._admin = await loop.create_unix_server(lambda: ServerProtocol(site), admin.unix)
        else:
            self._admin = await loop.create_server(
                lambda: ServerProtocol(site), admin.address, admin.port, reuse_address=True
            )

    async def _admin_app(self, request: Request) -> Response:
        path = request.target.split(b"?", 1)[0]
        route = (request.method, path)
        try:
            if route == (b"GET", b"/metrics"):
                text = self.render_metrics().encode()
                return Response(200, [(b"content-type", CONTENT_TYPE.encode())], body=text)
            if route == (b"GET", b"/stats"):
                return _json(200, self.stats())
            if route == (b"GET", b"/config"):
                return _json(200, config_to_dict(self.config))
            if route == (b"GET", b"/listeners"):
                bound = {name: self.address(name) for name in self._listeners}
                return _json(200, {n: {"address": a, "port": p} for n, (a, p) in bound.items()})
            if route == (b"GET", b"/ready"):
                return _json(200, {"ready": True})
            if route == (b"POST", b"/config"):
                await self.apply(parse_config(_body(request)))
                return _json(200, {"applied": True})
            if route == (b"POST", b"/endpoints"):
                return self._post_endpoints(_body(request))
        except ConfigError as exc:
            return _json(400, {"error": str(exc)})
        except OSError as exc:
            return _json(409, {"error": f"could not bind: {exc}"})
        return local_reply(404, "not found")

    def _post_endpoints(self, doc: Any) -> Response:
        if not isinstance(doc, dict):
            raise ConfigError("expected an object")
        if "service" in doc:
            sets: Mapping[str, tuple[Endpoint, ...]] = {
                str(doc["service"]): parse_endpoints(doc.get("endpoints"), "endpoints")
            }
        else:
            sets = parse_endpoint_sets(doc.get("endpoints"))
        unknown = sorted(set(sets) - set(self.clusters))
        if unknown:
            return _json(404, {"error": f"unknown upstream(s): {', '.join(unknown)}"})
        for name, eps in sets.items():
            self.set_endpoints(name, eps)
        return _json(200, {"services": sorted(sets)})


def _body(request: Request) -> Any:
    try:
        return json.loads(request.body or b"null")
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc}") from exc


def _json(status: int, doc: Any) -> Response:
    return Response(status, [(b"content-type", b"application/json")], body=json.dumps(doc).encode())


def _port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])

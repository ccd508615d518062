"""The proxy's configuration, as data the control plane pushes.

One document describes a whole proxy (one per task with Service Connect):

- ``upstreams``: one per service the task can reach (and one for the task's own
  application behind an inbound listener). Each says how its traffic is treated:
  the app protocol (``http`` goes through the HTTP/1.1 filter chain; ``http2``,
  ``grpc`` and ``tcp`` are spliced as TCP with one balancing decision per
  connection), timeouts, load balancing, outlier detection, retries and the
  client side of mTLS.
- ``listeners``: where the proxy accepts connections. ``outbound`` listeners bind
  one client alias (``dnsName:port``) on a local address; an ``inbound`` listener
  sits in front of the application (its port is the ``ingressPortOverride`` when
  one is set) and holds the server side of mTLS. A listener with ``netns`` (a
  path such as ``/proc/PID/ns/net``) binds inside that network namespace while
  the proxy and its upstream connections stay in their own (proxy/netns.py).
- ``endpoints``: per upstream, the whole set of (address, port, health), replaced
  as a unit by :meth:`portside.proxy.server.Proxy.set_endpoints`.
- ``admin``: the admin HTTP port (or Unix socket) serving ``/metrics``,
  ``/config`` and ``/endpoints``.

The JSON form uses these snake_case names; :func:`parse_config` validates it
strictly (an unknown key is an error, so a typo never silently means "default").
Timeouts follow ECS: ``idle_seconds`` defaults to 300 for http/http2/grpc and
3600 for tcp, ``per_request_seconds`` to 15 (not applied to tcp); 0 disables.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ConfigError(ValueError):
    """The configuration document is not valid; the message says where."""


class AppProtocol(StrEnum):
    HTTP = "http"
    HTTP2 = "http2"
    GRPC = "grpc"
    TCP = "tcp"


class Balancing(StrEnum):
    ROUND_ROBIN = "round_robin"
    LEAST_REQUEST = "least_request"


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class Health(StrEnum):
    """Cloud Map's health vocabulary; UNKNOWN endpoints receive traffic."""

    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class Timeouts:
    idle_seconds: float = (
        300.0  # no bytes either way for this long closes the connection; 0 = never
    )
    per_request_seconds: float = 15.0  # whole response, retries included; 0 = none
    connect_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class OutlierPolicy:
    """Envoy's consecutive-5xx detector with Envoy's defaults."""

    enabled: bool = True
    consecutive_failures: int = 5
    base_ejection_seconds: float = 30.0
    max_ejection_seconds: float = 300.0
    max_ejection_percent: float = 10.0
    interval_seconds: float = (
        10.0  # a host not ejected again for this long has its multiplier decremented
    )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries on connect failure (any method), reset and 503 (idempotent methods only)."""

    max_retries: int = 2
    base_interval_seconds: float = 0.025
    max_interval_seconds: float = 0.25


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """PEM files; re-read when they change (new connections use the new certificate)."""

    ca_file: str
    cert_file: str
    key_file: str
    server_name: str | None = None  # client side: the name the peer's certificate must carry


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    name: str
    protocol: AppProtocol = AppProtocol.HTTP
    timeouts: Timeouts = field(default_factory=Timeouts)
    balancing: Balancing = Balancing.ROUND_ROBIN
    outlier: OutlierPolicy = field(default_factory=OutlierPolicy)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    tls: TlsConfig | None = None

    @property
    def spliced(self) -> bool:
        """True when the traffic is carried as opaque TCP (tcp, and h2/gRPC for now)."""
        return self.protocol is not AppProtocol.HTTP


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    name: str
    upstream: str
    port: int
    address: str = "127.0.0.1"
    direction: Direction = Direction.OUTBOUND
    tls: TlsConfig | None = None  # server side (inbound listeners of a TLS service)
    netns: str | None = None  # bind inside this network namespace (/proc/PID/ns/net)


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: str
    port: int
    health: Health = Health.HEALTHY

    @property
    def key(self) -> str:
        return f"{self.address}:{self.port}"


@dataclass(frozen=True, slots=True)
class AdminConfig:
    address: str = "127.0.0.1"
    port: int = 9901
    unix: str | None = None  # when set, the admin API listens on this socket instead


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    upstreams: tuple[UpstreamConfig, ...] = ()
    listeners: tuple[ListenerConfig, ...] = ()
    endpoints: Mapping[str, tuple[Endpoint, ...]] = field(default_factory=dict)
    admin: AdminConfig | None = None

    def upstream(self, name: str) -> UpstreamConfig:
        for upstream in self.upstreams:
            if upstream.name == name:
                return upstream
        raise KeyError(name)


# --- JSON ------------------------------------------------------------------------------


def load_config(path: str) -> ProxyConfig:
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    return parse_config(data)


def parse_config(data: Any) -> ProxyConfig:
    doc = _object(data, "config", ("upstreams", "listeners", "endpoints", "admin"))
    upstreams = tuple(
        _upstream(u, f"upstreams[{i}]")
        for i, u in enumerate(_list(doc.get("upstreams", []), "upstreams"))
    )
    listeners = tuple(
        _listener(x, f"listeners[{i}]")
        for i, x in enumerate(_list(doc.get("listeners", []), "listeners"))
    )
    endpoints = parse_endpoint_sets(doc.get("endpoints", {}))
    admin = _build(AdminConfig, doc["admin"], "admin") if doc.get("admin") is not None else None
    config = ProxyConfig(upstreams=upstreams, listeners=listeners, endpoints=endpoints, admin=admin)
    _check(config)
    return config


def parse_endpoint_sets(data: Any) -> dict[str, tuple[Endpoint, ...]]:
    sets = _object(data, "endpoints", None)
    return {str(name): parse_endpoints(eps, f"endpoints.{name}") for name, eps in sets.items()}


def parse_endpoints(data: Any, where: str = "endpoints") -> tuple[Endpoint, ...]:
    out = []
    for i, item in enumerate(_list(data, where)):
        ep = _build(Endpoint, item, f"{where}[{i}]")
        _port(ep.port, f"{where}[{i}].port", allow_zero=False)
        out.append(ep)
    return tuple(out)


def config_to_dict(config: ProxyConfig) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, Mapping):
            return {k: plain(v) for k, v in value.items()}
        return value

    return {
        "upstreams": plain(config.upstreams),
        "listeners": plain(config.listeners),
        "endpoints": plain(config.endpoints),
        "admin": plain(config.admin),
    }


def _upstream(data: Any, where: str) -> UpstreamConfig:
    doc = dict(_object(data, where, tuple(f.name for f in dataclasses.fields(UpstreamConfig))))
    protocol = _enum(AppProtocol, doc.get("protocol", "http"), f"{where}.protocol")
    idle_default = 3600.0 if protocol is AppProtocol.TCP else 300.0
    timeouts = _build(Timeouts, doc.pop("timeouts", {}), f"{where}.timeouts")
    raw_timeouts = _object(data.get("timeouts", {}), f"{where}.timeouts", None)
    if "idle_seconds" not in raw_timeouts:
        timeouts = dataclasses.replace(timeouts, idle_seconds=idle_default)
    if protocol is AppProtocol.TCP and raw_timeouts.get("per_request_seconds"):
        raise ConfigError(
            f"{where}.timeouts: per_request_seconds cannot be set for the tcp protocol"
        )
    if protocol is AppProtocol.TCP:
        timeouts = dataclasses.replace(timeouts, per_request_seconds=0.0)
    for name in ("idle_seconds", "per_request_seconds", "connect_seconds"):
        if getattr(timeouts, name) < 0:
            raise ConfigError(f"{where}.timeouts.{name} must be >= 0")
    outlier = _build(OutlierPolicy, doc.pop("outlier", {}), f"{where}.outlier")
    retry = _build(RetryPolicy, doc.pop("retry", {}), f"{where}.retry")
    tls = _build(TlsConfig, doc.pop("tls"), f"{where}.tls") if doc.get("tls") else None
    doc.pop("tls", None)
    if not isinstance(doc.get("name"), str) or not doc["name"]:
        raise ConfigError(f"{where}.name is required")
    return UpstreamConfig(
        name=doc["name"],
        protocol=protocol,
        timeouts=timeouts,
        balancing=_enum(Balancing, doc.get("balancing", "round_robin"), f"{where}.balancing"),
        outlier=outlier,
        retry=retry,
        tls=tls,
    )


def _listener(data: Any, where: str) -> ListenerConfig:
    doc = dict(_object(data, where, tuple(f.name for f in dataclasses.fields(ListenerConfig))))
    tls = _build(TlsConfig, doc.pop("tls"), f"{where}.tls") if doc.get("tls") else None
    doc.pop("tls", None)
    listener: ListenerConfig = _build(ListenerConfig, doc, where)
    _port(listener.port, f"{where}.port", allow_zero=True)
    return dataclasses.replace(
        listener, direction=_enum(Direction, listener.direction, f"{where}.direction"), tls=tls
    )


def _check(config: ProxyConfig) -> None:
    names = [u.name for u in config.upstreams]
    if len(set(names)) != len(names):
        raise ConfigError("upstreams: names must be unique")
    listener_names = [x.name for x in config.listeners]
    if len(set(listener_names)) != len(listener_names):
        raise ConfigError("listeners: names must be unique")
    for listener in config.listeners:
        if listener.upstream not in names:
            raise ConfigError(f"listener {listener.name!r}: unknown upstream {listener.upstream!r}")
    for name in config.endpoints:
        if name not in names:
            raise ConfigError(f"endpoints: unknown upstream {name!r}")


_KIND_CHECKS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "str | None": (str, type(None)),
}


def _build(cls: Any, data: Any, where: str) -> Any:
    """Build a flat dataclass from a JSON object, checking keys and scalar types."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    doc = _object(data, where, tuple(fields))
    kwargs: dict[str, Any] = {}
    for name, value in doc.items():
        kind = str(fields[name].type)
        allowed = _KIND_CHECKS.get(kind)
        if allowed is not None:
            if isinstance(value, bool) and bool not in allowed:
                raise ConfigError(f"{where}.{name}: expected {kind}, got {value!r}")
            if not isinstance(value, allowed):
                raise ConfigError(f"{where}.{name}: expected {kind}, got {value!r}")
            if kind == "float":
                value = float(value)  # type: ignore[arg-type]
        elif kind == "Health":
            value = _enum(Health, value, f"{where}.{name}")
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _enum(cls: Any, value: Any, where: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(m.value for m in cls)
        raise ConfigError(f"{where}: {value!r} is not one of {choices}") from None


def _object(data: Any, where: str, allowed: tuple[str, ...] | None) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object")
    if allowed is not None:
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    return data


def _list(data: Any, where: str) -> list[Any]:
    if not isinstance(data, list):
        raise ConfigError(f"{where}: expected a list")
    return data


def _port(port: int, where: str, *, allow_zero: bool) -> None:
    if not (0 if allow_zero else 1) <= port <= 65535:
        raise ConfigError(f"{where}: {port} is not a valid port")

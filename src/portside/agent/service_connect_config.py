"""From a task's ``serviceConnect`` section to its proxy's configuration (pure).

The control plane says which aliases exist and where the endpoints are
(runtime/service_connect_payload.py); the agent decides where the task's proxy
listens, because only it knows how the task is wired:

- every distinct alias ``dnsName`` gets its own loopback address, so two
  aliases on the same port never collide: ``127.255.0.N`` inside a container's
  own network namespace (Docker), or ``127.A.B.N`` in a /24 of 127.16.0.0/12
  that no other task of the agent has (the first free one from where the task
  ARN hashes, :func:`alias_bases`) for the process driver, where every task
  shares the host's loopback;
- each alias's outbound listener binds ``address:port`` and leads to the
  upstream of its discovery name;
- each of the task's own client-server ports gets an inbound listener on the
  task's address (``ingressPort``, or 0 for one the proxy picks) in front of
  the application's container port; its upstream (the application alone) has
  outlier detection off and no retries. In the bridge mode (``host_ingress``)
  it binds every address of the host on the ephemeral port the agent chose, in
  front of wherever the application's container answers (``targets``, known once
  the container runs; until then the listener has no endpoint).

:func:`hosts_file` writes those addresses as ``/etc/hosts`` lines, and
:func:`alias_environment` as ``PORTSIDE_SERVICE_CONNECT_<ALIAS>=host:port``
for applications that cannot use the hosts file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from portside.proxy.config import (
    AdminConfig,
    AppProtocol,
    Balancing,
    Direction,
    Endpoint,
    Health,
    ListenerConfig,
    OutlierPolicy,
    ProxyConfig,
    RetryPolicy,
    Timeouts,
    TlsConfig,
    UpstreamConfig,
)

INBOUND_PREFIX = "inbound:"


SHARED_BASES = 4096
"""The /24s of 127.16.0.0/12 that tasks sharing the host's loopback draw their aliases from."""


def alias_bases(task_arn: str) -> Iterator[str]:
    """Every /24 a task sharing the host's loopback may bind its aliases in, the one its ARN
    hashes to first: the agent takes the first that no other task of its own has and whose
    addresses are free (agent/service_connect.py), so two tasks never share one."""
    digest = hashlib.sha256(f"service-connect/{task_arn}".encode()).digest()
    first = (digest[0] % 16) * 256 + digest[1]
    for step in range(SHARED_BASES):
        n = (first + step) % SHARED_BASES
        yield f"127.{16 + n // 256}.{n % 256}"


def alias_addresses(
    section: Mapping[str, Any], task_arn: str, *, private: bool, base: str | None = None
) -> dict[str, str]:
    """dnsName → the loopback address its outbound listener binds: in ``127.255.0`` inside
    the task's own network namespace (``private``), else in ``base`` (the task's /24 of
    127.16.0.0/12; without one, the one its ARN hashes to)."""
    names = sorted({str(o["dnsName"]) for o in section.get("outbound") or ()})
    if private:
        base = "127.255.0"
    elif base is None:
        base = next(alias_bases(task_arn))
    if len(names) > 254:
        names = names[:254]  # one /24 per task; more aliases than that are not served
    return {name: f"{base}.{i + 1}" for i, name in enumerate(names)}


def _protocol(value: Any) -> AppProtocol:
    try:
        return AppProtocol(str(value or "tcp"))
    except ValueError:
        return AppProtocol.TCP


def _timeouts(u: Mapping[str, Any], protocol: AppProtocol) -> Timeouts:
    idle = u.get("idleTimeoutSeconds")
    per_request = u.get("perRequestTimeoutSeconds")
    return Timeouts(
        idle_seconds=float(idle) if idle is not None else (3600.0 if protocol is AppProtocol.TCP else 300.0),
        per_request_seconds=0.0 if protocol is AppProtocol.TCP else float(per_request if per_request is not None else 15),
    )


# the section's policy names (domain/ecs/service_connect_policy.py) -> the proxy's fields
_OUTLIER = {"enabled": "enabled", "consecutive5xx": "consecutive_failures",
            "baseEjectionSeconds": "base_ejection_seconds",
            "maxEjectionSeconds": "max_ejection_seconds",
            "maxEjectionPercent": "max_ejection_percent", "intervalSeconds": "interval_seconds"}
_RETRY = {"maxRetries": "max_retries", "baseIntervalSeconds": "base_interval_seconds",
          "maxIntervalSeconds": "max_interval_seconds"}


def _policy(cls: Any, names: Mapping[str, str], given: Any) -> Any:
    """``cls`` with the section's values for the names it knows; defaults for the rest."""
    if not isinstance(given, Mapping):
        return cls()
    return cls(**{names[k]: v for k, v in given.items() if k in names})


def _balancing(value: Any) -> Balancing:
    try:
        return Balancing(str(value or "round_robin"))
    except ValueError:
        return Balancing.ROUND_ROBIN


def _health(value: Any) -> Health:
    try:
        return Health(str(value))
    except ValueError:
        return Health.UNKNOWN


def endpoints_of(section: Mapping[str, Any]) -> dict[str, tuple[Endpoint, ...]]:
    """Per upstream, the endpoints the control plane sent."""
    return {
        str(name): tuple(
            Endpoint(str(e["address"]), int(e["port"]), _health(e.get("health", "HEALTHY")))
            for e in eps
            if e.get("address") and e.get("port")
        )
        for name, eps in (section.get("endpoints") or {}).items()
    }


def proxy_config(
    section: Mapping[str, Any],
    aliases: Mapping[str, str],
    *,
    task_address: str,
    admin_unix: str,
    reserved_ports: frozenset[int] = frozenset(),
    tls: TlsConfig | None = None,
    host_ingress: Mapping[str, int] | None = None,
    targets: Mapping[str, tuple[str, int]] | None = None,
) -> ProxyConfig:
    """The whole proxy document for one task.

    ``reserved_ports``: ports the task's own application holds on every address of
    a network namespace the proxy shares (Docker awsvpc); an alias on such a port
    gets no listener — the application itself answers there.
    ``tls``: the task's certificate files (agent/service_connect_tls.py): the client
    side of every upstream marked ``tls`` (checking the peer's certificate names the
    upstream) and the server side of every inbound listener marked ``tls``. An
    inbound TLS port with no certificate gets no listener: it never serves plaintext.
    ``host_ingress`` (bridge): upstream -> the host port its inbound listener binds on
    0.0.0.0, in front of ``targets[upstream]`` (the application's address and port).
    """
    upstreams: dict[str, UpstreamConfig] = {}
    for u in section.get("upstreams") or ():
        protocol = _protocol(u.get("protocol"))
        name = str(u["name"])
        upstreams[name] = UpstreamConfig(
            name=name, protocol=protocol, timeouts=_timeouts(u, protocol),
            balancing=_balancing(u.get("loadBalancing")),
            outlier=_policy(OutlierPolicy, _OUTLIER, u.get("outlier")),
            retry=_policy(RetryPolicy, _RETRY, u.get("retry")),
            tls=replace(tls, server_name=name) if tls is not None and u.get("tls") else None,
        )
    listeners: list[ListenerConfig] = []
    for o in section.get("outbound") or ():
        address = aliases.get(str(o["dnsName"]))
        if address is None or str(o["upstream"]) not in upstreams:
            continue
        if int(o["port"]) in reserved_ports:
            continue
        listeners.append(
            ListenerConfig(
                name=f"{o['dnsName']}:{o['port']}", upstream=str(o["upstream"]),
                port=int(o["port"]), address=address,
            )
        )
    endpoints = {k: v for k, v in endpoints_of(section).items() if k in upstreams}
    for i in section.get("inbound") or ():
        if not i.get("containerPort") or (i.get("tls") and tls is None):
            continue
        if host_ingress is not None and str(i["upstream"]) not in host_ingress:
            continue  # bridge: no host port could be had for it
        name = INBOUND_PREFIX + str(i["upstream"])
        protocol = _protocol(i.get("protocol"))
        known = upstreams.get(str(i["upstream"]))
        # one local host, the application: never ejected (a burst of 503s would leave the
        # task unreachable) and never retried (a retry would hit that same host again)
        upstreams[name] = UpstreamConfig(
            name=name, protocol=protocol,
            timeouts=known.timeouts if known is not None else _timeouts({}, protocol),
            outlier=OutlierPolicy(enabled=False), retry=RetryPolicy(max_retries=0),
        )
        address, port = task_address, int(i.get("ingressPort") or 0)
        target: tuple[str, int] | None = (task_address, int(i["containerPort"]))
        if host_ingress is not None:  # bridge: on the host, before the container's port
            address, port = "0.0.0.0", host_ingress[str(i["upstream"])]
            target = (targets or {}).get(str(i["upstream"]))
        listeners.append(
            ListenerConfig(
                name=name, upstream=name, port=port, address=address,
                direction=Direction.INBOUND, tls=tls if i.get("tls") else None,
            )
        )
        endpoints[name] = (Endpoint(*target),) if target is not None else ()
    return ProxyConfig(
        upstreams=tuple(upstreams.values()), listeners=tuple(listeners),
        endpoints=endpoints, admin=AdminConfig(unix=admin_unix),
    )


def namespace_listeners(
    config: ProxyConfig,
    section: Mapping[str, Any],
    aliases: Mapping[str, str],
    namespaces: Mapping[str, tuple[str, frozenset[int]]],
) -> ProxyConfig:
    """``config`` plus every outbound alias again inside each container's own network
    namespace (Docker bridge mode): container name -> (``/proc/PID/ns/net``, the
    container's own ports). ``aliases`` are the in-namespace (``127.255.0.N``) addresses;
    an alias on one of the container's own ports gets no listener there."""
    upstreams = {u.name for u in config.upstreams}
    listeners = list(config.listeners)
    for container, (netns, reserved) in sorted(namespaces.items()):
        for o in section.get("outbound") or ():
            address = aliases.get(str(o["dnsName"]))
            if address is None or str(o["upstream"]) not in upstreams or int(o["port"]) in reserved:
                continue
            listeners.append(ListenerConfig(
                name=f"{o['dnsName']}:{o['port']}@{container}", upstream=str(o["upstream"]),
                port=int(o["port"]), address=address, netns=netns,
            ))
    return replace(config, listeners=tuple(listeners))


def hosts_file(base: str, aliases: Mapping[str, str]) -> str:
    """``base`` (the machine's /etc/hosts) followed by one line per alias."""
    lines = [base.rstrip("\n"), "# portside Service Connect aliases"]
    lines += [f"{address}\t{name}" for name, address in sorted(aliases.items())]
    return "\n".join(lines) + "\n"


def alias_environment(section: Mapping[str, Any], aliases: Mapping[str, str]) -> dict[str, str]:
    """``PORTSIDE_SERVICE_CONNECT_<ALIAS>=address:port`` for every outbound alias."""
    out = {}
    for o in section.get("outbound") or ():
        address = aliases.get(str(o["dnsName"]))
        if address is not None:
            key = re.sub(r"[^A-Z0-9]", "_", str(o["dnsName"]).upper())
            out[f"PORTSIDE_SERVICE_CONNECT_{key}"] = f"{address}:{o['port']}"
    return out

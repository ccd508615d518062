"""The ``serviceConnect`` section of a TaskPayload, and which agents must hear of a change.

A task whose service has Service Connect enabled runs a proxy beside it
(agent/service_connect.py). The control plane tells that proxy everything it
needs, inside the task's payload (docs/agent-protocol.md):

- ``upstreams``: one per client-server port (discovery name) of every service
  with Service Connect in the task's namespace, with its app protocol,
  timeouts (``idleTimeoutSeconds``, ``perRequestTimeoutSeconds``), ``tls`` when
  its proxies take mTLS only, and the ``outlier`` / ``retry`` / ``loadBalancing``
  policies its service's ``portside:`` tags set (domain/ecs/service_connect_policy.py);
- ``outbound``: every client alias (``dnsName``, ``port``) and the upstream it
  leads to — the names the application calls;
- ``inbound``: the task's own client-server ports (the TLS ingress port, else
  ``ingressPortOverride`` when set, else 0 for a port the proxy chooses) in front
  of its container port, with ``tls`` when the port takes mTLS;
- ``endpoints``: per upstream, the Cloud Map instances ECS registered for the
  running tasks (address, port, health) — pushed with every manifest, so a task
  that starts, becomes healthy or begins to stop reaches every proxy at once,
  with no DNS TTL in the path;
- ``tls``: when the task takes or makes mTLS calls, the identity its certificate
  carries (``identity``, ``names``); the session adds the certificate, its key and
  the CA (runtime/service_connect_tls.py) just before sending.

:class:`NamespaceIndex` answers "which container instances run a task that
uses this namespace?" so that a change of an ``sd_instance`` re-sends exactly
those manifests, and a change of a service (its tags, its TLS) those of the
instances running tasks in its namespace. It is built lazily and dropped
whenever a task or a service changes; an ``sd_instance`` change alone only reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from portside.domain.ecs.service_connect import task_configuration
from portside.domain.ecs.service_connect_policy import policies
from portside.domain.ecs.task import Task
from portside.store.store import Delete, Store, kind_of

SD_INSTANCE = "sd_instance"


def _enabled(cfg: Any) -> bool:
    return isinstance(cfg, Mapping) and bool(cfg.get("enabled")) and bool(cfg.get("namespace"))


def _task_service(store: Store, task: Task, memo: dict[Any, Any]) -> Any | None:
    groups = memo.get(("groups", task.cluster_arn))
    if groups is None:
        groups = memo[("groups", task.cluster_arn)] = {}
        for svc in store.children("service", task.cluster_arn).values():
            groups[svc.service_arn] = svc
            if svc.group not in groups or svc.status != "INACTIVE":  # a live one wins the name
                groups[svc.group] = svc
    return groups.get(task.group) or (groups.get(task.service_arn) if task.service_arn else None)


def task_config(
    store: Store, task: Task, memo: dict[Any, Any] | None = None
) -> dict[str, Any] | None:
    """The Service Connect configuration the task was started with (its deployment's), if on."""
    if task.service_arn is None and not (task.group or "").startswith("service:"):
        return None
    svc = _task_service(store, task, {} if memo is None else memo)
    if svc is None:
        return None
    cfg = task_configuration(svc, task)
    return dict(cfg) if cfg is not None and _enabled(cfg) else None


def _servers(store: Store, namespace: str) -> list[tuple[dict[str, Any], Any]]:
    """Every client-server port of an ACTIVE service with Service Connect in ``namespace``,
    with its service's tags (they carry the proxy policies)."""
    out: list[tuple[dict[str, Any], Any]] = []
    for svc in store.all("service").values():
        cfg = svc.service_connect_configuration
        if svc.status == "INACTIVE" or not _enabled(cfg) or cfg.get("namespace") != namespace:
            continue
        out.extend((s, svc.tags) for s in cfg.get("services") or () if s.get("discovery_arn"))
    return sorted(out, key=lambda x: str(x[0]["discovery_name"]))


def _upstream(s: Mapping[str, Any], tags: Any) -> dict[str, Any]:
    timeout = s.get("timeout") or {}
    out = {
        "name": s["discovery_name"],
        "protocol": s.get("app_protocol") or "tcp",
        "idleTimeoutSeconds": timeout.get("idle_timeout_seconds"),
        "perRequestTimeoutSeconds": timeout.get("per_request_timeout_seconds"),
        "tls": True if s.get("tls") else None,
        **policies(tags or ()),
    }
    return {k: v for k, v in out.items() if v is not None}


def _endpoints(store: Store, discovery_arn: str) -> list[dict[str, Any]]:
    from portside.controllers.registrations import registry_service_id

    out = []
    for inst in store.children(SD_INSTANCE, registry_service_id(discovery_arn)).values():
        address = inst.attributes.get("AWS_INSTANCE_IPV4")
        port = inst.attributes.get("AWS_INSTANCE_PORT")
        if not address or not port or not port.isdigit():
            continue
        health = inst.custom_health or "HEALTHY"
        out.append({"address": address, "port": int(port), "health": health})
    return sorted(out, key=lambda e: (e["address"], e["port"]))


def service_connect_section(
    store: Store, task: Task, memo: dict[Any, Any] | None = None
) -> dict[str, Any] | None:
    """The task's ``serviceConnect`` section (camelCase), or None when it has none.

    ``memo`` lets one manifest share lookups and the namespace-wide parts between its tasks.
    """
    memo = {} if memo is None else memo
    cfg = task_config(store, task, memo)
    if cfg is None:
        return None
    namespace = cfg["namespace"]
    shared = memo.get(namespace)
    if shared is None:
        shared = memo[namespace] = _namespace_part(store, namespace)
    inbound = [
        {
            "upstream": s["discovery_name"],
            "containerName": s.get("container_name"),
            "containerPort": s.get("container_port"),
            "ingressPort": s.get("ingress_port") or s.get("ingress_port_override") or 0,
            "protocol": s.get("app_protocol") or "tcp",
            **({"tls": True} if s.get("tls") else {}),
        }
        for s in cfg.get("services") or ()
    ]
    section = {"namespace": namespace, **shared, "inbound": inbound}
    if any(u.get("tls") for u in shared["upstreams"]) or any(i.get("tls") for i in inbound):
        # the identity the task's certificate carries; runtime/service_connect_tls.py
        # adds the PEMs before the manifest is sent
        names = [s["discovery_name"] for s in cfg.get("services") or () if s.get("tls")]
        section["tls"] = {"identity": _identity(task), "names": names}
    return section


def _identity(task: Task) -> str:
    group = task.group or ""
    return group.split(":", 1)[1] if group.startswith("service:") else task.task_id


def _namespace_part(store: Store, namespace: str) -> dict[str, Any]:
    servers = _servers(store, namespace)
    outbound = [
        {"dnsName": a["dns_name"], "port": a["port"], "upstream": s["discovery_name"]}
        for s, _ in servers
        for a in s.get("client_aliases") or ()
    ]
    return {
        "upstreams": [_upstream(s, tags) for s, tags in servers],
        "outbound": outbound,
        "endpoints": {
            s["discovery_name"]: _endpoints(store, s["discovery_arn"]) for s, _ in servers
        },
    }


class NamespaceIndex:
    """Cloud Map service id → the container instances whose tasks use its namespace."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._by_sd_service: dict[str, set[str]] | None = None
        self._by_namespace: dict[str, set[str]] = {}

    def touched(self, changes: Iterable[Any]) -> set[str]:
        """The instance ARNs to re-send after ``changes`` (only for Cloud Map instances)."""
        sd_services: set[str] = set()
        namespaces: set[str] = set()
        for c in changes:
            kind = kind_of(c)
            if kind in ("task", "service"):
                self._by_sd_service = None
            if kind == "service" and not isinstance(c, Delete):
                cfg = c.service_connect_configuration  # its tags or TLS may have changed
                if _enabled(cfg):
                    namespaces.add(cfg["namespace"])
            elif kind == SD_INSTANCE:
                key = c.key if isinstance(c, Delete) else c.service_id
                sd_services.add(key.split("/", 1)[0])
        if not sd_services and not namespaces:
            return set()
        index = self._index()
        out: set[str] = set()
        for sd in sd_services:
            out |= index.get(sd, set())
        for namespace in namespaces:
            out |= self._by_namespace.get(namespace, set())
        return out

    def _index(self) -> dict[str, set[str]]:
        if self._by_sd_service is None:
            self._by_sd_service = self._build()
        return self._by_sd_service

    def _build(self) -> dict[str, set[str]]:
        from portside.controllers.registrations import registry_service_id

        store = self.store
        by_namespace: dict[str, set[str]] = {}
        self._by_namespace = by_namespace
        for svc in store.all("service").values():
            cfg = svc.service_connect_configuration
            if not _enabled(cfg):
                continue
            arns = by_namespace.setdefault(cfg["namespace"], set())
            for t in store.children(Task.KIND, svc.cluster_arn).values():
                if t.group == svc.group and t.last_status != "STOPPED" and t.container_instance_arn:
                    arns.add(t.container_instance_arn)
        out: dict[str, set[str]] = {}
        for namespace, arns in by_namespace.items():
            for s, _ in _servers(store, namespace):
                out.setdefault(registry_service_id(s["discovery_arn"]), set()).update(arns)
        return out

"""Service Connect configuration as ECS validates and completes it.

``serviceConnectConfiguration`` on CreateService / UpdateService: a namespace
(name or ARN; else the cluster's ``serviceConnectDefaults``), and for a
client-server service the ports it serves (``portName`` naming a port mapping
of the task definition, ``discoveryName`` defaulting to the port name and
unique in the namespace, ``clientAliases`` whose ``dnsName`` defaults to
``discoveryName.namespace``, ``ingressPortOverride``, timeouts, TLS). A
configuration with no ``services`` is a client only: it registers nothing.

ECS keeps a Cloud Map service per discovery name (API-only, HTTP type) and
registers each running task there; :func:`ensure_discovery_services` creates
them, and the registration controller (controllers/registrations.py) keeps
their instances equal to the service's running tasks. The normalized
configuration carries portside's own keys for that (``discovery_arn``,
``container_name``, ``container_port``, ``app_protocol``); the API shape
ignores them.

``tls`` (``issuerCertificateAuthority.awsPcaAuthorityArn``, ``kmsKey``,
``roleArn``) turns on mTLS for that port: the ARN is accepted as given and
portside's own certificate authority stands in for AWS Private CA
(runtime/service_connect_tls.py). A TLS port's peers reach it through its
proxies' mTLS listener.

Every client-server port is served through the task's proxy, as ECS does: it
gets an ``ingress_port`` (``ingressPortOverride``, else the first free port from
15443 — see :func:`_ingress_port`) where the proxy's inbound listener takes the
traffic in front of the application. In the awsvpc mode Cloud Map registers that
port on the task's address, so callers' proxies reach the application through it
(plaintext or mTLS). In the bridge mode the task's proxy runs on the host, where
the tasks of one instance cannot share a port: as ECS does, its agent binds the
inbound listener on an ephemeral host port and reports it as a network binding of
the application's container whose ``containerPort`` is the ingress port; Cloud Map
registers that binding's host port (``ingress_reported`` in :func:`registries`),
and a task is registered only once it was reported. That listener takes mTLS for a
TLS port just as the awsvpc one does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.service import Service
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_definition_containers import network
from portside.domain.errors import InvalidParameterException, NamespaceNotFoundException
from portside.domain.scope import Scope
from portside.store.store import Store

HTTP_PROTOCOLS = ("http", "http2", "grpc")
IDLE_DEFAULT = {"http": 300, "http2": 300, "grpc": 300, "tcp": 3600}
PER_REQUEST_DEFAULT = 15
INGRESS_BASE = 15443  # first port tried for a service's proxy (no ingressPortOverride)
# ECS API reference: a discoveryName (as a port mapping name) has up to 64 lowercase
# letters, digits, underscores and hyphens, not first; it also names the Cloud Map
# service ECS creates, one DNS label: up to 63, no hyphen last either. A client alias
# dnsName has up to 127, periods too, not starting with a hyphen.
_LABEL = re.compile(r"^([a-z0-9_][a-z0-9_-]{0,61}[a-z0-9_]|[a-z0-9])$")
_DNS_NAME = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,126}$")


def find_namespace(store: Store, scope: Scope, ref: str) -> Any | None:
    """A Cloud Map namespace by ARN, id or name, in the caller's account and region."""
    for ns in store.all("sd_namespace").values():
        if ns.account != scope.account or ns.region != scope.region:
            continue
        if ref in (ns.arn, ns.id, ns.name):
            return ns
    return None


def check_service_connect(
    store: Store,
    scope: Scope,
    cluster: Cluster,
    td: Any,
    launch_type: str | None,
    raw: Mapping[str, Any] | None,
    service_arn: str,
) -> dict[str, Any] | None:
    """The validated, completed configuration (or None when none was given)."""
    if raw is None:
        return None
    cfg = dict(raw)
    if not cfg.get("enabled"):
        return {"enabled": False}
    if launch_type == "EXTERNAL":
        raise InvalidParameterException(
            "Service Connect is not supported for the EXTERNAL launch type."
        )
    mode = network(td.network_mode)
    if mode not in ("awsvpc", "bridge"):
        raise InvalidParameterException(
            f"Service Connect supports the awsvpc and bridge network modes, not '{mode}'."
        )
    ref = cfg.get("namespace") or (cluster.service_connect_defaults or {}).get("namespace")
    if not ref:
        raise InvalidParameterException(
            "Service Connect needs a namespace: set serviceConnectConfiguration.namespace, or "
            "the cluster's serviceConnectDefaults with UpdateCluster."
        )
    ns = find_namespace(store, scope, ref)
    if ns is None:
        raise NamespaceNotFoundException(f"Namespace {ref} was not found in Cloud Map.")
    cfg["namespace"] = ns.arn
    ports = {
        p["name"]: (c["name"], p)
        for c in td.container_definitions
        for p in c.get("port_mappings") or ()
        if p.get("name")
    }
    taken = _discovery_names_in_use(store, ns.arn, service_arn)
    services = []
    used_ingress: set[int] = set()
    for s in cfg.get("services") or ():
        services.append(_service(dict(s), ports, ns, taken, mode, used_ingress))
    names = [s["discovery_name"] for s in services]
    if len(set(names)) != len(names):
        raise InvalidParameterException("Each discoveryName in a service must be unique.")
    _check_aliases(store, ns, service_arn, services)
    cfg["services"] = services
    # as given, in its namespace: UpdateService checks it again against a new task definition
    cfg["request"] = {**raw, "namespace": ns.arn}
    return cfg


def _check_aliases(
    store: Store, ns: Any, service_arn: str, services: list[dict[str, Any]]
) -> None:
    """Each client alias (dnsName, port) once in the namespace, as ECS requires: every task's
    proxy has a listener per alias, and two of one name would make it refuse its config."""
    owners = _aliases_in_use(store, ns.arn, service_arn)
    for s in services:
        for a in s["client_aliases"]:
            key = (a["dns_name"].lower(), int(a["port"]))
            if key in owners:
                where = "this service" if owners[key] is None else f"service {owners[key]}"
                raise InvalidParameterException(
                    f"The client alias {a['dns_name']}:{a['port']} is already used by {where} "
                    f"in the namespace {ns.name}: each alias must be unique in the namespace."
                )
            owners[key] = None


def _aliases_in_use(
    store: Store, namespace_arn: str, except_arn: str
) -> dict[tuple[str, int], str | None]:
    """(dnsName, port) of the client aliases of the other services in the namespace, with
    the ARN of the service that has it."""
    used: dict[tuple[str, int], str | None] = {}
    for svc in store.all("service").values():
        cfg = svc.service_connect_configuration
        if svc.service_arn == except_arn or svc.status == "INACTIVE" or not cfg:
            continue
        if cfg.get("enabled") and cfg.get("namespace") == namespace_arn:
            for s in cfg.get("services") or ():
                for a in s.get("client_aliases") or ():
                    used[(str(a["dns_name"]).lower(), int(a["port"]))] = svc.service_arn
    return used


def _service(
    s: dict[str, Any], ports: Mapping[str, tuple[str, Any]], ns: Any, taken: set[str],
    mode: str, used_ingress: set[int],
) -> dict[str, Any]:
    port_name = s.get("port_name", "")
    if port_name not in ports:
        raise InvalidParameterException(
            f"The portName '{port_name}' does not match any named port mapping in the task "
            "definition: name the portMappings entry with 'name' and use that name."
        )
    container, mapping = ports[port_name]
    discovery = s.get("discovery_name") or port_name
    if not _LABEL.match(discovery):
        raise InvalidParameterException(
            f"discoveryName '{discovery}' can have up to 63 lowercase letters, numbers, "
            "underscores and hyphens (it names a Cloud Map service), and cannot start or "
            "end with a hyphen."
        )
    if discovery in taken:
        raise InvalidParameterException(
            f"The discoveryName '{discovery}' is already used by another service in the "
            f"namespace {ns.name}."
        )
    protocol = mapping.get("app_protocol") or "tcp"
    aliases = []
    if len(s.get("client_aliases") or ()) > 1:
        raise InvalidParameterException(
            f"The Service Connect service for portName '{port_name}' has more than one "
            "client alias: clientAliases has at most 1 entry."
        )
    for a in s.get("client_aliases") or ():
        if not 1 <= int(a.get("port", 0)) <= 65535:
            raise InvalidParameterException("A client alias port must be between 1 and 65535.")
        if a.get("dns_name") is not None and not _dns_name_ok(a["dns_name"]):
            raise InvalidParameterException(
                f"The client alias dnsName '{a['dns_name']}' must be a DNS name of up to 127 "
                "lowercase letters, numbers, underscores, hyphens and periods, not starting "
                "with a hyphen."
            )
        aliases.append({"port": a["port"], "dns_name": a.get("dns_name") or f"{discovery}.{ns.name}",
                        **({"test_traffic_rules": a["test_traffic_rules"]}
                           if a.get("test_traffic_rules") else {})})
    override = s.get("ingress_port_override")
    if override is not None and not 1 <= override <= 65535:
        raise InvalidParameterException("ingressPortOverride must be between 1 and 65535.")
    tls = _tls(s.get("tls"))
    timeout = dict(s.get("timeout") or {})
    if "per_request_timeout_seconds" in timeout and protocol not in HTTP_PROTOCOLS:
        raise InvalidParameterException(
            "perRequestTimeoutSeconds applies only to ports with an appProtocol of http, "
            "http2 or grpc."
        )
    timeout.setdefault("idle_timeout_seconds", IDLE_DEFAULT[protocol])
    if protocol in HTTP_PROTOCOLS:
        timeout.setdefault("per_request_timeout_seconds", PER_REQUEST_DEFAULT)
    out = {**s, "discovery_name": discovery, "client_aliases": aliases, "timeout": timeout}
    out.update(container_name=container, container_port=mapping.get("container_port"),
               app_protocol=protocol)
    if tls is not None:
        out["tls"] = tls
    # the task's proxy takes the traffic in front of the application (bridge: its agent
    # reports the host port it bound for this port, see the module docstring)
    if override is not None and override in {int(p.get("container_port") or 0)
                                             for _, p in ports.values()}:
        raise InvalidParameterException(
            f"ingressPortOverride {override} is a container port of the task definition: "
            "portside's Service Connect proxy listens beside the application, on a port "
            "of its own."
        )
    out["ingress_port"] = override or _ingress_port(ports, used_ingress)
    used_ingress.add(out["ingress_port"])
    if mode == "bridge":
        out["network_mode"] = mode
    return out


def _dns_name_ok(name: Any) -> bool:
    """ECS's dnsName rule; its labels non-empty (it names a listener's hosts entry)."""
    return isinstance(name, str) and bool(_DNS_NAME.match(name)) and all(name.split("."))


def _tls(raw: Any) -> dict[str, Any] | None:
    """A service's ``tls`` checked: an issuer CA ARN is required (portside's CA signs).
    Either network mode: as in ECS, a bridge task's ingress host port takes mTLS too."""
    if not raw:
        return None
    tls = dict(raw)
    issuer = tls.get("issuer_certificate_authority") or {}
    arn = issuer.get("aws_pca_authority_arn")
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        raise InvalidParameterException(
            "tls.issuerCertificateAuthority.awsPcaAuthorityArn must be the ARN of a "
            "certificate authority."
        )
    return tls


def _ingress_port(ports: Mapping[str, tuple[str, Any]], used: set[int]) -> int:
    """Where a service's proxies listen when no ``ingressPortOverride`` says (bridge: the
    ``containerPort`` of the binding its agents report; the host port is theirs).

    ECS defaults to the container port, which its proxy takes over from the
    application; portside's proxy cannot share that port with the application, so
    it picks the first port from :data:`INGRESS_BASE` up that no port mapping of
    the task definition (nor another client-server port of the service) uses.
    """
    taken = {int(p.get("container_port") or 0) for _, p in ports.values()} | used
    port = INGRESS_BASE
    while port in taken:
        port += 1
    return port


def _discovery_names_in_use(store: Store, namespace_arn: str, except_arn: str) -> set[str]:
    used: set[str] = set()
    for svc in store.all("service").values():
        cfg = svc.service_connect_configuration
        if svc.service_arn == except_arn or svc.status == "INACTIVE" or not cfg:
            continue
        if cfg.get("namespace") == namespace_arn:
            used.update(s["discovery_name"] for s in cfg.get("services") or ())
    return used


def ensure_discovery_services(
    store: Store, scope: Scope, now: datetime, cfg: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Create the Cloud Map service for each discovery name (if missing); note its ARN."""
    if not cfg or not cfg.get("enabled") or not cfg.get("services"):
        return cfg
    from portside.domain.servicediscovery import services as sd_services

    ns = find_namespace(store, scope, cfg["namespace"])
    assert ns is not None  # checked by check_service_connect
    existing = {s.name: s for s in store.children("sd_service", ns.id).values()}
    for s in cfg["services"]:
        sd = existing.get(s["discovery_name"])
        if sd is None:
            sd = sd_services.create_service(
                store, scope, now, name=s["discovery_name"], namespace_id=ns.id,
                description="Created by ECS Service Connect",
                health_check_custom_config={}, type="HTTP" if ns.type != "HTTP" else None,
            )
        s["discovery_arn"] = sd.arn
    return cfg


def task_configuration(svc: Service, task: Task) -> Mapping[str, Any] | None:
    """The configuration ``task`` was started with: its deployment's, since ECS keys Service
    Connect per deployment (during a rollout to a definition with other ports, the old
    tasks keep theirs), else the service's (a deployment stored without one)."""
    cfg: Mapping[str, Any] | None = svc.service_connect_configuration
    for d in svc.deployments:
        if d.id == task.started_by and d.service_connect_configuration is not None:
            cfg = d.service_connect_configuration
    return cfg


def registry_arns(svc: Service) -> list[str]:
    """Every Cloud Map service Service Connect registers ``svc``'s tasks in: its current
    configuration's and each deployment's (old tasks stay in theirs until they stop)."""
    configs = (svc.service_connect_configuration,
               *(d.service_connect_configuration for d in svc.deployments))
    return list(dict.fromkeys(r["registry_arn"] for c in configs for r in registries(c)))


def task_registry(svc: Service, task: Task, registry_arn: str) -> dict[str, Any] | None:
    """The registry entry for ``task`` in ``registry_arn``, from its own deployment's
    configuration (None: that configuration does not register it there)."""
    return next((r for r in registries(task_configuration(svc, task))
                 if r["registry_arn"] == registry_arn), None)


def registries(cfg: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Service Connect's client-server ports as registry entries for the registration controller.

    Callers reach the application through its task's proxy (inbound listener): awsvpc
    registers the ingress port itself; bridge the host port the agent reported for it,
    as the binding of ``container_name`` whose ``containerPort`` is the ingress port
    (``ingress_reported``: no port reported, no registration). A configuration stored
    before ingress ports existed registers the application's own port."""
    if not cfg or not cfg.get("enabled"):
        return []
    return [_registry(s) for s in cfg.get("services") or () if s.get("discovery_arn")]


def _registry(s: Mapping[str, Any]) -> dict[str, Any]:
    out = {"registry_arn": s["discovery_arn"], "container_name": s["container_name"],
           "container_port": s["container_port"]}
    if s.get("ingress_port") and s.get("network_mode") == "bridge":
        out.update(container_port=s["ingress_port"], ingress_reported=True)
    elif s.get("ingress_port"):
        out["port"] = s["ingress_port"]
    return out


def list_services_by_namespace(
    store: Store, scope: Scope, *, namespace: str, next_token: str | None = None,
    max_results: int | None = None,
) -> Any:
    from portside.domain.pagination import paginate

    ns = find_namespace(store, scope, namespace)
    if ns is None:
        raise NamespaceNotFoundException(f"Namespace {namespace} was not found in Cloud Map.")
    keys = [
        svc.service_arn
        for svc in store.all("service").values()
        if svc.status == "ACTIVE"
        and svc.service_connect_configuration
        and svc.service_connect_configuration.get("namespace") == ns.arn
    ]
    return paginate(keys, next_token, max_results, default=10, limit=100)

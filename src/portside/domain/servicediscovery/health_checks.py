"""Route 53 health checks of Cloud Map instances: what to probe, when, and what a result does.

A service with HealthCheckConfig has Route 53 check each instance it registers.
portside runs one health checker (runtime/route53_health.py) that follows
Route 53's documented rules for one checker:

- **Endpoint**: AWS_INSTANCE_IPV4, else AWS_INSTANCE_IPV6 (with both, Cloud Map
  checks the IPv4 address and its result counts for the A and AAAA records), on
  AWS_INSTANCE_PORT. RegisterInstance requires the port once a service has a
  health check, but UpdateService may add one to instances registered without:
  portside then uses 80 for HTTP and 443 for HTTPS (Route 53's console defaults);
  a TCP check needs a port, so such an instance is not checked. An instance with
  no address (an alias, or a custom-attributes-only instance in an HTTP namespace)
  is not checked either. Unchecked instances keep the status they have.
- **Interval**: the next request goes out ``interval`` after the previous answer
  (RequestInterval: Route 53 uses 30 seconds for Cloud Map; a setting here).
- **Threshold**: a status changes after FailureThreshold (default 3, as Route 53)
  consecutive results that disagree with it; one agreeing result resets the count.
- **Before the first check** an instance is HEALTHY: "Route 53 considers a new
  health check to be healthy until there's enough data to determine the actual
  status". The first result does not change that unless FailureThreshold is 1.
- **Status is durable**: only a change is written (Instance.checked_health); the
  counts live in the checker's memory and start again after a restart.
- An instance re-registered at another address or port is a new check:
  RegisterInstance clears its status (HEALTHY again) and the count starts over.
  When UpdateService changes the check itself, the count starts over and the
  status stays until enough results disagree with it; a check removed and added
  again is a new check (HEALTHY), and its Type cannot change (as in Cloud Map).

:func:`decide` is pure: given the checks, the checker's memory, the results that
came back and the time, it says which probes to send and which statuses change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from portside.domain.servicediscovery import attributes as attrs
from portside.domain.servicediscovery.instance import Instance, instance_key
from portside.domain.servicediscovery.model import HEALTHY, UNHEALTHY
from portside.domain.servicediscovery.namespace import Namespace
from portside.domain.servicediscovery.service import Service
from portside.store.store import Store

DEFAULT_FAILURE_THRESHOLD = 3
DEFAULT_PORTS = {"HTTP": 80, "HTTPS": 443}


@dataclass(frozen=True, slots=True)
class Target:
    """One endpoint to probe, and how."""

    type: str  # HTTP | HTTPS | TCP
    address: str
    port: int
    path: str | None = None  # HTTP(S): the ResourcePath to GET
    host: str = ""  # HTTP(S): the Host header (the service's DNS name or the address[:port])


@dataclass(frozen=True, slots=True)
class Check:
    """An instance to keep checked, with the status it has now."""

    service_id: str
    instance_id: str
    target: Target
    threshold: int
    status: str  # HEALTHY | UNHEALTHY

    @property
    def key(self) -> str:
        return instance_key(self.service_id, self.instance_id)


@dataclass(frozen=True, slots=True)
class Result:
    """What one probe of ``target`` found (True: healthy)."""

    target: Target
    ok: bool


@dataclass(frozen=True, slots=True)
class Memory:
    """The checker's count for one instance: results in a row that disagree with its status."""

    target: Target
    streak: int = 0
    next_at: datetime | None = None  # None: never checked, due at once


@dataclass(frozen=True, slots=True)
class Decision:
    memory: dict[str, Memory]
    due: tuple[Check, ...]  # probe these now
    changes: dict[str, str]  # instance key -> its new status
    wake_at: datetime | None  # when the next probe falls due (None: none is waiting)


def target_of(service: Service, inst: Instance, namespace: Namespace | None) -> Target | None:
    """The endpoint Route 53 checks for ``inst``, or None when it is not checked."""
    hc = service.health_check_config
    if hc is None:
        return None
    address = inst.attributes.get(attrs.INSTANCE_IPV4) or inst.attributes.get(attrs.INSTANCE_IPV6)
    raw_port = inst.attributes.get(attrs.INSTANCE_PORT)
    port = int(raw_port) if raw_port is not None else DEFAULT_PORTS.get(hc.type)
    if address is None or port is None:
        return None
    if hc.type == "TCP":
        return Target("TCP", address, port)
    # Route 53's Host header: the DNS name Cloud Map gives the check (the address in an
    # HTTP namespace), with ":PORT" unless the port is the scheme's own
    host = address if ":" not in address else f"[{address}]"
    if namespace is not None and namespace.is_dns:
        host = f"{service.name}.{namespace.name.rstrip('.')}"
    if DEFAULT_PORTS.get(hc.type) != port:
        host = f"{host}:{port}"
    return Target(hc.type, address, port, hc.resource_path or "/", host)


def status_of(inst: Instance) -> str:
    """What the checker last observed (HEALTHY before it has observed anything)."""
    return inst.checked_health or HEALTHY


def checks(store: Store) -> list[Check]:
    """Every instance the checker must keep checked, read from the store."""
    found: list[Check] = []
    for svc in store.all(Service.KIND).values():
        hc = svc.health_check_config
        if hc is None:
            continue
        ns = store.get(Namespace.KIND, svc.namespace_id)
        threshold = hc.failure_threshold or DEFAULT_FAILURE_THRESHOLD
        for inst in store.children(Instance.KIND, svc.id).values():
            target = target_of(svc, inst, ns)
            if target is not None:
                found.append(Check(svc.id, inst.id, target, threshold, status_of(inst)))
    return found


def decide(
    checks: Sequence[Check],
    memory: Mapping[str, Memory],
    results: Mapping[str, Result],
    busy: Set[str],
    now: datetime,
    interval: timedelta,
) -> Decision:
    """Apply the results that came back, and pick the probes that are due.

    ``busy`` are the instances whose probe is still out: they are not sent
    again. A result for an endpoint the instance no longer has is dropped.
    Memory of instances that are no longer checked is forgotten.
    """
    kept: dict[str, Memory] = {}
    due: list[Check] = []
    changes: dict[str, str] = {}
    for check in checks:
        mem = memory.get(check.key)
        if mem is None or mem.target != check.target:
            mem = Memory(check.target)
        result = results.get(check.key)
        if result is not None and result.target == check.target:
            agrees = result.ok == (check.status == HEALTHY)
            streak = 0 if agrees else mem.streak + 1
            if streak >= check.threshold:
                changes[check.key] = HEALTHY if result.ok else UNHEALTHY
                streak = 0
            mem = replace(mem, streak=streak, next_at=now + interval)
        if check.key not in busy and (mem.next_at is None or mem.next_at <= now):
            due.append(check)
        kept[check.key] = mem
    waiting = {c.key for c in due} | set(busy)
    times = [m.next_at for k, m in kept.items() if k not in waiting and m.next_at is not None]
    return Decision(kept, tuple(due), changes, min(times, default=None))

"""Container definitions: ECS's per-container rules and the defaults it fills in.

``normalize_container`` checks one container against the task's network mode
and returns a new dict with what ECS adds on registration (``essential`` true,
``cpu`` 0, empty lists, ``protocol`` tcp, host ports fixed by the network
mode, health-check defaults). ``check_containers`` then checks what involves
several containers: unique names, at least one essential container, unique
port-mapping names and ``dependsOn``.

Errors are ClientException with ECS's wording where it is known (container
names, image, memory, ports under awsvpc, dependency essentials); the rest
follow the same style.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from portside.domain.errors import ClientException

MAX_CONTAINERS = 10
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_PORT_NAME = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,63}$")
_PORT_RANGE = re.compile(r"^(\d+)-(\d+)$")
MIN_CONTAINER_MEMORY = 6  # MiB: the Docker daemon's minimum for a container
MAX_CONTAINER_CPU = 196608

# (field, default, low, high) in seconds / attempts (ECS HealthCheck reference)
HEALTH_BOUNDS = (
    ("interval", 30, 5, 300),
    ("timeout", 5, 2, 120),
    ("retries", 3, 1, 10),
    ("start_period", None, 0, 300),
)
DEPENDENCY_CONDITIONS = ("START", "COMPLETE", "SUCCESS", "HEALTHY")
_LIST_DEFAULTS = ("port_mappings", "environment", "mount_points", "volumes_from", "system_controls")


def network(mode: str | None) -> str:
    """The effective network mode (ECS's Linux default is bridge)."""
    return mode or "bridge"


def normalize_container(raw: Mapping[str, Any], network_mode: str | None) -> dict[str, Any]:
    """One container definition, checked and with ECS's registration defaults."""
    c = dict(raw)
    name = c.get("name")
    if not name:
        raise ClientException("Container.name should not be null or empty.")
    if not _NAME.match(name):
        raise ClientException("Container.name contains invalid characters.")
    if not c.get("image"):
        raise ClientException("Container.image should not be null or empty.")
    mode = network(network_mode)
    c.setdefault("essential", True)
    c.setdefault("cpu", 0)
    for key in _LIST_DEFAULTS:
        c.setdefault(key, [])
    _check_sizes(name, c)
    if mode == "awsvpc":
        for key in ("hostname", "links"):
            if c.get(key):
                raise ClientException(
                    f"{key} is not supported on container when networkMode=awsvpc."
                )
    c["port_mappings"] = [_port_mapping(name, p, mode) for p in c["port_mappings"]]
    if c.get("health_check") is not None:
        c["health_check"] = _health_check(name, c["health_check"])
    for req in c.get("resource_requirements") or ():
        if req.get("type") == "GPU" and not _positive_int(req.get("value")):
            raise ClientException(
                f"Invalid 'resourceRequirements' setting for container '{name}'. "
                "The GPU value must be a positive whole number."
            )
    return c


def _positive_int(value: Any) -> bool:
    return isinstance(value, str) and value.isdigit() and int(value) > 0


def _check_sizes(name: str, c: Mapping[str, Any]) -> None:
    cpu = c["cpu"]
    if not 0 <= cpu <= MAX_CONTAINER_CPU:
        raise ClientException(f"Invalid 'cpu' setting for container '{name}'.")
    memory = c.get("memory")
    reservation = c.get("memory_reservation")
    if memory is not None and memory < MIN_CONTAINER_MEMORY:
        raise ClientException(f"Invalid 'memory' setting for container '{name}'.")
    if reservation is not None and reservation < 1:
        raise ClientException(f"Invalid 'memoryReservation' setting for container '{name}'.")
    if memory is not None and reservation is not None and reservation > memory:
        raise ClientException(
            f"The 'memoryReservation' setting for container '{name}' is greater than "
            "its 'memory' setting."
        )


def _port_mapping(name: str, raw: Mapping[str, Any], mode: str) -> dict[str, Any]:
    p = dict(raw)
    if mode == "none":
        raise ClientException(
            f"Invalid 'portMappings' setting for container '{name}'. "
            "Port mappings are not supported when networkMode=none."
        )
    p.setdefault("protocol", "tcp")
    if p.get("app_protocol") and not p.get("name"):
        raise ClientException(
            f"Invalid 'portMappings' setting for container '{name}'. "
            "appProtocol can only be set on a port mapping that has a name."
        )
    if p.get("name") is not None and not _PORT_NAME.match(p["name"]):
        raise ClientException(
            f"Invalid 'portMappings' setting for container '{name}'. A port mapping name has "
            "up to 64 lowercase letters, numbers, underscores and hyphens, and does not "
            "start with a hyphen."
        )
    if p.get("container_port_range") is not None:
        _check_range(name, p, mode)
        return p
    port = p.get("container_port")
    if port is None or not 1 <= port <= 65535:
        raise ClientException(f"Invalid 'containerPort' setting for container '{name}'.")
    host = p.get("host_port")
    if host is not None and not 0 <= host <= 65535:
        raise ClientException(f"Invalid 'hostPort' setting for container '{name}'.")
    if mode in ("awsvpc", "host"):
        if host not in (None, port):
            raise ClientException(
                f"When networkMode={mode}, the host ports and container ports in port "
                "mappings must match."
            )
        p["host_port"] = port
    elif host is None:
        p["host_port"] = 0  # bridge: a dynamic host port is chosen at launch
    return p


def _check_range(name: str, p: Mapping[str, Any], mode: str) -> None:
    match = _PORT_RANGE.match(p["container_port_range"])
    ok = (
        match is not None
        and 1 <= int(match[1]) < int(match[2]) <= 65535
        and p.get("container_port") is None
        and p.get("host_port") is None
        and mode in ("awsvpc", "bridge")
    )
    if not ok:
        raise ClientException(f"Invalid 'containerPortRange' setting for container '{name}'.")


def _health_check(name: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    hc = dict(raw)
    command = hc.get("command") or []
    if len(command) < 2 or command[0] not in ("CMD", "CMD-SHELL"):
        raise ClientException(
            f"Invalid 'healthCheck' setting for container '{name}'. The command must "
            "start with CMD or CMD-SHELL, followed by what to run."
        )
    for key, default, lo, hi in HEALTH_BOUNDS:
        if hc.get(key) is None:
            if default is not None:
                hc[key] = default
            continue
        if not lo <= hc[key] <= hi:
            wire = "startPeriod" if key == "start_period" else key
            raise ClientException(
                f"Invalid 'healthCheck' setting for container '{name}'. "
                f"'{wire}' must be between {lo} and {hi}."
            )
    return hc


def check_containers(containers: Sequence[Mapping[str, Any]]) -> None:
    """Rules that involve more than one container of a task definition."""
    by_name: dict[str, Mapping[str, Any]] = {}
    for c in containers:
        if c["name"] in by_name:
            raise ClientException("Container names must be unique within a Task Definition.")
        by_name[c["name"]] = c
    if not any(c["essential"] for c in containers):
        raise ClientException("Task definition doesn't have any essential container.")
    port_names: set[str] = set()
    for c in containers:
        for p in c["port_mappings"]:
            if p.get("name") is None:
                continue
            if p["name"] in port_names:
                raise ClientException(
                    f"Port mapping name '{p['name']}' is used more than once. Port mapping "
                    "names must be unique within a task definition."
                )
            port_names.add(p["name"])
    for c in containers:
        for dep in c.get("depends_on") or ():
            _check_dependency(c["name"], dep, by_name)
    _check_acyclic(by_name)


def _check_dependency(
    name: str, dep: Mapping[str, Any], by_name: Mapping[str, Mapping[str, Any]]
) -> None:
    target_name = dep["container_name"]
    condition = dep["condition"]
    target = by_name.get(target_name)
    if target is None:
        raise ClientException(
            f"Invalid 'dependsOn' setting for container '{name}'. Container "
            f"'{target_name}' is not defined in the task definition."
        )
    if condition in ("SUCCESS", "COMPLETE") and target["essential"]:
        raise ClientException(
            "A dependency container with SUCCESS or COMPLETE condition cannot be an "
            "essential container"
        )
    if condition == "HEALTHY" and target.get("health_check") is None:
        raise ClientException(
            f"Invalid 'dependsOn' setting for container '{name}'. The HEALTHY condition "
            f"requires container '{target_name}' to have a health check."
        )


def _check_acyclic(by_name: Mapping[str, Mapping[str, Any]]) -> None:
    """Reject dependency cycles (a container waiting, through others, on itself)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name) :], name]
            raise ClientException(
                "Container dependencies cannot form a cycle: " + " -> ".join(cycle) + "."
            )
        state[name] = 1
        for dep in by_name[name].get("depends_on") or ():
            visit(dep["container_name"], [*path, name])
        state[name] = 2

    for name in by_name:
        visit(name, [])


def container_memory(c: Mapping[str, Any]) -> int | None:
    """What a container reserves on its instance: memoryReservation if set, else memory."""
    reservation = c.get("memory_reservation")
    return reservation if reservation is not None else c.get("memory")


def gpu_count(c: Mapping[str, Any]) -> int:
    return sum(
        int(r["value"]) for r in c.get("resource_requirements") or () if r.get("type") == "GPU"
    )

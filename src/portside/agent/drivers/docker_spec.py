"""Translations between ECS container definitions and Docker's API, both ways.

:func:`create_args` maps a :class:`ContainerSpec` to ``create_container``
arguments the way the ECS agent does:

    memory             -> HostConfig.Memory (hard limit, bytes)
    memoryReservation  -> HostConfig.MemoryReservation (soft limit)
    cpu                -> HostConfig.CpuShares (2, Docker's minimum, when 0)
    task cpu           -> HostConfig.NanoCpus on every container: none exceeds the
                          task's CPU (ECS enforces the sum with a task cgroup;
                          this driver caps each container at the task's figure)
    task memory        -> HostConfig.Memory of containers that set no memory
    portMappings       -> exposed ports and bindings; hostPort 0/absent in bridge
                          mode lets Docker pick from the kernel's ephemeral range
                          (net.ipv4.ip_local_port_range, 32768-60999 by default);
                          in host mode Docker publishes nothing, so the mappings
                          ride in a label and come back as bindings with
                          hostPort = containerPort, as ECS reports them
    healthCheck        -> Config.Healthcheck (Docker runs the probes)
    awsvpc             -> NetworkMode container:<pause>; hostname and extraHosts
                          go on the pause container, which owns the namespace

:func:`runtime_container` reads ``docker inspect`` output back into a
:class:`RuntimeContainer`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from portside.agent.drivers.base import (
    CREATED,
    EXITED,
    RUNNING,
    NetworkBinding,
    RuntimeContainer,
)
from portside.agent.health import HEALTHY, UNHEALTHY, UNKNOWN, HealthState
from portside.agent.payload import ContainerSpec, TaskSpec
from portside.agent.ports import RANGE_VARIABLE, dynamic_range

LABEL_TASK = "com.amazonaws.ecs.task-arn"
LABEL_CONTAINER = "com.amazonaws.ecs.container-name"
LABEL_CLUSTER = "com.amazonaws.ecs.cluster"
LABEL_FAMILY = "com.amazonaws.ecs.task-definition-family"
LABEL_REVISION = "com.amazonaws.ecs.task-definition-version"
LABEL_INSTANCE = "io.portside.instance-id"
LABEL_ROLE = "io.portside.role"  # "pause" on the awsvpc namespace holder
LABEL_HOST_PORTS = "io.portside.host-ports"  # host mode: "8080/tcp,53/udp"
PAUSE_CONTAINER = "~internal~ecs~pause"
MIN_CPU_SHARES = 2
NANOS = 1_000_000_000
MIB = 1024 * 1024


def labels(task: TaskSpec, container_name: str, instance_id: str) -> dict[str, str]:
    return {
        LABEL_TASK: task.task_arn,
        LABEL_CONTAINER: container_name,
        LABEL_CLUSTER: task.cluster_name,
        LABEL_FAMILY: task.family,
        LABEL_REVISION: str(task.revision),
        LABEL_INSTANCE: instance_id,
    }


def docker_name(task: TaskSpec, container_name: str, suffix: str) -> str:
    """ECS's naming: ``ecs-<family>-<revision>-<container>-<random>``."""
    safe = "".join(ch if ch.isalnum() or ch in "_.-" else "-" for ch in container_name)
    return f"ecs-{task.family or 'task'}-{task.revision}-{safe}-{suffix}"


def create_args(
    task: TaskSpec,
    container: ContainerSpec,
    env: Mapping[str, str],
    instance_id: str,
    sandbox_id: str | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(create_container kwargs without host_config, create_host_config kwargs)."""
    mode = task.network_mode
    config: dict[str, Any] = {
        "image": container.image,
        "environment": dict(env),
        "labels": {**dict(container.docker_labels), **labels(task, container.name, instance_id)},
        "detach": True,
    }
    if container.entry_point:
        config["entrypoint"] = list(container.entry_point)
    if container.command:
        config["command"] = list(container.command)
    if container.working_directory:
        config["working_dir"] = container.working_directory
    if container.user:
        config["user"] = container.user
    if container.hostname and mode in ("bridge", "none"):
        config["hostname"] = container.hostname
    if container.health_check is not None:
        hc = container.health_check
        config["healthcheck"] = {
            "test": list(hc.command),
            "interval": int(hc.interval * NANOS),
            "timeout": int(hc.timeout * NANOS),
            "retries": hc.retries,
            "start_period": int(hc.start_period * NANOS),
        }
    host: dict[str, Any] = {
        "cpu_shares": max(container.cpu, MIN_CPU_SHARES),
        "read_only": container.readonly_root_filesystem,
        "privileged": container.privileged,
    }
    if container.init_process_enabled:
        host["init"] = True
    if container.memory or task.memory:
        host["mem_limit"] = (container.memory or task.memory or 0) * MIB
    if task.cpu:
        host["nano_cpus"] = task.cpu * NANOS // 1024
    if container.memory_reservation:
        host["mem_reservation"] = container.memory_reservation * MIB
    if container.ulimits:
        from docker.types import Ulimit

        host["ulimits"] = [Ulimit(name=n, soft=s, hard=h) for n, s, h in container.ulimits]
    if mode == "awsvpc":
        host["network_mode"] = f"container:{sandbox_id}"
    elif mode in ("host", "none"):
        host["network_mode"] = mode
        if mode == "host" and container.port_mappings:
            config["labels"][LABEL_HOST_PORTS] = ",".join(
                f"{p.container_port}/{p.protocol}" for p in container.port_mappings
            )
    else:
        host["network_mode"] = "bridge"
        if container.extra_hosts:
            host["extra_hosts"] = dict(container.extra_hosts)
        if container.port_mappings:
            config["ports"] = [(p.container_port, p.protocol) for p in container.port_mappings]
            # no hostPort: Docker picks one, from ECS_DYNAMIC_HOST_PORT_RANGE when it is set
            dynamic = "{}-{}".format(*dynamic_range()) if os.environ.get(RANGE_VARIABLE) else None
            host["port_bindings"] = {
                f"{p.container_port}/{p.protocol}": p.host_port or dynamic
                for p in container.port_mappings
            }
    return config, host


def runtime_container(attrs: Mapping[str, Any]) -> RuntimeContainer:
    """A RuntimeContainer from ``docker inspect`` output."""
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    lbls = dict(config.get("Labels") or {})
    status = state.get("Status", "created")
    kind = RUNNING if status in ("running", "paused", "restarting") else CREATED
    if status in ("exited", "dead"):
        kind = EXITED
    return RuntimeContainer(
        task_arn=lbls.get(LABEL_TASK, ""),
        name=lbls.get(LABEL_CONTAINER, ""),
        runtime_id=str(attrs.get("Id", "")),
        state=kind,
        exit_code=int(state["ExitCode"]) if kind == EXITED and "ExitCode" in state else None,
        docker_name=str(attrs.get("Name", "")).lstrip("/"),
        image=str(config.get("Image", "")),
        image_id=attrs.get("Image"),
        created_at=attrs.get("Created"),
        started_at=_time(state.get("StartedAt")),
        finished_at=_time(state.get("FinishedAt")),
        bindings=bindings((attrs.get("NetworkSettings") or {}).get("Ports") or {})
        or host_bindings(lbls.get(LABEL_HOST_PORTS, "")),
        health=health_state(state.get("Health")),
        pid=state.get("Pid") or None,
        address=_address(attrs.get("NetworkSettings") or {}),
        labels=lbls,
        oom_killed=bool(state.get("OOMKilled")),
    )


def bindings(ports: Mapping[str, Any]) -> tuple[NetworkBinding, ...]:
    """Published ports from ``NetworkSettings.Ports`` (IPv4 bindings only)."""
    out: list[NetworkBinding] = []
    for key, binds in sorted(ports.items()):
        if not binds:
            continue
        port, _, proto = key.partition("/")
        for b in binds:
            ip = b.get("HostIp") or "0.0.0.0"
            if ":" in ip or not b.get("HostPort"):
                continue
            out.append(NetworkBinding(int(port), int(b["HostPort"]), proto or "tcp", ip))
    return tuple(out)


def host_bindings(label: str) -> tuple[NetworkBinding, ...]:
    """Host-mode bindings from the :data:`LABEL_HOST_PORTS` label: the port on the host is the container's."""
    out: list[NetworkBinding] = []
    for item in filter(None, label.split(",")):
        port, _, proto = item.partition("/")
        out.append(NetworkBinding(int(port), int(port), proto or "tcp"))
    return tuple(out)


_HEALTH = {"healthy": HEALTHY, "unhealthy": UNHEALTHY}


def health_state(raw: Mapping[str, Any] | None) -> HealthState | None:
    """Docker's State.Health as a HealthState (None when there is no health check)."""
    if not raw:
        return None
    log = raw.get("Log") or []
    last = log[-1] if log else {}
    return HealthState(
        status=_HEALTH.get(str(raw.get("Status")), UNKNOWN),
        failing_streak=int(raw.get("FailingStreak") or 0),
        status_since=None,
        exit_code=last.get("ExitCode"),
        output=str(last.get("Output") or ""),
    )


def _address(settings: Mapping[str, Any]) -> str | None:
    if settings.get("IPAddress"):
        return str(settings["IPAddress"])
    for net in (settings.get("Networks") or {}).values():
        if net and net.get("IPAddress"):
            return str(net["IPAddress"])
    return None


def _time(value: Any) -> str | None:
    if not value or str(value).startswith("0001-01-01"):
        return None
    return str(value)

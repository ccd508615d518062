"""RegisterContainerInstance: what this machine offers, as the ECS agent describes it.

Resources: CPU units (1024 per core unless ``--cpu``), MEMORY in MiB (the
machine's unless ``--memory``), PORTS already taken (ECS's 22, 2375, 2376,
51678, 51679, plus the agent's metadata port) and PORTS_UDP. Attributes: the
ones ECS sets (``ecs.availability-zone``, ``ecs.instance-type``,
``ecs.os-type``, ``ecs.os-family``, ``ecs.cpu-architecture``), the driver's
capabilities, and custom ones from ``--attribute``. The instance identity
document is made up (there is no EC2 here) around an ``i-`` id the agent keeps
in its state dir. A restarted agent passes its saved containerInstanceArn, so
it comes back as the same instance.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from portside import __version__

RESERVED_PORTS = (22, 2375, 2376, 51678, 51679)
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True, slots=True)
class MachineSpec:
    cluster: str
    region: str
    availability_zone: str
    instance_type: str
    instance_id: str
    cpu: int | None = None
    memory: int | None = None
    attributes: tuple[tuple[str, str | None], ...] = ()


def default_cpu() -> int:
    return (os.cpu_count() or 1) * 1024


def default_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError):
        return 1024


def architecture() -> str:
    machine = platform.machine().lower()
    return _ARCH.get(machine, machine)


def register_params(
    spec: MachineSpec,
    *,
    driver_version: str,
    driver_attributes: Sequence[tuple[str, str | None]],
    extra_ports: Sequence[int] = (),
    container_instance_arn: str | None = None,
) -> dict[str, Any]:
    ports = sorted({*RESERVED_PORTS, *extra_ports})
    attributes: dict[str, str | None] = {
        "ecs.availability-zone": spec.availability_zone,
        "ecs.instance-type": spec.instance_type,
        "ecs.os-type": "linux",
        "ecs.os-family": "LINUX",
        "ecs.cpu-architecture": architecture(),
    }
    for name, value in driver_attributes:
        attributes[name] = value
    for name, value in spec.attributes:
        attributes[name] = value
    identity = {
        "instanceId": spec.instance_id,
        "availabilityZone": spec.availability_zone,
        "instanceType": spec.instance_type,
        "region": spec.region,
        "architecture": architecture(),
        "imageId": "ami-portside",
        "privateIp": "127.0.0.1",
    }
    params: dict[str, Any] = {
        "cluster": spec.cluster,
        "totalResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": spec.cpu or default_cpu()},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": spec.memory or default_memory()},
            {"name": "PORTS", "type": "STRINGSET", "stringSetValue": [str(p) for p in ports]},
            {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
        ],
        "versionInfo": {
            "agentVersion": __version__,
            "agentHash": "portside",
            "dockerVersion": f"DockerVersion: {driver_version}" if driver_version else "",
        },
        "attributes": [
            {"name": k, **({"value": v} if v is not None else {})} for k, v in attributes.items()
        ],
        "instanceIdentityDocument": json.dumps(identity),
    }
    if container_instance_arn:
        params["containerInstanceArn"] = container_instance_arn
    return params


def cluster_arn_of(container_instance_arn: str, cluster: str) -> str:
    """The cluster's ARN, from the instance's (``…:container-instance/CLUSTER/ID``)."""
    if cluster.startswith("arn:"):
        return cluster
    prefix, _, rest = container_instance_arn.partition(":container-instance/")
    name = rest.split("/", 1)[0] if "/" in rest else cluster
    return f"{prefix}:cluster/{name}"

"""Task-level cpu and memory: parsing the forms ECS accepts, and Fargate's valid pairs.

ECS takes task ``cpu`` as CPU units (``"1024"``) or vCPUs (``"1 vCPU"``,
``"0.25 vcpu"``) and task ``memory`` as MiB (``"2048"``) or GB (``"2 GB"``,
``"0.5GB"``), and stores both as integer strings of CPU units and MiB.

Fargate runs only these sizes (Amazon ECS developer guide, "Task CPU and
memory"); memory in MiB:

    cpu     memory
    256     512, 1024, 2048
    512     1024 to 4096   by 1024
    1024    2048 to 8192   by 1024
    2048    4096 to 16384  by 1024
    4096    8192 to 30720  by 1024
    8192    16384 to 61440 by 4096   (16 GB to 60 GB by 4 GB)
    16384   32768 to 122880 by 8192  (32 GB to 120 GB by 8 GB)
"""

from __future__ import annotations

import re

from portside.domain.errors import ClientException

CPU_PER_VCPU = 1024
MIB_PER_GB = 1024

# EC2-hosted tasks: 0.125 vCPU to 192 vCPU (the RegisterTaskDefinition reference).
EC2_TASK_CPU = (128, 196608)

_FARGATE: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

_CPU = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(vcpus?)?\s*$", re.IGNORECASE)
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(gb|gib|mb|mib)?\s*$", re.IGNORECASE)


def parse_task_cpu(text: str) -> int:
    """CPU units from ``"1024"`` or ``"1 vCPU"``; ClientException for anything else."""
    match = _CPU.match(text)
    if match is None:
        raise ClientException("Invalid 'cpu' setting for task.")
    number, unit = match.groups()
    units = float(number) * (CPU_PER_VCPU if unit else 1)
    if units <= 0 or not units.is_integer():
        raise ClientException("Invalid 'cpu' setting for task.")
    return int(units)


def parse_task_memory(text: str) -> int:
    """MiB from ``"2048"``, ``"2048 MiB"`` or ``"2 GB"``; ClientException for anything else."""
    match = _MEMORY.match(text)
    if match is None:
        raise ClientException("Invalid 'memory' setting for task.")
    number, unit = match.groups()
    gb = unit is not None and unit.lower() in ("gb", "gib")
    mib = float(number) * (MIB_PER_GB if gb else 1)
    if mib <= 0 or not mib.is_integer():
        raise ClientException("Invalid 'memory' setting for task.")
    return int(mib)


def fargate_memory_options(cpu: int) -> tuple[int, ...]:
    """The task memory sizes (MiB) Fargate runs with ``cpu`` units; empty if none."""
    return _FARGATE.get(cpu, ())


def fargate_size_ok(cpu: int, memory: int) -> bool:
    return memory in fargate_memory_options(cpu)


def check_fargate_size(cpu: int, memory: int) -> None:
    if not fargate_size_ok(cpu, memory):
        raise ClientException(
            f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. "
            "See the Amazon ECS documentation for the valid values."
        )


def check_ec2_task_cpu(cpu: int) -> None:
    lo, hi = EC2_TASK_CPU
    if not lo <= cpu <= hi:
        raise ClientException("Invalid 'cpu' setting for task.")

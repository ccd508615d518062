"""A catalogue of EC2 instance types: what each offers an ECS container instance, and its price.

Figures are EC2's published ones: vCPUs, installed memory, the maximum number
of network interfaces, the architecture, and the Linux on-demand hourly price
in us-east-1. From them follow what the ECS agent registers:

- CPU: 1,024 units per vCPU.
- MEMORY: installed MiB less what the kernel and platform take. ECS documents
  an ``m4.large`` (8 GiB installed) registering 7,985 MiB; the same share
  (97.5 %) is applied to every type, less ``ECS_RESERVED_MEMORY`` if given.
- ENI: awsvpc task slots, one per network interface beyond the primary one
  (ENI trunking, which raises the limit, is not modelled).

Prices change; these are the long-standing list prices, kept here so a
simulation's cost is reproducible. A scenario can override any entry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from portside.controllers.capacity_model import InstanceSpec

MEMORY_SHARE = 7985 / 8192
"""Registered / installed memory, from ECS's m4.large example."""


@dataclass(frozen=True, slots=True)
class InstanceType:
    name: str
    vcpus: int
    memory_mib: int
    max_enis: int
    architecture: str  # x86_64 | arm64
    price_per_hour: float  # USD, Linux on-demand, us-east-1
    gpus: int = 0

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def cpu_units(self) -> int:
        """CPU the ECS agent registers (1,024 units per vCPU)."""
        return self.vcpus * 1024

    def registered_memory(self, reserved_mib: int = 0) -> int:
        """MEMORY the ECS agent registers, in MiB."""
        return int(self.memory_mib * MEMORY_SHARE) - reserved_mib

    @property
    def eni_slots(self) -> int:
        """awsvpc tasks that fit: one per network interface beyond the primary."""
        return max(self.max_enis - 1, 0)


def _family(
    family: str, arch: str, rows: tuple[tuple[str, int, float, int, float], ...]
) -> dict[str, InstanceType]:
    """rows: (size, vCPUs, GiB, max ENIs, $/hour)."""
    out: dict[str, InstanceType] = {}
    for size, vcpus, gib, enis, price in rows:
        name = f"{family}.{size}"
        out[name] = InstanceType(name, vcpus, int(gib * 1024), enis, arch, price)
    return out


CATALOGUE: dict[str, InstanceType] = {
    **_family("t3", "x86_64", (
        ("nano", 2, 0.5, 2, 0.0052), ("micro", 2, 1, 2, 0.0104), ("small", 2, 2, 3, 0.0208),
        ("medium", 2, 4, 3, 0.0416), ("large", 2, 8, 3, 0.0832), ("xlarge", 4, 16, 4, 0.1664),
        ("2xlarge", 8, 32, 4, 0.3328),
    )),
    **_family("m5", "x86_64", (
        ("large", 2, 8, 3, 0.096), ("xlarge", 4, 16, 4, 0.192), ("2xlarge", 8, 32, 4, 0.384),
        ("4xlarge", 16, 64, 8, 0.768), ("8xlarge", 32, 128, 8, 1.536),
        ("12xlarge", 48, 192, 8, 2.304), ("16xlarge", 64, 256, 15, 3.072),
        ("24xlarge", 96, 384, 15, 4.608),
    )),
    **_family("c5", "x86_64", (
        ("large", 2, 4, 3, 0.085), ("xlarge", 4, 8, 4, 0.17), ("2xlarge", 8, 16, 4, 0.34),
        ("4xlarge", 16, 32, 8, 0.68), ("9xlarge", 36, 72, 8, 1.53),
        ("12xlarge", 48, 96, 8, 2.04), ("18xlarge", 72, 144, 15, 3.06),
        ("24xlarge", 96, 192, 15, 4.08),
    )),
    **_family("r5", "x86_64", (
        ("large", 2, 16, 3, 0.126), ("xlarge", 4, 32, 4, 0.252), ("2xlarge", 8, 64, 4, 0.504),
        ("4xlarge", 16, 128, 8, 1.008), ("8xlarge", 32, 256, 8, 2.016),
        ("12xlarge", 48, 384, 8, 3.024), ("16xlarge", 64, 512, 15, 4.032),
        ("24xlarge", 96, 768, 15, 6.048),
    )),
    **_family("m6g", "arm64", (
        ("medium", 1, 4, 2, 0.0385), ("large", 2, 8, 3, 0.077), ("xlarge", 4, 16, 4, 0.154),
        ("2xlarge", 8, 32, 4, 0.308), ("4xlarge", 16, 64, 8, 0.616),
        ("8xlarge", 32, 128, 8, 1.232), ("12xlarge", 48, 192, 8, 1.848),
        ("16xlarge", 64, 256, 15, 2.464),
    )),
}  # fmt: skip


class UnknownInstanceType(KeyError):
    """An instance type the catalogue (and the scenario) does not describe."""

    def __str__(self) -> str:
        known = ", ".join(sorted({t.family for t in CATALOGUE.values()}))
        return (
            f"unknown instance type {self.args[0]!r}: the catalogue has the {known} families; "
            "a simulator scenario can describe others under instanceTypes"
        )


class Catalogue:
    """The built-in types plus a scenario's own (which win)."""

    def __init__(self, extra: dict[str, InstanceType] | None = None):
        self._types = {**CATALOGUE, **(extra or {})}

    def __getitem__(self, name: str) -> InstanceType:
        try:
            return self._types[name]
        except KeyError:
            raise UnknownInstanceType(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def names(self) -> list[str]:
        return sorted(self._types)

    def with_price(self, name: str, price: float) -> InstanceType:
        return replace(self[name], price_per_hour=price)


def instance_spec(t: InstanceType) -> InstanceSpec:
    """What an instance of type ``t`` registers with ECS (cpu units, MiB, ENI slots)."""
    return InstanceSpec(
        name=t.name, cpu=t.cpu_units, memory=t.registered_memory(), eni_slots=t.eni_slots,
        gpus=t.gpus, architecture=t.architecture, price_per_hour=t.price_per_hour,
    )  # fmt: skip

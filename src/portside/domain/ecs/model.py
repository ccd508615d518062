"""Small value types shared by several ECS resources."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeyValue:
    name: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class StrategyItem:
    """One entry of a capacity provider strategy."""

    capacity_provider: str
    weight: int = 0
    base: int = 0


@dataclass(frozen=True, slots=True)
class Failure:
    """An entry of a response's ``failures`` list."""

    arn: str | None = None
    reason: str = ""
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class PortReservation:
    """A host port a task holds on its instance."""

    port: int
    protocol: str = "tcp"  # tcp | udp


@dataclass(frozen=True, slots=True)
class Reservation:
    """What a placed task holds on its container instance until it is STOPPED.

    ``cpu`` in CPU units (1024 per vCPU), ``memory`` in MiB, host ports,
    GPU ids, and whether it uses an ENI slot (awsvpc network mode).
    """

    cpu: int = 0
    memory: int = 0
    ports: tuple[PortReservation, ...] = ()
    gpus: tuple[str, ...] = ()
    eni: bool = False

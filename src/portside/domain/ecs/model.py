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

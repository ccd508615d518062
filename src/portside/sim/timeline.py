"""What a simulation records: a row per tick, every scaling action, every notable event.

A row holds, at the end of a tick: the running instances per group and per
Availability Zone (launching, in service or draining: every instance billed),
each provider's CapacityProviderReservation with M, N, the warming instances
and the waiting tasks, the tasks running, pending (placed, not yet RUNNING)
and waiting (unplaced), the desired total, the fleet's hourly cost rate and
the cost so far. Column names are stable strings
(``instances:GROUP``, ``instances:GROUP:ZONE``, ``reservation:PROVIDER``, …) so
the JSON, the CSV and the plots read the same table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Action:
    time: datetime
    provider: str
    action: str
    capacity_from: int
    capacity_to: int
    metric: str
    value: float
    target: int
    cause: str

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["time"] = self.time.isoformat()
        return out


@dataclass(frozen=True, slots=True)
class Note:
    time: datetime
    kind: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(), "kind": self.kind, "message": self.message}


@dataclass
class Timeline:
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Group name -> its Availability Zones."""
    providers: dict[str, int] = field(default_factory=dict)
    """Provider name -> its target capacity."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def columns(self) -> list[str]:
        cols = ["time", "minute"]
        for g, zones in self.groups.items():
            cols.append(f"instances:{g}")
            cols += [f"instances:{g}:{z}" for z in zones]
        for p in self.providers:
            cols += [f"reservation:{p}", f"needed:{p}", f"running:{p}", f"warming:{p}",
                     f"waiting:{p}", f"unfit:{p}"]  # fmt: skip
        cols += ["tasks_running", "tasks_pending", "tasks_waiting", "tasks_desired",
                 "cost_per_hour", "cost"]  # fmt: skip
        return cols

    def series(self, column: str) -> list[Any]:
        return [r.get(column) for r in self.rows]

    def minutes(self) -> list[float]:
        return [float(r["minute"]) for r in self.rows]

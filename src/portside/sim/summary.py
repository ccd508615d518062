"""The figures a simulation ends with, as data and as a table for the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from portside.sim.runner import Result


def summarize(result: Result) -> dict[str, Any]:
    """Per group, per provider and overall: what an architect asks first."""
    tl = result.timeline
    hours = tl.minutes()[-1] / 60 if tl.rows else 0.0
    tick_h = result.scenario.settings.tick.total_seconds() / 3600
    groups: dict[str, Any] = {}
    for g in tl.groups:
        series = [n or 0 for n in tl.series(f"instances:{g}")]
        groups[g] = {
            "peak_instances": max(series, default=0),
            "final_instances": series[-1] if series else 0,
            "instance_hours": round(sum(series) * tick_h, 2),
        }
    providers: dict[str, Any] = {}
    for p, target in tl.providers.items():
        values = [v for v in tl.series(f"reservation:{p}") if v is not None]
        acts = [a for a in tl.actions if a.provider == p]
        providers[p] = {
            "target_capacity": target,
            "reservation_mean": round(sum(values) / len(values), 1) if values else None,
            "reservation_max": max(values, default=None),
            "scale_outs": sum(1 for a in acts if a.action == "scale-out" and a.capacity_to > a.capacity_from),
            "scale_ins": sum(1 for a in acts if a.action == "scale-in"),
            "instances_launched_by_scaling": sum(
                a.capacity_to - a.capacity_from for a in acts if a.action == "scale-out"
            ),
        }
    waiting = [r.get("tasks_waiting", 0) for r in tl.rows]
    return {
        "scenario": result.scenario.name,
        "seed": result.scenario.seed,
        "simulated_hours": round(hours, 2),
        "wall_seconds": round(result.wall_seconds, 3),
        "cost_usd": round(result.cost, 2),
        "peak_tasks_desired": max((r.get("tasks_desired", 0) for r in tl.rows), default=0),
        "peak_tasks_running": max((r.get("tasks_running", 0) for r in tl.rows), default=0),
        "max_tasks_waiting": max(waiting, default=0),
        "minutes_with_waiting_tasks": round(sum(1 for w in waiting if w) * tick_h * 60, 1),
        "groups": groups,
        "providers": providers,
        "scaling_actions": len(tl.actions),
        "events": len(tl.notes),
    }


def print_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    head = Table(title=f"Simulation: {summary['scenario']} (seed {summary['seed']})",
                 show_header=False)  # fmt: skip
    head.add_column("what")
    head.add_column("value", justify="right")
    for label, key in (("simulated hours", "simulated_hours"), ("wall seconds", "wall_seconds"),
                       ("cost (USD)", "cost_usd"), ("peak tasks desired", "peak_tasks_desired"),
                       ("peak tasks running", "peak_tasks_running"),
                       ("max tasks waiting", "max_tasks_waiting"),
                       ("minutes with tasks waiting", "minutes_with_waiting_tasks"),
                       ("scaling actions", "scaling_actions")):  # fmt: skip
        head.add_row(label, str(summary[key]))
    console.print(head)
    groups = Table(title="Auto Scaling groups")
    for col in ("group", "peak", "final", "instance-hours"):
        groups.add_column(col, justify="left" if col == "group" else "right")
    for name, g in summary["groups"].items():
        groups.add_row(name, str(g["peak_instances"]), str(g["final_instances"]),
                       f"{g['instance_hours']:.1f}")  # fmt: skip
    console.print(groups)
    providers = Table(title="Capacity providers (CapacityProviderReservation)")
    for col in ("provider", "target", "mean", "max", "scale-outs", "scale-ins"):
        providers.add_column(col, justify="left" if col == "provider" else "right")
    for name, p in summary["providers"].items():
        providers.add_row(
            name, str(p["target_capacity"]), _pct(p["reservation_mean"]), _pct(p["reservation_max"]),
            str(p["scale_outs"]), str(p["scale_ins"]),
        )  # fmt: skip
    console.print(providers)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} %"

"""``portside capacity``: what managed scaling is doing, per capacity provider."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from portside.cli.client import endpoint_option, signed_post


def _instances(p: dict[str, Any]) -> str:
    group = p.get("group") or {}
    live = sum(n for states in p["zones"].values() for s, n in states.items()
               if s in ("Pending", "InService"))  # fmt: skip
    return f"{live}/{group.get('desiredCapacity', 0)} (min {group.get('minSize', 0)}, " \
           f"max {group.get('maxSize', 0)})"


def _zones(p: dict[str, Any]) -> str:
    parts = []
    for zone, states in sorted(p["zones"].items()):
        inner = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "none"
        parts.append(f"{zone}: {inner}")
    return "; ".join(parts) or "-"


@click.command()
@endpoint_option
@click.option("--cluster", default=None, help="Only the providers this cluster names.")
@click.option("--activities", "limit", default=10, show_default=True, type=click.IntRange(0, 100),
              help="Scaling decisions, and launcher steps, to show per provider (each).")
def capacity(endpoint: str, region: str, cluster: str | None, limit: int) -> None:
    """Managed scaling per capacity provider: CapacityProviderReservation (M/N), the
    target, instances per zone, the last scaling decisions with their causes and,
    apart, the last launcher steps (so a burst of launches hides no decision)."""
    out = signed_post(endpoint, region, "/_portside/capacity",
                      {"cluster": cluster, "activities": limit})  # fmt: skip
    console = Console(width=max(Console().width, 120))
    providers = out["providers"]
    if not providers:
        console.print("no Auto Scaling group capacity providers"
                      + (f" in cluster {cluster}" if cluster else ""))
        return
    t = Table(title="capacity providers")
    for col in ("provider", "cluster", "reservation", "target", "M/N", "warming", "waiting",
                "instances", "per zone"):
        t.add_column(col)
    for p in providers:
        res = p["reservation"]
        t.add_row(
            p["name"], p["cluster"] or "-",
            "-" if res is None else f"{res:g} %",
            f"{p['targetCapacity']} %" + ("" if p["managedScaling"] else " (off)"),
            f"{p['needed']}/{p['running']}", str(p["warming"]), str(p["waiting"]),
            _instances(p), _zones(p),
        )  # fmt: skip
    console.print(t)
    for p in providers:
        for u in p["unfit"]:
            console.print(f"{p['name']}: {u['count']} tasks fit no instance type of the group "
                          f"({u['reason']}): {u['detail']}")  # fmt: skip
        if p["decisions"]:
            console.print(_decisions(p))
        if p["launcherSteps"]:
            console.print(_steps(p))


def _at(act: dict[str, Any]) -> str:
    return str(act["at"])[:19].replace("T", " ")


def _decisions(p: dict[str, Any]) -> Table:
    """Managed scaling's decisions: the capacity step, the metric against its target, why."""
    t = Table(title=f"{p['name']}: last scaling decisions")
    for col in ("at", "action", "capacity", "reservation", "cause"):
        t.add_column(col, overflow="fold")
    for act in p["decisions"]:
        t.add_row(_at(act), act["action"], f"{act['capacityFrom']} -> {act['capacityTo']}",
                  f"{act['metricValue']:g} / {act['target']} %", act["cause"])  # fmt: skip
    return t


def _steps(p: dict[str, Any]) -> Table:
    """The launchers' steps toward the decided capacity (launch, terminated, failures)."""
    t = Table(title=f"{p['name']}: last launcher steps")
    for col in ("at", "step", "desired", "detail"):
        t.add_column(col, overflow="fold")
    for act in p["launcherSteps"]:
        t.add_row(_at(act), act["action"], str(act["capacityTo"]), act["cause"])
    return t

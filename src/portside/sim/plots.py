"""PNG plots of a timeline, drawn with matplotlib's Agg backend (no display needed).

Four figures, one question each:

- ``instances.png``: running instances per group (stacked per Availability Zone);
- ``reservation.png``: CapacityProviderReservation per provider, with its target;
- ``tasks.png``: tasks desired, running, pending and waiting;
- ``cost.png``: the hourly rate of the fleet and the cost so far.

Scaling actions are marked on the instance plot (up: scale-out, down: scale-in).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from portside.sim.timeline import Timeline

FIGSIZE = (10, 4)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw(timeline: Timeline, out: Path) -> list[Path]:
    """Write the figures into ``out``; return their paths."""
    plt = _pyplot()
    hours = [m / 60 for m in timeline.minutes()]
    written: list[Path] = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        path = out / name
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)

    fig, ax = plt.subplots(figsize=FIGSIZE)
    for group, zones in timeline.groups.items():
        if len(zones) > 1:
            ax.stackplot(hours, *[[v or 0 for v in timeline.series(f"instances:{group}:{z}")]
                                  for z in zones], labels=[f"{group} {z}" for z in zones],
                         alpha=0.6)  # fmt: skip
        else:
            ax.plot(hours, [v or 0 for v in timeline.series(f"instances:{group}")], label=group)
    start = timeline.rows[0]["time"] if timeline.rows else None
    for a in timeline.actions:
        if start is None or a.action not in ("scale-out", "scale-in"):
            continue
        x = (a.time.timestamp() - _ts(start)) / 3600
        ax.axvline(x, color="green" if a.action == "scale-out" else "red", alpha=0.15, lw=1)
    ax.set(title="Instances per Auto Scaling group", xlabel="hours", ylabel="instances")
    ax.legend(loc="upper left", fontsize="small")
    save(fig, "instances.png")

    fig, ax = plt.subplots(figsize=FIGSIZE)
    for provider, target in timeline.providers.items():
        line = ax.plot(hours, timeline.series(f"reservation:{provider}"), label=provider)
        ax.axhline(target, ls="--", lw=1, color=line[0].get_color(), alpha=0.6)
    ax.set(title="CapacityProviderReservation (dashed: targetCapacity)", xlabel="hours",
           ylabel="percent")  # fmt: skip
    ax.legend(loc="upper right", fontsize="small")
    save(fig, "reservation.png")

    fig, ax = plt.subplots(figsize=FIGSIZE)
    for column, label in (("tasks_desired", "desired"), ("tasks_running", "running"),
                          ("tasks_pending", "pending"), ("tasks_waiting", "waiting (unplaced)")):
        ax.plot(hours, timeline.series(column), label=label)
    ax.set(title="Tasks", xlabel="hours", ylabel="tasks")
    ax.legend(loc="upper left", fontsize="small")
    save(fig, "tasks.png")

    fig, ax = plt.subplots(figsize=FIGSIZE)
    ax.plot(hours, timeline.series("cost_per_hour"), label="USD per hour")
    ax.set(title="Cost", xlabel="hours", ylabel="USD per hour")
    twin = ax.twinx()
    twin.plot(hours, timeline.series("cost"), color="grey", ls=":", label="USD so far")
    twin.set_ylabel("USD so far")
    ax.legend(loc="upper left", fontsize="small")
    twin.legend(loc="lower right", fontsize="small")
    save(fig, "cost.png")
    return written


def _ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()

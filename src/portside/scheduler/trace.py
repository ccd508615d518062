"""Why each task went where it went, or why it went nowhere (after Nomad's explanations).

Every decision records, per task of the batch: the instance chosen (or the
ECS reason it could not be placed, with the closest matching instance), how
many instances each filter rejected and for what reason, and the scores that
chose. A small batch is traced in full: every rejected instance with its
reason, every candidate with each strategy's key. A large batch (the engine's
``trace="summary"``) keeps the per-request rejection counts, the instances the
search actually looked at, and the chosen instance's scores, so tracing costs
no more than placing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from portside.scheduler.model import (
    AGENT,
    ATTRIBUTE,
    CPU,
    DISTINCT_INSTANCE,
    ENI,
    GPU,
    MEMBER_OF,
    MEMORY,
    MISSING,
    PORTS,
)


@dataclass(frozen=True, slots=True)
class Rejection:
    instance_arn: str
    reason: str


@dataclass(frozen=True, slots=True)
class Score:
    """One instance's key per strategy (lower preferred), in strategy order."""

    instance_arn: str
    keys: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Decision:
    task_index: int
    instance_arn: str | None
    reason: str | None = None
    """ECS's reason when the task was not placed (the closest instance's reason)."""
    closest: Rejection | None = None
    rejected: tuple[tuple[str, int], ...] = ()
    """Instances rejected, counted per reason."""
    rejections: tuple[Rejection, ...] = ()
    """Every rejected instance (full traces, and every failure)."""
    scores: tuple[Score, ...] = ()
    """Every candidate's scores (full traces) or the chosen instance's (summaries)."""
    buckets: tuple[tuple[str, int], ...] = ()
    """Spread groups considered, best first: ``attribute=value`` and its task count."""
    examined: int = 0
    complete: bool = True
    """False for summaries: ``rejected`` then counts only the instances examined."""


@dataclass(frozen=True, slots=True)
class Trace:
    seed: int | str
    strategies: tuple[tuple[str, ...], ...]
    """The strategies applied per distinct request, as labels."""
    decisions: tuple[Decision, ...]

    def decision(self, task_index: int) -> Decision:
        return self.decisions[task_index]

    def explain(self, task_index: int) -> str:
        """The decision for one task, in words (what ``portside explain`` prints)."""
        d = self.decisions[task_index]
        lines: list[str] = []
        if d.instance_arn is not None:
            lines.append(f"task {task_index}: placed on {d.instance_arn}")
        else:
            lines.append(f"task {task_index}: not placed ({d.reason})")
            if d.closest is not None:
                lines.append("  " + closest_sentence(d.closest))
        if d.rejected:
            counts = ", ".join(f"{reason} {n}" for reason, n in d.rejected)
            scope = "" if d.complete else f" (summary; {d.examined} examined for this task)"
            lines.append(f"  rejected{scope}: {counts}")
        for name, count in d.buckets:
            lines.append(f"  spread {name}: {count} tasks of the group")
        for s in d.scores[:5]:
            keys = ", ".join(f"{label}={value}" for label, value in s.keys)
            lines.append(f"  score {s.instance_arn}: {keys}")
        return "\n".join(lines)


_PHRASES: Mapping[str, str] = {
    CPU: "has insufficient CPU units available",
    MEMORY: "has insufficient memory available",
    PORTS: "is already using a port required by your task",
    GPU: "has insufficient GPU available",
    ENI: "has no elastic network interface (awsvpc) slot available",
    ATTRIBUTE: "is missing an attribute required by your task",
    AGENT: 'encountered error "AGENT" (its agent is not connected)',
    DISTINCT_INSTANCE: "already runs a task of this group (distinctInstance)",
    MEMBER_OF: "does not satisfy the memberOf placement constraint",
    MISSING: "is missing",
}


def closest_sentence(closest: Rejection) -> str:
    """ECS's service-event wording for the closest matching instance."""
    ident = closest.instance_arn.rsplit("/", 1)[-1]
    phrase = _PHRASES.get(closest.reason, f"was rejected ({closest.reason})")
    return f"The closest matching container-instance {ident} {phrase}."


def unplaced_event(service_name: str, closest: Rejection | None) -> str:
    """The service event ECS writes when a task cannot be placed."""
    head = (
        f"service {service_name} was unable to place a task because no container instance "
        "met all of its requirements."
    )
    if closest is None:
        return head
    return f"{head} {closest_sentence(closest)}"

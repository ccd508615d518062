"""Container ordering (``dependsOn``) as pure functions, apart from any runtime.

ECS's conditions, checked against what the agent knows of the dependency:

    START     the dependency is RUNNING
    COMPLETE  the dependency ran and exited (any exit code)
    SUCCESS   the dependency exited with code 0
    HEALTHY   the dependency's health check reports HEALTHY

A condition is *met*, *waiting*, or *impossible* (it can never be met: the
dependency stopped without the required outcome, never started, or outlived
its ``startTimeout``). A container starts when every condition is met; when
one is impossible the container never starts, and the task stops if that
container is essential. Shutdown runs the other way: a container stops only
after every container that depends on it has stopped (amazon-ecs-agent's
``verifyShutdownOrder``), so :func:`stop_waves` lists dependents first.

Examples (``web`` depends on ``init`` SUCCESS and ``db`` HEALTHY)::

    init exited 0, db RUNNING+HEALTHY   -> web may start
    init exited 1                       -> impossible: web never starts
    db RUNNING, health UNKNOWN          -> waiting
    stop_waves                          -> [["web"], ["db", "init"]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from portside.agent.payload import ContainerSpec, Dependency

# Known container states, in order.
NONE = "NONE"  # nothing created yet
PULLED = "PULLED"
CREATED = "CREATED"
RUNNING = "RUNNING"
STOPPED = "STOPPED"


class Resolution(Enum):
    MET = "met"
    WAITING = "waiting"
    IMPOSSIBLE = "impossible"


@dataclass(frozen=True, slots=True)
class ContainerView:
    """What a dependency check needs to know about one container."""

    status: str = NONE
    exit_code: int | None = None
    health: str = "UNKNOWN"
    has_health_check: bool = False
    ever_ran: bool = False
    started_at: float | None = None  # monotonic seconds
    start_timeout: float | None = None


def condition(dep: Dependency, target: ContainerView, now: float) -> Resolution:
    """Whether one ``dependsOn`` entry is met by the dependency's current state."""
    c = dep.condition
    if c == "START":
        if target.status == RUNNING:
            return Resolution.MET
        if target.status == STOPPED:
            return Resolution.IMPOSSIBLE
    elif c == "COMPLETE":
        if target.status == STOPPED:
            return Resolution.MET if target.ever_ran else Resolution.IMPOSSIBLE
    elif c == "SUCCESS":
        if target.status == STOPPED:
            ok = target.ever_ran and target.exit_code == 0
            return Resolution.MET if ok else Resolution.IMPOSSIBLE
    elif c == "HEALTHY":
        if not target.has_health_check:
            return Resolution.IMPOSSIBLE
        if target.status == RUNNING and target.health == "HEALTHY":
            return Resolution.MET
        if target.status == STOPPED:
            return Resolution.IMPOSSIBLE
    else:
        return Resolution.IMPOSSIBLE
    if _timed_out(target, now):
        return Resolution.IMPOSSIBLE
    return Resolution.WAITING


def _timed_out(target: ContainerView, now: float) -> bool:
    """ECS gives up on a dependency that has not resolved ``startTimeout`` seconds after it started."""
    if target.start_timeout is None or target.start_timeout <= 0 or target.started_at is None:
        return False
    return now - target.started_at >= target.start_timeout


@dataclass(frozen=True, slots=True)
class Verdict:
    resolution: Resolution
    reason: str = ""


def can_start(
    container: ContainerSpec, views: Mapping[str, ContainerView], now: float
) -> Verdict:
    """Whether ``container`` may start now, must wait, or can never start (with why)."""
    waiting = ""
    for dep in container.depends_on:
        target = views.get(dep.container_name)
        if target is None:
            return Verdict(
                Resolution.IMPOSSIBLE,
                f"dependency {dep.container_name!r} is not a container of this task",
            )
        r = condition(dep, target, now)
        if r is Resolution.IMPOSSIBLE:
            return Verdict(r, _impossible_reason(dep, target))
        if r is Resolution.WAITING and not waiting:
            waiting = f"waiting for {dep.container_name!r} to reach {dep.condition}"
    if waiting:
        return Verdict(Resolution.WAITING, waiting)
    return Verdict(Resolution.MET)


def _impossible_reason(dep: Dependency, target: ContainerView) -> str:
    name, cond = dep.container_name, dep.condition
    if cond == "HEALTHY" and not target.has_health_check:
        return f"dependency {name!r} has no health check, so it can never be HEALTHY"
    if target.status == STOPPED and not target.ever_ran:
        return f"dependency {name!r} never started"
    if cond == "SUCCESS" and target.status == STOPPED:
        return f"dependency {name!r} exited with code {target.exit_code}, not 0 (condition SUCCESS)"
    if target.status == STOPPED:
        return f"dependency {name!r} stopped before reaching {cond}"
    if cond not in ("START", "COMPLETE", "SUCCESS", "HEALTHY"):
        return f"unknown dependency condition {cond!r}"
    return f"dependency {name!r} did not reach {cond} within its startTimeout"


def cycle(containers: Sequence[ContainerSpec]) -> list[str] | None:
    """The names on a dependency cycle, or None when the graph is acyclic."""
    edges = {c.name: [d.container_name for d in c.depends_on] for c in containers}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for nxt in edges.get(name, ()):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :]
            if nxt in edges and state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[name] = 2
        return None

    for name in edges:
        if state.get(name) is None:
            found = visit(name)
            if found:
                return found
    return None


def stop_waves(containers: Sequence[ContainerSpec]) -> list[list[str]]:
    """Containers grouped so each group stops after every container that depends on it.

    The first wave holds containers nothing depends on; a container appears once
    all its dependents are in earlier waves. Names keep task-definition order
    inside a wave. A cycle (which ECS refuses at registration) ends in one last
    wave holding whatever is left.
    """
    names = [c.name for c in containers]
    dependents: dict[str, set[str]] = {n: set() for n in names}
    for c in containers:
        for d in c.depends_on:
            if d.container_name in dependents:
                dependents[d.container_name].add(c.name)
    done: set[str] = set()
    waves: list[list[str]] = []
    while len(done) < len(names):
        wave = [n for n in names if n not in done and dependents[n] <= done]
        if not wave:
            wave = [n for n in names if n not in done]
        waves.append(wave)
        done.update(wave)
    return waves

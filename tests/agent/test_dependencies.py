"""dependsOn as pure functions: conditions, verdicts, cycles and shutdown order."""

from __future__ import annotations

import pytest

from portside.agent.dependencies import (
    CREATED,
    NONE,
    RUNNING,
    STOPPED,
    ContainerView,
    Resolution,
    can_start,
    condition,
    cycle,
    stop_waves,
)
from portside.agent.payload import ContainerSpec, Dependency

MET, WAITING, IMPOSSIBLE = Resolution.MET, Resolution.WAITING, Resolution.IMPOSSIBLE


def dep(name: str, cond: str) -> Dependency:
    return Dependency(name, cond)


@pytest.mark.parametrize(
    ("cond", "view", "expected"),
    [
        # START: the dependency is running now
        ("START", ContainerView(NONE), WAITING),
        ("START", ContainerView(CREATED), WAITING),
        ("START", ContainerView(RUNNING, ever_ran=True), MET),
        ("START", ContainerView(STOPPED, exit_code=0, ever_ran=True), IMPOSSIBLE),
        # COMPLETE: it ran and exited, whatever the code
        ("COMPLETE", ContainerView(RUNNING, ever_ran=True), WAITING),
        ("COMPLETE", ContainerView(STOPPED, exit_code=3, ever_ran=True), MET),
        ("COMPLETE", ContainerView(STOPPED), IMPOSSIBLE),  # never started
        # SUCCESS: exited 0
        ("SUCCESS", ContainerView(STOPPED, exit_code=0, ever_ran=True), MET),
        ("SUCCESS", ContainerView(STOPPED, exit_code=1, ever_ran=True), IMPOSSIBLE),
        ("SUCCESS", ContainerView(RUNNING, ever_ran=True), WAITING),
        # HEALTHY: needs a health check that passes
        ("HEALTHY", ContainerView(RUNNING, ever_ran=True, has_health_check=True), WAITING),
        ("HEALTHY", ContainerView(RUNNING, health="HEALTHY", has_health_check=True), MET),
        ("HEALTHY", ContainerView(RUNNING, health="UNHEALTHY", has_health_check=True), WAITING),
        ("HEALTHY", ContainerView(RUNNING, health="HEALTHY"), IMPOSSIBLE),  # no health check
        ("HEALTHY", ContainerView(STOPPED, ever_ran=True, has_health_check=True), IMPOSSIBLE),
        ("LATER", ContainerView(RUNNING), IMPOSSIBLE),
    ],
)
def test_conditions(cond: str, view: ContainerView, expected: Resolution) -> None:
    assert condition(dep("a", cond), view, now=0.0) is expected


def test_start_timeout_gives_up_on_a_dependency_that_started_long_ago() -> None:
    # a started at t=10 with startTimeout 5: at t=14 still waiting, at t=15 given up
    view = ContainerView(RUNNING, ever_ran=True, started_at=10.0, start_timeout=5.0)
    assert condition(dep("a", "SUCCESS"), view, now=14.0) is WAITING
    assert condition(dep("a", "SUCCESS"), view, now=15.0) is IMPOSSIBLE
    # without a startTimeout it waits forever
    forever = ContainerView(RUNNING, ever_ran=True, started_at=10.0)
    assert condition(dep("a", "SUCCESS"), forever, now=1e9) is WAITING


def test_can_start_needs_every_condition() -> None:
    web = ContainerSpec("web", depends_on=(dep("init", "SUCCESS"), dep("db", "HEALTHY")))
    views = {
        "init": ContainerView(STOPPED, exit_code=0, ever_ran=True),
        "db": ContainerView(RUNNING, ever_ran=True, has_health_check=True),
    }
    verdict = can_start(web, views, 0.0)
    assert verdict.resolution is WAITING
    assert "db" in verdict.reason and "HEALTHY" in verdict.reason

    views["db"] = ContainerView(RUNNING, health="HEALTHY", has_health_check=True, ever_ran=True)
    assert can_start(web, views, 0.0).resolution is MET

    views["init"] = ContainerView(STOPPED, exit_code=2, ever_ran=True)
    verdict = can_start(web, views, 0.0)
    assert verdict.resolution is IMPOSSIBLE
    assert verdict.reason == "dependency 'init' exited with code 2, not 0 (condition SUCCESS)"


def test_a_container_without_dependencies_may_start_at_once() -> None:
    assert can_start(ContainerSpec("solo"), {}, 0.0).resolution is MET


def test_an_unknown_dependency_is_impossible() -> None:
    verdict = can_start(ContainerSpec("web", depends_on=(dep("ghost", "START"),)), {}, 0.0)
    assert verdict.resolution is IMPOSSIBLE
    assert "ghost" in verdict.reason


def test_stop_waves_stop_dependents_first() -> None:
    containers = [
        ContainerSpec("db"),
        ContainerSpec("init"),
        ContainerSpec("web", depends_on=(dep("db", "HEALTHY"), dep("init", "SUCCESS"))),
        ContainerSpec("proxy", depends_on=(dep("web", "START"),)),
        ContainerSpec("logger"),
    ]
    assert stop_waves(containers) == [["proxy", "logger"], ["web"], ["db", "init"]]


def test_stop_waves_survive_a_cycle() -> None:
    a = ContainerSpec("a", depends_on=(dep("b", "START"),))
    b = ContainerSpec("b", depends_on=(dep("a", "START"),))
    c = ContainerSpec("c")
    assert stop_waves([a, b, c]) == [["c"], ["a", "b"]]
    assert sorted(cycle([a, b, c]) or []) == ["a", "b"]
    assert cycle([c, ContainerSpec("d", depends_on=(dep("c", "START"),))]) is None

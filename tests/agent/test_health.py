"""Health checks: Docker's state machine, ECS's task verdict, and the probe loop."""

from __future__ import annotations

import asyncio
import contextlib

from portside.agent.health import (
    HEALTHY,
    PROBE_TIMED_OUT,
    UNHEALTHY,
    UNKNOWN,
    HealthState,
    probe_loop,
    task_health,
)
from portside.agent.payload import HealthCheckSpec

SPEC = HealthCheckSpec(("CMD-SHELL", "true"), interval=5, timeout=2, retries=3, start_period=10)


def run(state: HealthState, results: list[tuple[int, float]]) -> list[str]:
    """Feed (exit code, seconds since start) results; the status after each."""
    out = []
    for code, at in results:
        state = state.observe(SPEC, code, "", at, now=1000 + at)
        out.append(state.status)
    return out


def test_failures_in_the_start_period_do_not_count() -> None:
    assert run(HealthState(), [(1, 5), (1, 9), (1, 15), (1, 20)]) == [UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN]


def test_retries_consecutive_failures_make_it_unhealthy() -> None:
    assert run(HealthState(), [(1, 15), (1, 20), (1, 25)]) == [UNKNOWN, UNKNOWN, UNHEALTHY]


def test_a_pass_makes_it_healthy_at_once_even_in_the_start_period() -> None:
    assert run(HealthState(), [(0, 5)]) == [HEALTHY]


def test_one_pass_resets_the_streak_and_recovers() -> None:
    states = run(HealthState(), [(0, 15), (1, 20), (1, 25), (0, 30), (1, 35), (1, 40), (1, 45)])
    assert states == [HEALTHY, HEALTHY, HEALTHY, HEALTHY, HEALTHY, HEALTHY, UNHEALTHY]


def test_status_since_moves_only_when_the_status_does() -> None:
    s = HealthState().observe(SPEC, 0, "ok", 15, now=100)
    s = s.observe(SPEC, 0, "ok", 20, now=105)
    assert (s.status, s.status_since, s.output) == (HEALTHY, 100, "ok")
    s = s.observe(SPEC, 7, "bad", 25, now=110)
    assert (s.status, s.status_since, s.failing_streak, s.exit_code) == (HEALTHY, 100, 1, 7)


def test_output_is_capped_like_dockers() -> None:
    s = HealthState().observe(SPEC, 0, "x" * 10_000, 1, now=1)
    assert len(s.output) == 4096


def test_task_health_priority_over_essential_containers_with_checks() -> None:
    # (essential, has check, status)
    assert task_health([]) == UNKNOWN
    assert task_health([(True, False, UNKNOWN)]) == UNKNOWN  # no checks at all
    assert task_health([(True, True, HEALTHY), (True, False, UNKNOWN)]) == HEALTHY
    assert task_health([(True, True, HEALTHY), (True, True, UNKNOWN)]) == UNKNOWN
    assert task_health([(True, True, UNKNOWN), (True, True, UNHEALTHY)]) == UNHEALTHY
    assert task_health([(True, True, HEALTHY), (False, True, UNHEALTHY)]) == HEALTHY


def test_probe_loop_emits_changes_only() -> None:
    codes = iter([1, 0, 0, 1, 1, 1, 0])
    seen: list[str] = []
    clock = [0.0]

    async def sleep(seconds: float) -> None:
        clock[0] += seconds
        await asyncio.sleep(0)

    async def probe(argv: tuple[str, ...], timeout: float) -> tuple[int, str]:
        assert argv == ("/bin/sh", "-c", "true")
        try:
            return next(codes), ""
        except StopIteration:
            raise asyncio.CancelledError from None

    spec = HealthCheckSpec(("CMD-SHELL", "true"), interval=5, retries=3, start_period=0)

    async def main() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await probe_loop(spec, probe, lambda s: seen.append(s.status), started=0.0,
                             sleep=sleep, monotonic=lambda: clock[0], wall=lambda: clock[0])

    asyncio.run(main())
    assert seen == [HEALTHY, UNHEALTHY, HEALTHY]


def test_a_probe_that_hangs_is_a_failure() -> None:
    seen: list[HealthState] = []

    async def probe(argv: tuple[str, ...], timeout: float) -> tuple[int, str]:
        await asyncio.sleep(10)
        return 0, ""

    spec = HealthCheckSpec(("CMD", "x"), interval=0.01, timeout=0.05, retries=1)

    async def main() -> None:
        task = asyncio.create_task(probe_loop(spec, probe, seen.append))
        while not seen:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(main())
    assert seen[0].status == UNHEALTHY and seen[0].exit_code == PROBE_TIMED_OUT
    assert "exceeded timeout" in seen[0].output

"""The virtual clock: jumps to the next deadline, runs simultaneous work in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portside.sim.clock import FakeClock

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_clock_jumps_to_each_deadline_and_runs_work_in_order() -> None:
    clock = FakeClock(T0)
    seen: list[tuple[float, str]] = []

    def note(name: str) -> None:
        seen.append((clock.elapsed.total_seconds(), name))

    clock.call_later(timedelta(hours=2), lambda: note("late"))
    clock.call_later(timedelta(seconds=30), lambda: note("a"))
    clock.call_later(timedelta(seconds=30), lambda: note("b"))

    def chain() -> None:
        note("chain")
        clock.call_later(timedelta(0), lambda: note("same instant"))

    clock.call_later(timedelta(seconds=30), chain)
    instants: list[float] = []
    clock.run(T0 + timedelta(hours=1), after_instant=lambda: instants.append(clock.elapsed.total_seconds()))
    assert seen == [(30, "a"), (30, "b"), (30, "chain"), (30, "same instant")]
    assert instants == [30.0]
    assert clock.now() == T0 + timedelta(hours=1)
    assert clock.next_deadline() == T0 + timedelta(hours=2)


def test_work_scheduled_in_the_past_runs_now() -> None:
    clock = FakeClock(T0)
    clock.run(T0 + timedelta(minutes=5))
    ran: list[datetime] = []
    clock.call_at(T0, lambda: ran.append(clock.now()))
    clock.run(T0 + timedelta(minutes=6))
    assert ran == [T0 + timedelta(minutes=5)]

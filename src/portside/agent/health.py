"""Container health checks: the state machine, the task's verdict, and a probe loop.

ECS hands a container's ``healthCheck`` to Docker, so its semantics are
Docker's (and the Docker driver lets the engine run the probes):

- a probe runs every ``interval`` seconds, the first one ``interval`` after the
  container starts; a probe that exits 0 passes, any other exit code — or no
  exit within ``timeout`` — fails;
- during ``startPeriod`` a failure is not counted, but a pass makes the
  container HEALTHY at once;
- ``retries`` consecutive counted failures make it UNHEALTHY; one pass makes it
  HEALTHY again;
- until the first verdict the status is UNKNOWN.

:func:`task_health` is ECS's rule for the task, over the essential containers
that have a health check (non-essential ones never count), in priority order:
any UNHEALTHY -> UNHEALTHY, else any UNKNOWN -> UNKNOWN, else HEALTHY; with no
such container the task is UNKNOWN.

:func:`probe_loop` runs the probes for drivers that have no engine to do it
(the process driver), feeding each result to :meth:`HealthState.observe`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace

from portside.agent.payload import HealthCheckSpec

HEALTHY = "HEALTHY"
UNHEALTHY = "UNHEALTHY"
UNKNOWN = "UNKNOWN"

OUTPUT_LIMIT = 4096
"""Bytes of probe output kept (Docker keeps 4 KiB)."""


@dataclass(frozen=True, slots=True)
class HealthState:
    status: str = UNKNOWN
    failing_streak: int = 0
    status_since: float | None = None  # wall-clock seconds
    exit_code: int | None = None
    output: str = ""

    def observe(
        self, spec: HealthCheckSpec, exit_code: int, output: str, since_start: float, now: float
    ) -> HealthState:
        """The state after one probe that exited ``exit_code`` ``since_start`` s after start."""
        output = output[-OUTPUT_LIMIT:]
        if exit_code == 0:
            return self._moved(HEALTHY, 0, exit_code, output, now)
        if since_start < spec.start_period:
            return replace(self, exit_code=exit_code, output=output)
        streak = self.failing_streak + 1
        status = UNHEALTHY if streak >= spec.retries else self.status
        return self._moved(status, streak, exit_code, output, now)

    def _moved(self, status: str, streak: int, code: int, output: str, now: float) -> HealthState:
        since = self.status_since if status == self.status and self.status_since else now
        return HealthState(status, streak, since, code, output)


def task_health(containers: Iterable[tuple[bool, bool, str]]) -> str:
    """The task's health from (essential, has_health_check, status) per container."""
    statuses = [status for essential, checked, status in containers if essential and checked]
    if not statuses:
        return UNKNOWN
    if UNHEALTHY in statuses:
        return UNHEALTHY
    if UNKNOWN in statuses:
        return UNKNOWN
    return HEALTHY


Probe = Callable[[tuple[str, ...], float], Awaitable[tuple[int, str]]]
"""Run argv with a timeout in seconds; return (exit code, output)."""

PROBE_TIMED_OUT = -1


async def probe_loop(
    spec: HealthCheckSpec,
    probe: Probe,
    emit: Callable[[HealthState], None],
    *,
    started: float | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
) -> None:
    """Probe forever (until cancelled), calling ``emit`` whenever the status changes."""
    state = HealthState()
    started = monotonic() if started is None else started
    while True:
        await sleep(spec.interval)
        try:
            code, output = await asyncio.wait_for(probe(spec.argv, spec.timeout), spec.timeout + 1)
        except TimeoutError:
            code, output = PROBE_TIMED_OUT, f"Health check exceeded timeout ({spec.timeout:g}s)"
        except OSError as exc:
            code, output = 127, f"cannot run the health check: {exc}"
        new = state.observe(spec, code, output, monotonic() - started, wall())
        if new.status != state.status:
            emit(new)
        state = new

"""The simulator's clock: virtual time that jumps ahead whenever nothing is left to do now.

After trio's ``MockClock`` with ``autojump_threshold=0``: nothing sleeps. Work
is scheduled at instants (an instance finishing its boot, a task reaching
RUNNING, the minute's metric, a scenario event); :meth:`FakeClock.run` takes
the earliest instant, sets the time to it, runs everything due then — work
scheduled *for* that instant while running it included — and jumps to the next.
Simultaneous work runs in the order it was scheduled, so a run is a pure
function of its inputs.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta

Callback = Callable[[], None]


class FakeClock:
    def __init__(self, start: datetime):
        self.start = start
        self._now = start
        self._queue: list[tuple[datetime, int, Callback]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._now

    @property
    def elapsed(self) -> timedelta:
        return self._now - self.start

    def call_at(self, at: datetime, fn: Callback) -> None:
        """Run ``fn`` at ``at`` (or now, if ``at`` has passed)."""
        heapq.heappush(self._queue, (max(at, self._now), next(self._seq), fn))

    def call_later(self, delay: timedelta, fn: Callback) -> None:
        self.call_at(self._now + delay, fn)

    def next_deadline(self) -> datetime | None:
        return self._queue[0][0] if self._queue else None

    def run(self, until: datetime, after_instant: Callback | None = None) -> None:
        """Run everything scheduled up to ``until``; ``after_instant`` once each instant is done."""
        while self._queue and self._queue[0][0] <= until:
            at = self._queue[0][0]
            self._now = at
            while self._queue and self._queue[0][0] <= at:
                _, _, fn = heapq.heappop(self._queue)
                fn()
            if after_instant is not None:
                after_instant()
        self._now = max(self._now, until)

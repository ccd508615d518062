"""Idle timeout for one connection: closes it after ``seconds`` with no bytes either way.

The hot path only stores the loop time in :meth:`IdleTimer.touch`; a single
``call_later`` handle per connection re-arms itself for the remaining time when
it fires early, so no timer is rescheduled per read or write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class IdleTimer:
    __slots__ = ("_handle", "_loop", "_on_idle", "last", "seconds")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, seconds: float, on_idle: Callable[[], None]
    ) -> None:
        self._loop = loop
        self.seconds = seconds
        self._on_idle = on_idle
        self.last = loop.time()
        self._handle: asyncio.TimerHandle | None = None
        if seconds > 0:
            self._handle = loop.call_later(seconds, self._fire)

    def touch(self) -> None:
        self.last = self._loop.time()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        left = self.seconds - (self._loop.time() - self.last)
        if left > 0:
            self._handle = self._loop.call_later(left, self._fire)
        else:
            self._handle = None
            self._on_idle()

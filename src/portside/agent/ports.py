"""Dynamic host ports from the ephemeral range, for drivers that publish no ports themselves.

ECS gives a bridge-mode port mapping with no hostPort (or 0) a host port from
the ephemeral range, 32768-60999 on Linux. The allocator picks a random port
in the range that this agent has not handed out and that is free right now (a
test bind on all addresses), so several agents on one machine rarely meet and
never meet twice on a port that is in use.
"""

from __future__ import annotations

import random
import socket

EPHEMERAL_RANGE = (32768, 60999)


class PortsExhausted(RuntimeError):
    """No free port left in the range."""


class PortAllocator:
    def __init__(
        self, low: int = EPHEMERAL_RANGE[0], high: int = EPHEMERAL_RANGE[1], seed: int | None = None
    ) -> None:
        self.low, self.high = low, high
        self._taken: set[tuple[int, str]] = set()
        self._rng = random.Random(seed)

    def allocate(self, protocol: str = "tcp", attempts: int = 200) -> int:
        for _ in range(attempts):
            port = self._rng.randint(self.low, self.high)
            if (port, protocol) in self._taken or not is_free(port, protocol):
                continue
            self._taken.add((port, protocol))
            return port
        raise PortsExhausted(f"no free {protocol} port in {self.low}-{self.high}")

    def claim(self, port: int, protocol: str = "tcp") -> None:
        """Mark a port as ours (one an adopted task already uses)."""
        self._taken.add((port, protocol))

    def reclaim(self, port: int, protocol: str = "tcp") -> bool:
        """Take back a port this agent had before it restarted, if nobody holds it now.

        Checked as the listener will bind it (address reuse): connections of its
        earlier listener may linger in TIME_WAIT, which only a reusing bind ignores."""
        if (port, protocol) in self._taken or not is_free(port, protocol, reuse=True):
            return False
        self._taken.add((port, protocol))
        return True

    def release(self, port: int, protocol: str = "tcp") -> None:
        self._taken.discard((port, protocol))

    def taken(self) -> set[tuple[int, str]]:
        return set(self._taken)


def is_free(port: int, protocol: str = "tcp", reuse: bool = False) -> bool:
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        if reuse:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True

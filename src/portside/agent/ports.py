"""Dynamic host ports from the ephemeral range, for drivers that publish no ports themselves.

ECS gives a bridge-mode port mapping with no hostPort (or 0) a host port from
the ephemeral range, 32768-60999 on Linux, or from ``ECS_DYNAMIC_HOST_PORT_RANGE``
(``LOW-HIGH``) when the agent's environment sets it, as the ECS agent reads it.
The allocator picks a random port in the range that this agent has not handed
out and that is free right now (a test bind on all addresses), so several
agents on one machine rarely meet and never meet twice on a port that is in
use. The port is bound by the application a moment later: a range outside the
kernel's ephemeral one keeps a socket bound to port 0 meanwhile from taking it.
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Mapping

EPHEMERAL_RANGE = (32768, 60999)
RANGE_VARIABLE = "ECS_DYNAMIC_HOST_PORT_RANGE"


def dynamic_range(environ: Mapping[str, str] = os.environ) -> tuple[int, int]:
    """The range dynamic host ports come from: ``ECS_DYNAMIC_HOST_PORT_RANGE``, else the
    ephemeral range. ValueError, saying how to write it, when it is malformed."""
    raw = environ.get(RANGE_VARIABLE, "").strip()
    if not raw:
        return EPHEMERAL_RANGE
    low, _, high = raw.partition("-")
    if not (low.strip().isdigit() and high.strip().isdigit()
            and 1 <= int(low) <= int(high) <= 65535):  # fmt: skip
        raise ValueError(
            f"{RANGE_VARIABLE}={raw!r} is not a port range: give LOW-HIGH with "
            "1 <= LOW <= HIGH <= 65535, e.g. 32768-60999"
        )
    return int(low), int(high)


class PortsExhausted(RuntimeError):
    """No free port left in the range."""


class PortAllocator:
    def __init__(
        self, low: int | None = None, high: int | None = None, seed: int | None = None
    ) -> None:
        default = dynamic_range() if low is None or high is None else (low, high)
        self.low, self.high = default
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

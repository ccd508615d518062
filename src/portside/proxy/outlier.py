"""Outlier detection: Envoy's consecutive-5xx detector, with the clock passed in.

Problem: an endpoint that keeps failing should stop receiving traffic for a while,
without a health checker and without one bad minute evicting half the fleet.

Design (Envoy's documented algorithm):
- Each host counts consecutive failures (a 5xx response, a connection failure,
  a reset or a timeout); any other response resets the count.
- At ``consecutive_failures`` the host is ejected for ``base_ejection_seconds x
  n`` where n is its ejection multiplier (incremented at each ejection), capped at
  ``max(max_ejection_seconds, base_ejection_seconds)``. A host that stays un-ejected
  for ``interval_seconds`` has its multiplier decremented once per interval.
- An ejection is allowed while no host is ejected, or while the ejected share
  including this one stays within ``max_ejection_percent`` — so at least one host
  can always be ejected, at most 10 % by default.
- Un-ejection happens exactly when the time is up (Envoy does it on its next
  interval sweep, up to 10 s later) and resets the failure count.

:func:`record` is a pure transition on :class:`HostState`; :class:`OutlierDetector`
holds one state per host of an upstream and knows the ejected share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from portside.proxy.config import OutlierPolicy


@dataclass(frozen=True, slots=True)
class HostState:
    failures: int = 0  # consecutive
    multiplier: int = 0  # ejections not yet decayed
    ejected_until: float | None = None
    calm_since: float | None = None  # when the multiplier last decayed or the host came back

    def ejected(self, now: float) -> bool:
        return self.ejected_until is not None and now < self.ejected_until


def ejection_seconds(policy: OutlierPolicy, multiplier: int) -> float:
    """``base x multiplier``, capped. >>> 30 s, 60 s, 90 s, … 300 s with the defaults."""
    cap = max(policy.max_ejection_seconds, policy.base_ejection_seconds)
    return float(min(policy.base_ejection_seconds * multiplier, cap))


def decayed(state: HostState, policy: OutlierPolicy, now: float) -> HostState:
    """Bring a host up to ``now``: end an expired ejection and decay its multiplier."""
    if state.ejected(now):
        return state
    if state.ejected_until is not None:  # the ejection just ended
        state = replace(state, ejected_until=None, failures=0, calm_since=state.ejected_until)
    if state.multiplier and state.calm_since is not None and policy.interval_seconds > 0:
        steps = math.floor((now - state.calm_since) / policy.interval_seconds)
        if steps > 0:
            state = replace(
                state,
                multiplier=max(0, state.multiplier - steps),
                calm_since=state.calm_since + steps * policy.interval_seconds,
            )
    return state


def may_eject(policy: OutlierPolicy, ejected: int, hosts: int) -> bool:
    """One more ejection keeps within ``max_ejection_percent`` (or none is ejected yet)."""
    if ejected == 0:
        return True
    return 100.0 * (ejected + 1) / hosts <= policy.max_ejection_percent


def record(
    state: HostState, ok: bool, now: float, policy: OutlierPolicy, *, allowed: bool
) -> HostState:
    """The state after one request outcome; ``allowed`` says whether an ejection may happen."""
    state = decayed(state, policy, now)
    if ok:
        return replace(state, failures=0) if state.failures else state
    if state.ejected(now):
        return state  # in-flight requests finishing after the ejection
    failures = state.failures + 1
    if not policy.enabled or failures < policy.consecutive_failures or not allowed:
        return replace(state, failures=failures)
    multiplier = state.multiplier + 1
    return HostState(
        failures=0,
        multiplier=multiplier,
        ejected_until=now + ejection_seconds(policy, multiplier),
        calm_since=None,
    )


class OutlierDetector:
    """Per-host states of one upstream."""

    def __init__(self, policy: OutlierPolicy) -> None:
        self.policy = policy
        self._hosts: dict[str, HostState] = {}
        self.ejections_total = 0
        self.ejections: dict[str, int] = {}  # per host, since it joined the upstream
        self._last_end = float("-inf")  # no host is ejected at or after this time

    def any_ejected(self, now: float) -> bool:
        """Cheap check for the hot path: False means no host is ejected at ``now``."""
        return now < self._last_end

    def ejected(self, now: float) -> set[str]:
        return {key for key, s in self._hosts.items() if s.ejected(now)}

    def is_ejected(self, key: str, now: float) -> bool:
        state = self._hosts.get(key)
        return state is not None and state.ejected(now)

    def state(self, key: str) -> HostState:
        return self._hosts.get(key, HostState())

    def success(self, key: str, now: float) -> None:
        state = self._hosts.get(key)
        if state is not None and (
            state.failures or state.ejected_until is not None or state.multiplier
        ):
            self._hosts[key] = record(state, True, now, self.policy, allowed=False)

    def failure(self, key: str, now: float, hosts: int) -> bool:
        """Record a failure; True when it ejected the host."""
        before = self._hosts.get(key, HostState())
        allowed = may_eject(self.policy, len(self.ejected(now)), max(hosts, 1))
        after = record(before, False, now, self.policy, allowed=allowed)
        self._hosts[key] = after
        newly = after.ejected(now) and not before.ejected(now)
        if newly:
            self.ejections_total += 1
            self.ejections[key] = self.ejections.get(key, 0) + 1
            self._last_end = max(self._last_end, after.ejected_until or 0.0)
        return newly

    def retain(self, keys: set[str]) -> None:
        """Forget hosts that left the endpoint set."""
        for key in list(self._hosts):
            if key not in keys:
                del self._hosts[key]
        for key in list(self.ejections):
            if key not in keys:
                del self.ejections[key]

    def reconfigure(self, policy: OutlierPolicy) -> None:
        self.policy = policy

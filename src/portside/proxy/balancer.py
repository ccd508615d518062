"""Load balancing over an upstream's endpoints.

Candidates first (:func:`candidates`): healthy, not ejected, not tried by this
request. When that leaves nothing the filter relaxes step by step — forget what
was tried, then ignore ejections, then health (Envoy's "panic" mode) — so a
request is only refused when the upstream has no endpoint at all.

Then a policy picks one:
- :class:`RoundRobin` cycles through the candidates;
- :class:`LeastRequest` is Envoy's power-of-two-choices: two random candidates,
  the one with fewer active requests wins (ties go to the first drawn).
"""

from __future__ import annotations

import random
from collections.abc import Container, Mapping, Sequence
from typing import Protocol

from portside.proxy.config import Balancing, Endpoint, Health


def candidates(
    endpoints: Sequence[Endpoint], ejected: Container[str], tried: Container[str]
) -> Sequence[Endpoint]:
    healthy = [e for e in endpoints if e.health is not Health.UNHEALTHY]
    usable = [e for e in healthy if e.key not in ejected]
    fresh = [e for e in usable if e.key not in tried]
    return fresh or usable or healthy or endpoints


class Policy(Protocol):
    def choose(self, endpoints: Sequence[Endpoint], active: Mapping[str, int]) -> Endpoint:
        """Pick one of ``endpoints`` (non-empty); ``active`` counts in-flight requests by key."""
        ...


class RoundRobin:
    def __init__(self) -> None:
        self._next = 0

    def choose(self, endpoints: Sequence[Endpoint], active: Mapping[str, int]) -> Endpoint:
        endpoint = endpoints[self._next % len(endpoints)]
        self._next += 1
        return endpoint


class LeastRequest:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def choose(self, endpoints: Sequence[Endpoint], active: Mapping[str, int]) -> Endpoint:
        if len(endpoints) == 1:
            return endpoints[0]
        a, b = self._rng.sample(range(len(endpoints)), 2)
        first, second = endpoints[a], endpoints[b]
        return second if active.get(second.key, 0) < active.get(first.key, 0) else first


def make_policy(kind: Balancing, rng: random.Random) -> Policy:
    if kind is Balancing.LEAST_REQUEST:
        return LeastRequest(rng)
    return RoundRobin()

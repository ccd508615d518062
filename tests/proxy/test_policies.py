"""Pure policies: outlier detection on a given clock, retry back-off, balancing."""

from __future__ import annotations

import random
from collections import Counter

from portside.proxy.balancer import LeastRequest, RoundRobin, candidates
from portside.proxy.config import Endpoint, Health, OutlierPolicy, RetryPolicy
from portside.proxy.outlier import HostState, OutlierDetector, ejection_seconds, may_eject, record
from portside.proxy.retry import backoff, retryable_error, retryable_status
from portside.proxy.types import ConnectFailure, UpstreamReset, UpstreamTimeout

ENVOY = OutlierPolicy()


def test_five_consecutive_failures_eject_for_thirty_seconds() -> None:
    d = OutlierDetector(ENVOY)
    for _ in range(4):
        assert not d.failure("a", 100.0, hosts=10)
    assert d.failure("a", 100.0, hosts=10)
    assert d.is_ejected("a", 129.9) and not d.is_ejected("a", 130.0)


def test_a_success_resets_the_count() -> None:
    d = OutlierDetector(ENVOY)
    for _ in range(4):
        d.failure("a", 0.0, hosts=10)
    d.success("a", 0.0)
    for _ in range(4):
        assert not d.failure("a", 0.0, hosts=10)


def test_ejection_time_grows_with_each_ejection_and_is_capped() -> None:
    # 30 s x n, at most 300 s; a cap below the base means the base.
    assert [ejection_seconds(ENVOY, n) for n in (1, 2, 3, 10, 11)] == [30, 60, 90, 300, 300]
    assert ejection_seconds(OutlierPolicy(base_ejection_seconds=500), 1) == 500
    state, now = HostState(), 0.0
    ends = []
    for _ in range(3):
        for _ in range(5):
            state = record(state, False, now, ENVOY, allowed=True)
        assert state.ejected_until is not None
        ends.append(state.ejected_until - now)
        now = state.ejected_until  # fails again as soon as it is back
    assert ends == [30, 60, 90]


def test_multiplier_decays_one_step_per_calm_interval() -> None:
    state = HostState()
    for _ in range(5):
        state = record(state, False, 0.0, ENVOY, allowed=True)
    assert state.ejected_until == 30.0 and state.multiplier == 1
    # back at 30 s, healthy for two intervals (10 s each): multiplier 1 -> 0
    state = record(state, True, 51.0, ENVOY, allowed=True)
    assert state.multiplier == 0
    for _ in range(5):
        state = record(state, False, 51.0, ENVOY, allowed=True)
    assert state.ejected_until == 81.0  # 30 s again, not 60 s


def test_at_most_ten_percent_but_always_one() -> None:
    assert may_eject(ENVOY, ejected=0, hosts=3)  # 10 % of 3 is 0: one may still go
    assert not may_eject(ENVOY, ejected=1, hosts=3)
    assert may_eject(ENVOY, ejected=1, hosts=20)  # 2 of 20 = 10 %
    assert not may_eject(ENVOY, ejected=2, hosts=20)
    d = OutlierDetector(ENVOY)
    for key in ("a", "b"):
        for _ in range(5):
            d.failure(key, 0.0, hosts=3)
    assert d.ejected(1.0) == {"a"}


def test_disabled_detection_never_ejects() -> None:
    d = OutlierDetector(OutlierPolicy(enabled=False))
    assert not any(d.failure("a", 0.0, hosts=1) for _ in range(50))


def test_backoff_is_jittered_exponential_capped() -> None:
    p = RetryPolicy()
    assert backoff(p, 1, 0.0) == 0.0
    assert backoff(p, 1, 0.999) < 0.025  # [0, 1 x 25 ms)
    assert backoff(p, 2, 0.999) < 0.075  # [0, 3 x 25 ms)
    assert backoff(p, 3, 0.5) == 0.5 * 7 * 0.025
    assert backoff(p, 9, 0.999) == 0.999 * 0.25  # 511 x 25 ms capped at 250 ms


def test_what_is_retried() -> None:
    assert retryable_error(ConnectFailure(), idempotent=False)  # nothing was sent
    assert retryable_error(UpstreamReset(), idempotent=True)
    assert not retryable_error(UpstreamReset(), idempotent=False)
    assert not retryable_error(UpstreamTimeout(), idempotent=True)  # the timeout covers retries
    assert retryable_status(503, idempotent=True)
    assert not retryable_status(503, idempotent=False) and not retryable_status(500, True)


EPS = [Endpoint("10.0.0.1", 80), Endpoint("10.0.0.2", 80), Endpoint("10.0.0.3", 80)]


def test_candidates_relax_step_by_step() -> None:
    a, b, c = (e.key for e in EPS)
    assert [e.key for e in candidates(EPS, {b}, {a})] == [c]
    assert [e.key for e in candidates(EPS, {b}, {a, c})] == [a, c]  # all tried: tried again
    assert [e.key for e in candidates(EPS, {a, b, c}, set())] == [a, b, c]  # panic
    sick = [EPS[0], Endpoint("10.0.0.2", 80, Health.UNHEALTHY)]
    assert [e.key for e in candidates(sick, set(), set())] == [a]


def test_round_robin_is_even() -> None:
    rr = RoundRobin()
    picks = Counter(rr.choose(EPS, {}).key for _ in range(300))
    assert set(picks.values()) == {100}


def test_least_request_prefers_the_idle_endpoint() -> None:
    lr = LeastRequest(random.Random(7))
    active = {EPS[0].key: 10, EPS[1].key: 10, EPS[2].key: 0}
    picks = Counter(lr.choose(EPS, active).key for _ in range(300))
    # power of two choices: the idle host wins whenever it is drawn (2 of 3 pairs)
    assert 170 < picks[EPS[2].key] < 230

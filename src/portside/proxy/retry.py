"""Retry policy, pure: which failures are retried, and how long to wait before trying again.

Envoy's rules as Service Connect uses them:
- a connection that could not be opened is retried for any method (nothing was sent);
- a reset before the response head, and a 503 response, only for idempotent methods
  (GET, HEAD, OPTIONS, PUT, DELETE, TRACE);
- each retry goes to an endpoint not tried yet when there is one (the balancer is
  told which were tried);
- the wait before retry n (1-based) is uniform in ``[0, min((2^n - 1) x base, max))``
  (25 ms and 250 ms by default): fully jittered exponential back-off;
- the per-request timeout covers every attempt and every wait.
"""

from __future__ import annotations

from portside.proxy.config import RetryPolicy
from portside.proxy.types import ConnectFailure, ProxyError, UpstreamReset


def backoff(policy: RetryPolicy, retry: int, jitter: float) -> float:
    """Seconds to wait before retry number ``retry`` (1-based); ``jitter`` is uniform in [0, 1).

    >>> backoff(RetryPolicy(), 1, 0.5)   # 0.5 x (2^1 - 1) x 25 ms
    0.0125
    >>> backoff(RetryPolicy(), 5, 0.5)  # 0.5 x min(31 x 25 ms, 250 ms)
    0.125
    """
    ceiling = min((2**retry - 1) * policy.base_interval_seconds, policy.max_interval_seconds)
    return float(jitter * ceiling)


def retryable_error(error: ProxyError, idempotent: bool) -> bool:
    if isinstance(error, ConnectFailure):
        return True
    return idempotent and isinstance(error, UpstreamReset)


def retryable_status(status: int, idempotent: bool) -> bool:
    return idempotent and status == 503

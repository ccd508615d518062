"""The arithmetic of a rolling deployment, the circuit breaker and the start throttle.

Pure functions of counts and percentages, each with its table of examples, so
the rules can be read (and checked) without running a controller. The shape
follows Kubernetes' ``ResolveFenceposts``.
"""

from __future__ import annotations

from datetime import timedelta


def resolve_fenceposts(
    desired: int, minimum_healthy_percent: int, maximum_percent: int
) -> tuple[int, int]:
    """``(min_healthy, max_total)`` for a service of ``desired`` tasks.

    ``min_healthy`` is the number of healthy tasks that must remain while tasks
    are replaced: ``desired * minimumHealthyPercent / 100`` rounded *up*.
    ``max_total`` is the number of tasks that may exist (pending, running, or
    asked to stop but not yet stopped): ``desired * maximumPercent / 100``
    rounded *down*. When the two meet (both 100 %, say), nothing could ever be
    replaced, so one task may be unavailable — Kubernetes' rule, so that a
    rollout or a drain always makes progress::

        desired  min%  max%   min_healthy  max_total
           4      50   200        2            8     ECS's example: may stop 2 first
           4     100   200        4            8     start 4 new, then stop 4 old
           2      75   200        2            4     ceil(1.5) = 2: cannot stop first
           3      50   200        2            6     ceil(1.5) = 2
           3     100   150        3            4     floor(4.5) = 4
           5       0   100        0            5     stop first, then start
           3     100   100        2            3     both 100 %: one may be unavailable
           1     100   100        0            1     same rule
           0     100   200        0            0
    """
    if desired <= 0:
        return 0, 0
    min_healthy = -(-desired * minimum_healthy_percent // 100)
    max_total = desired * maximum_percent // 100
    if max_total <= min_healthy:
        min_healthy = max(max_total - 1, 0)
    return min_healthy, max_total


def failure_threshold(desired: int, kind: str = "BOUNDED_PERCENT", value: int = 50) -> int:
    """Failed tasks that trip the deployment circuit breaker.

    ECS's default (``BOUNDED_PERCENT`` 50): ``0.5 * desired count`` rounded up,
    at least 3 and at most 200. ``UNBOUNDED_PERCENT`` drops the bounds (but a
    threshold is at least 1); ``COUNT`` is the value itself::

        desired   kind               value   threshold
            1     BOUNDED_PERCENT      50        3      0.5 → at least 3
            6     BOUNDED_PERCENT      50        3
            7     BOUNDED_PERCENT      50        4      3.5 rounded up
           25     BOUNDED_PERCENT      50       13      12.5 rounded up
          400     BOUNDED_PERCENT      50      200
          800     BOUNDED_PERCENT      50      200      at most 200
            4     UNBOUNDED_PERCENT    25        1
          800     UNBOUNDED_PERCENT    50      400
           10     COUNT                 2        2
    """
    if kind == "COUNT":
        return max(value, 1)
    raw = -(-desired * value // 100)
    if kind == "UNBOUNDED_PERCENT":
        return max(raw, 1)
    return min(200, max(3, raw))


THROTTLE_AFTER = 3
"""Consecutive failures to start before the scheduler waits between launches."""

THROTTLE_FIRST = timedelta(seconds=15)
THROTTLE_MAX = timedelta(minutes=27)
"""ECS's documented ceiling on the delay between start attempts."""


def start_delay(consecutive_failures: int) -> timedelta:
    """How long to wait after the last failed start before launching again.

    ECS increases the time between attempts "incrementally … up to a maximum of
    27 minutes" and publishes no schedule; portside doubles from 15 s once
    :data:`THROTTLE_AFTER` tasks in a row have failed to start::

        failures   delay
           0-2       0
            3       15 s
            4       30 s
            5        1 min
            8        8 min
           10       27 min (the ceiling; 32 min otherwise)
    """
    if consecutive_failures < THROTTLE_AFTER:
        return timedelta(0)
    doublings = min(consecutive_failures - THROTTLE_AFTER, 20)
    return min(THROTTLE_FIRST * (1 << doublings), THROTTLE_MAX)

"""The scale-in rule's "consecutive": 15 one-minute datapoints below target in a row.

A minute at (or above) the target resets the count, as the target tracking
policy's low alarm does: its 15 datapoints must all breach.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from portside.controllers.capacity import CapacityDecision, decide
from portside.controllers.snapshot import MemorySnapshot
from tests.sim.world import CP, NOW, group, instance, service, task, world


def _decide(snap: MemorySnapshot, minute: int) -> CapacityDecision:
    """The decision at ``minute``, written back as the runtime would."""
    d = decide(snap, CP, NOW + timedelta(minutes=minute))
    for change in d.changes():
        snap.put(change)
    return d


def test_a_minute_at_target_restarts_the_15_minutes() -> None:
    svc = service(2)
    snap = world(group(4), svc, *[instance(n) for n in range(4)], task(0, svc=svc),
                 task(0, svc=svc))  # fmt: skip
    for minute in range(10):  # 10 minutes at 25 % (1 busy instance of 4)
        d = _decide(snap, minute)
        assert d.reservation == 25.0 and d.group is None
    # one minute at target: three more tasks make every instance busy
    others = [task(n) for n in (1, 2, 3)]
    for t in others:
        snap.put(t)
    d = _decide(snap, 10)
    assert d.reservation == 100.0 and d.group is None
    assert d.state is not None and d.state.below_target_since is None
    for t in others:
        snap.put(dataclasses.replace(t, last_status="STOPPED"))
    # below again from minute 11: 25 minutes below in all, but not 15 in a row until 26
    for minute in range(11, 26):
        d = _decide(snap, minute)
        assert d.reservation == 25.0
        assert d.group is None, f"scaled in at minute {minute}, {minute - 11} after the reset"
    d = _decide(snap, 26)
    assert d.group is not None and d.group.desired_capacity == 1
    assert [a.action for a in d.activities] == ["scale-in"]
    assert "below the target 100 % for 15 minutes" in d.activities[0].cause

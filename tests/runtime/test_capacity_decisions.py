"""Managed scaling's decisions stay visible: committed before shown, kept through launches.

The decision half of the live loop (runtime/capacity.py ``Scaling``) on a real
store with a stepped clock, and the launcher's notes (runtime/capacity_groups.py)
written into the same activity list. The world is the controller tests' one
(tests/sim/world.py): a cluster, a provider ``cp`` and its group ``asg``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import portside.runtime.capacity as live
from portside.controllers.capacity import decide_all, is_decision, trim
from portside.controllers.capacity_model import (
    MAX_ACTIVITIES,
    TERMINATING,
    GroupInstance,
    InstanceGroup,
    ScalingActivity,
    ScalingState,
)
from portside.domain.kinds import KINDS
from portside.runtime.capacity import Scaling
from portside.runtime.capacity_groups import Groups
from portside.store.store import ConflictError, Store, sqlite_url
from tests.sim.world import (
    ASG,
    CP,
    NOW,
    cluster,
    group,
    instance,
    provider,
    service,
    task,
    taskdef,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(sqlite_url(tmp_path), KINDS)
    yield s
    s.close()


def _put(store: Store, *things: Any) -> None:
    flat: list[Any] = []
    for t in things:
        flat.extend(t if isinstance(t, tuple) else (t,))
    store.commit([cluster(), taskdef(), *flat])


def _activities(store: Store) -> tuple[ScalingActivity, ...]:
    state = store.get(ScalingState.KIND, CP)
    return state.activities if isinstance(state, ScalingState) else ()


def test_a_decision_that_loses_its_commit_is_not_shown(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _put(store, provider(), group(0), service(3))  # three tasks wait, no instance: scale out

    def raced(*args: Any, **kwargs: Any) -> Any:
        decided = decide_all(*args, **kwargs)
        store.commit([taskdef()])  # another writer moves the store before the commit
        return decided

    scaling = Scaling(store)
    monkeypatch.setattr(live, "decide_all", raced)
    with pytest.raises(ConflictError):
        scaling.decide(NOW)
    assert scaling.last == {} and not scaling.actions  # the views show no discarded decision
    assert _activities(store) == ()

    monkeypatch.setattr(live, "decide_all", decide_all)  # the loop decides again, and commits
    assert scaling.decide(NOW) > 0
    [stored] = _activities(store)
    assert stored.action == "scale-out"
    assert scaling.last[CP].activities == (stored,)
    assert scaling.actions == {("cp", "scale-out"): 1}


def test_launches_do_not_push_out_the_decision_they_follow(store: Store) -> None:
    _put(store, provider(), group(0), service(3))
    Scaling(store).decide(NOW)
    g = store.get(InstanceGroup.KIND, ASG)
    assert isinstance(g, InstanceGroup) and g.desired_capacity == 2
    groups = Groups(store, {}, "http://127.0.0.1:4600", lambda: NOW, timedelta(minutes=1))
    for n in range(MAX_ACTIVITIES + 20):
        groups.note(g, "launch", f"Launched instance {n}.")
    kept = _activities(store)
    assert len(kept) == MAX_ACTIVITIES
    # the newest launches, and the one decision behind them, oldest last
    assert [a.action for a in kept] == ["launch"] * (MAX_ACTIVITIES - 1) + ["scale-out"]
    assert kept[0].cause == f"Launched instance {MAX_ACTIVITIES + 19}."


def _activity(action: str, n: int) -> ScalingActivity:
    return ScalingActivity(NOW - timedelta(seconds=n), action, 0, 0, "m", 0.0, 100, str(n))


@pytest.mark.parametrize(("decisions", "steps", "kept"), [
    (10, 95, (10, 90)),    # launches take the room decisions leave: 100 - 10 = 90
    (40, 120, (40, 60)),   # ... but never more than that
    (120, 30, (70, 30)),   # decisions take the room launches leave: 100 - 30 = 70
    (120, 120, (50, 50)),  # both over: launches keep MAX_ACTIVITIES // 2 = 50
    (150, 0, (100, 0)),    # decisions alone: the newest 100, as before
])  # fmt: skip
def test_trim_drops_launcher_steps_first(decisions: int, steps: int, kept: tuple[int, int]) -> None:
    # interleaved, newest first: a decision every few launcher steps
    every = [_activity("scale-out", n) for n in range(decisions)]
    others = [_activity("launch", n) for n in range(steps)]
    mixed = sorted(every + others, key=lambda a: a.at, reverse=True)
    out = trim(mixed)
    assert (sum(map(is_decision, out)), sum(not is_decision(a) for a in out)) == kept
    # each kind keeps its newest entries, in order
    assert [a for a in out if is_decision(a)] == every[:kept[0]]
    assert [a for a in out if not is_decision(a)] == others[:kept[1]]
    assert list(out) == [a for a in mixed if a in out]


def test_a_held_back_scale_in_states_how_long_it_waited(store: Store) -> None:
    # One busy instance, one idle, one still in its 20-minute warm-up: 1 of 2 warm
    # instances busy is 50 %, below target from NOW; the warming one holds the
    # scale-in back past the 15 minutes until it is warm, 19 minutes later.
    svc = service(1)
    busy, idle = instance(0), instance(1)
    warming = instance(2, age=timedelta(minutes=1))
    _put(store, provider(warmup=20 * 60), group(3), svc, busy, idle, warming, task(0, svc=svc))
    scaling = Scaling(store)
    for minute in range(19):
        scaling.decide(NOW + timedelta(minutes=minute))
        assert not [a for a in _activities(store) if a.action == "scale-in"], minute
    scaling.decide(NOW + timedelta(minutes=19))
    [scale_in] = [a for a in _activities(store) if a.action == "scale-in"]
    assert (scale_in.capacity_from, scale_in.capacity_to) == (3, 1)
    assert "has been below the target 100 % for 19 minutes" in scale_in.cause
    gone = {i.instance_id for i in store.children(GroupInstance.KIND, ASG).values()
            if i.lifecycle_state == TERMINATING}  # fmt: skip
    assert gone == {idle[0].instance_id, warming[0].instance_id}

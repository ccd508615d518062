"""The Auto Scaling group's own rules: where instances launch, which ones go."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import timedelta

from portside.controllers.capacity_group import plan_launches, termination_order
from portside.controllers.capacity_model import ON_DEMAND, SPOT, GroupInstance
from tests.sim.world import ASG, NOW, group

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def _inst(n: int, zone: str, *, age_h: int = 1, protected: bool = False,
          market: str = ON_DEMAND) -> GroupInstance:  # fmt: skip
    return GroupInstance(f"i-{n:017x}", ASG, zone, "m5.large", NOW - timedelta(hours=age_h),
                         "InService", protected, market)  # fmt: skip


def test_launches_balance_the_zones() -> None:
    g = group(7, zones=ZONES)
    launches, problem = plan_launches(g, [_inst(1, "us-east-1a"), _inst(2, "us-east-1a")])
    assert problem is None
    assert Counter(x.availability_zone for x in launches) == {
        "us-east-1b": 2, "us-east-1c": 2, "us-east-1a": 1}  # fmt: skip


def test_a_zone_that_is_down_is_skipped_and_a_zonal_group_cannot_launch() -> None:
    launches, _ = plan_launches(group(4, zones=ZONES), [], unavailable={"us-east-1a"})
    assert {x.availability_zone for x in launches} == {"us-east-1b", "us-east-1c"}
    launches, problem = plan_launches(group(2), [], unavailable={"us-east-1a"})
    assert launches == []
    assert problem is not None and "us-east-1a" in problem


def test_instances_distribution_sets_the_spot_share() -> None:
    g = dataclasses.replace(group(10), on_demand_base_capacity=2,
                            on_demand_percentage_above_base_capacity=25)  # fmt: skip
    launches, _ = plan_launches(g, [])
    markets = [x.market for x in launches]
    # two on-demand as the base, then one in four of the other eight
    assert markets.count(ON_DEMAND) == 4 and markets.count(SPOT) == 6
    assert markets[:2] == [ON_DEMAND, ON_DEMAND]


def test_termination_picks_the_fullest_zone_then_the_oldest_never_a_protected_one() -> None:
    live = [
        _inst(1, "us-east-1a", age_h=9, protected=True),
        _inst(2, "us-east-1a", age_h=5),
        _inst(3, "us-east-1a", age_h=7),
        _inst(4, "us-east-1b", age_h=20),
    ]
    chosen = termination_order(live, live, 3)
    # zone a has the most (3, protected one included): its oldest unprotected, 3; a still has
    # the most (2 to 1): 2; then a and b have one each, the oldest goes: 4. Never 1.
    assert [i.instance_id[-1] for i in chosen] == ["3", "2", "4"]
    assert termination_order(live[:1], live, 1) == []

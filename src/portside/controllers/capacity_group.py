"""What an Auto Scaling group does on its own: launch to its desired capacity, pick who goes.

These are the group's rules, not ECS's, as the Auto Scaling documentation
states them, used by the launchers (the simulator's, the local one):

- **Launching** keeps the live instances (Pending or InService) at the desired
  capacity, each new one in the enabled Availability Zone with the fewest live
  instances (ties to the zone listed first); a zone that cannot launch (an
  outage) is skipped, and its share goes to the others. The instance type is
  the launch template's, or the first MixedInstancesPolicy override; whether
  it is Spot follows the InstancesDistribution: the first
  ``OnDemandBaseCapacity`` instances are on-demand, and of the rest
  ``OnDemandPercentageAboveBaseCapacity`` percent.
- **Choosing instances to terminate** on scale-in (the default termination
  policy): never a protected instance; from the zone with the most live
  instances; then the oldest; the instance id breaks ties.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from portside.controllers.capacity_model import (
    ON_DEMAND,
    SPOT,
    GroupInstance,
    InstanceGroup,
    InstanceSpec,
)


@dataclass(frozen=True, slots=True)
class Launch:
    availability_zone: str
    spec: InstanceSpec
    market: str


def plan_launches(
    group: InstanceGroup,
    instances: Iterable[GroupInstance],
    unavailable: Collection[str] = (),
) -> tuple[list[Launch], str | None]:
    """The launches that bring the group to its desired capacity, and why any could not."""
    live = [i for i in instances if i.live]
    missing = group.desired_capacity - len(live)
    if missing <= 0 or not group.instance_types:
        return [], None
    zones = [z for z in group.availability_zones if z not in unavailable]
    if not zones:
        down = ", ".join(sorted(set(group.availability_zones) & set(unavailable)))
        return [], (
            f"Launching a new EC2 instance failed: no capacity in the group's Availability "
            f"Zones ({down})."
        )
    per_zone = {z: 0 for z in zones}
    for i in live:
        if i.availability_zone in per_zone:
            per_zone[i.availability_zone] += 1
    on_demand = sum(1 for i in live if i.market == ON_DEMAND)
    total = len(live)
    out: list[Launch] = []
    for _ in range(missing):
        zone = min(zones, key=lambda z: (per_zone[z], zones.index(z)))
        per_zone[zone] += 1
        market = _market(group, total, on_demand)
        on_demand += market == ON_DEMAND
        total += 1
        out.append(Launch(zone, group.instance_types[0], market))
    return out, None


def _market(group: InstanceGroup, total: int, on_demand: int) -> str:
    """On-demand or Spot for the next instance, after the InstancesDistribution."""
    if total < group.on_demand_base_capacity:
        return ON_DEMAND
    above = total + 1 - group.on_demand_base_capacity
    wanted = -(-above * group.on_demand_percentage_above_base_capacity // 100)
    return ON_DEMAND if on_demand - min(on_demand, group.on_demand_base_capacity) < wanted else SPOT


def termination_order(
    candidates: Sequence[GroupInstance], live: Sequence[GroupInstance], n: int
) -> list[GroupInstance]:
    """``n`` of ``candidates`` to terminate (the default termination policy, above)."""
    per_zone: dict[str, int] = {}
    for i in live:
        per_zone[i.availability_zone] = per_zone.get(i.availability_zone, 0) + 1
    left = [c for c in candidates if not c.protected_from_scale_in]
    chosen: list[GroupInstance] = []
    while left and len(chosen) < n:
        pick = min(
            left,
            key=lambda i: (-per_zone.get(i.availability_zone, 0), i.launched_at, i.instance_id),
        )
        chosen.append(pick)
        left.remove(pick)
        per_zone[pick.availability_zone] = per_zone.get(pick.availability_zone, 1) - 1
    return chosen

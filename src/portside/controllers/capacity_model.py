"""What managed scaling reads and writes besides ECS's own resources.

ECS scales an *Auto Scaling group*: :class:`InstanceGroup` is portside's
stand-in for one (the fields the ECS side needs of CreateAutoScalingGroup and
its launch template or MixedInstancesPolicy), :class:`GroupInstance` one EC2
instance of it, as DescribeAutoScalingInstances shows it. Each instance type
travels with the group as an :class:`InstanceSpec` (what the ECS agent would
register), so the controller needs no catalogue.

:class:`ScalingState` is the controller's memory per capacity provider: the
last CapacityProviderReservation, since when it has been below target, and the
recent scaling activities with their reasons.

All of them are frozen dataclasses with ``KIND``, ``key`` and ``parent``, like
the domain's resources, so a store or a simulator snapshot holds them as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

# Auto Scaling lifecycle states (DescribeAutoScalingInstances' LifecycleState).
PENDING = "Pending"
IN_SERVICE = "InService"
TERMINATING_WAIT = "Terminating:Wait"
"""Chosen for scale-in; ECS drains it (managed draining) before letting it go."""
TERMINATING = "Terminating:Proceed"
"""Let go: the launcher terminates it."""
TERMINATED = "Terminated"

LIVE = frozenset({PENDING, IN_SERVICE})
"""Instances that count toward the group's desired capacity."""

ON_DEMAND = "on-demand"
SPOT = "spot"

MAX_ACTIVITIES = 100


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    """One instance type as an ECS container instance registers it."""

    name: str
    cpu: int  # CPU units
    memory: int  # MiB, as registered
    eni_slots: int  # awsvpc tasks that fit
    gpus: int = 0
    architecture: str = "x86_64"
    price_per_hour: float = 0.0


@dataclass(frozen=True, slots=True)
class GroupTag:
    """A tag of an Auto Scaling group (``portside:launcher`` and friends pick the launcher)."""

    key: str
    value: str = ""
    propagate_at_launch: bool = False


@dataclass(frozen=True, slots=True)
class InstanceGroup:
    """An Auto Scaling group (the parts ECS managed scaling and the launchers use)."""

    KIND: ClassVar[str] = "autoscaling_group"

    auto_scaling_group_arn: str
    auto_scaling_group_name: str
    created_at: datetime
    instance_types: tuple[InstanceSpec, ...]
    """The launch template's type, or the MixedInstancesPolicy overrides in priority order."""
    availability_zones: tuple[str, ...]
    min_size: int = 0
    max_size: int = 0
    desired_capacity: int = 0
    new_instances_protected_from_scale_in: bool = False
    on_demand_base_capacity: int = 0
    on_demand_percentage_above_base_capacity: int = 100
    """MixedInstancesPolicy's InstancesDistribution (100: no Spot)."""
    launcher: str = "simulated"  # simulated | local | command
    launch_command: str | None = None
    """``command`` launcher: the shell command that starts an instance (docs/capacity.md)."""
    terminate_command: str | None = None
    """``command`` launcher: the shell command that stops one."""
    tags: tuple[GroupTag, ...] = ()
    launch_template: Any = None
    """The LaunchTemplateSpecification as described (snake_case), or None."""
    mixed_instances_policy: Any = None
    """The MixedInstancesPolicy as given (snake_case), or None."""
    vpc_zone_identifier: str | None = None
    status: str | None = None
    """None, or ``Delete in progress`` after a forced delete while instances terminate."""

    @property
    def key(self) -> str:
        return self.auto_scaling_group_arn

    @property
    def parent(self) -> str | None:
        return None

    @property
    def mixed(self) -> bool:
        """More than one instance type or Availability Zone (ECS then steps by exactly the
        minimum scaling step size)."""
        return len(self.instance_types) > 1 or len(self.availability_zones) > 1


@dataclass(frozen=True, slots=True)
class GroupInstance:
    """One EC2 instance of a group."""

    KIND: ClassVar[str] = "autoscaling_instance"

    instance_id: str
    auto_scaling_group_arn: str
    availability_zone: str
    instance_type: str
    launched_at: datetime
    lifecycle_state: str = PENDING
    protected_from_scale_in: bool = False
    market: str = ON_DEMAND  # on-demand | spot
    container_instance_arn: str | None = None
    terminated_at: datetime | None = None
    status_reason: str | None = None

    @property
    def key(self) -> str:
        return self.instance_id

    @property
    def parent(self) -> str | None:
        return self.auto_scaling_group_arn

    @property
    def live(self) -> bool:
        return self.lifecycle_state in LIVE


@dataclass(frozen=True, slots=True)
class ScalingActivity:
    """One scaling step, with the metric that moved it and why."""

    at: datetime
    # decisions: scale-out | scale-in | cancel-scale-in | terminate (controllers/capacity.py);
    # launcher steps: launch | launch-failed | terminated | terminate-failed | instance-lost |
    # group-deleted (runtime/capacity_groups.py)
    action: str
    capacity_from: int
    capacity_to: int
    metric: str
    metric_value: float
    target: int
    cause: str


@dataclass(frozen=True, slots=True)
class ScalingState:
    """Managed scaling's memory for one capacity provider."""

    KIND: ClassVar[str] = "capacity_scaling"

    capacity_provider_arn: str
    updated_at: datetime
    reservation: float | None = None
    """The last CapacityProviderReservation, in percent."""
    needed: int = 0
    """M: instances needed (busy ones, plus the estimate for provisioning work)."""
    running: int = 0
    """N: in-service instances past their warm-up."""
    warming: int = 0
    below_target_since: datetime | None = None
    activities: tuple[ScalingActivity, ...] = ()
    """Newest first, at most :data:`MAX_ACTIVITIES`."""

    @property
    def key(self) -> str:
        return self.capacity_provider_arn

    @property
    def parent(self) -> str | None:
        return None

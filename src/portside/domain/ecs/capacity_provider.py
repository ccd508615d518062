"""The CapacityProvider resource.

Fields are the snake_case names of ECS's CapacityProvider, AutoScalingGroupProvider
and ManagedScaling shapes, so a provider serializes directly. The defaults are
the ones ECS documents: managed scaling off unless asked for, and when on a
target capacity of 100 %, scaling steps of 1 to 10,000 instances and a 300 s
instance warm-up; managed termination protection off; managed draining on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from portside.domain.ecs.tags import Tag

FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")

ENABLED = "ENABLED"
DISABLED = "DISABLED"


@dataclass(frozen=True, slots=True)
class ManagedScaling:
    status: str = DISABLED  # ENABLED | DISABLED
    target_capacity: int = 100  # percent, 1 to 100
    minimum_scaling_step_size: int = 1  # instances, 1 to 10,000
    maximum_scaling_step_size: int = 10000  # instances, 1 to 10,000
    instance_warmup_period: int = 300  # seconds, 0 to 10,000

    @property
    def enabled(self) -> bool:
        return self.status == ENABLED


@dataclass(frozen=True, slots=True)
class AutoScalingGroupProvider:
    auto_scaling_group_arn: str  # an Auto Scaling group ARN, or its name
    managed_scaling: ManagedScaling = ManagedScaling()
    managed_termination_protection: str = DISABLED
    managed_draining: str = ENABLED

    @property
    def group_name(self) -> str:
        """The Auto Scaling group's name, from its ARN or as given."""
        marker = "autoScalingGroupName/"
        arn = self.auto_scaling_group_arn
        return arn.split(marker, 1)[1] if marker in arn else arn


@dataclass(frozen=True, slots=True)
class CapacityProvider:
    KIND: ClassVar[str] = "capacity_provider"

    capacity_provider_arn: str
    name: str
    created_at: datetime
    status: str = "ACTIVE"  # ACTIVE | INACTIVE
    auto_scaling_group_provider: AutoScalingGroupProvider | None = None
    update_status: str | None = None
    update_status_reason: str | None = None
    tags: tuple[Tag, ...] = ()
    type: str = "EC2_AUTOSCALING"  # EC2_AUTOSCALING | FARGATE | FARGATE_SPOT

    @property
    def key(self) -> str:
        return self.capacity_provider_arn

    @property
    def parent(self) -> str | None:
        return None

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"

    @property
    def tasks_wait_for_capacity(self) -> bool:
        """A task it has no room for waits in PROVISIONING (an Auto Scaling group provider
        with managed scaling, as ECS does) instead of failing at once."""
        asg = self.auto_scaling_group_provider
        return self.active and asg is not None and asg.managed_scaling.enabled

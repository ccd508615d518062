"""The CapacityProvider resource."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from portside.domain.ecs.tags import Tag

FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


@dataclass(frozen=True, slots=True)
class CapacityProvider:
    KIND: ClassVar[str] = "capacity_provider"

    capacity_provider_arn: str
    name: str
    created_at: datetime
    status: str = "ACTIVE"  # ACTIVE | INACTIVE
    auto_scaling_group_provider: Any = None
    update_status: str | None = None
    update_status_reason: str | None = None
    tags: tuple[Tag, ...] = ()

    @property
    def key(self) -> str:
        return self.capacity_provider_arn

    @property
    def parent(self) -> str | None:
        return None

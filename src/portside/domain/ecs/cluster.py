"""The Cluster resource."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from portside.domain.ecs.model import KeyValue, StrategyItem
from portside.domain.ecs.tags import Tag


@dataclass(frozen=True, slots=True)
class Cluster:
    KIND: ClassVar[str] = "cluster"

    cluster_arn: str
    cluster_name: str
    created_at: datetime
    status: str = "ACTIVE"  # ACTIVE | INACTIVE
    settings: tuple[KeyValue, ...] = ()
    configuration: Any = None
    capacity_providers: tuple[str, ...] = ()
    default_capacity_provider_strategy: tuple[StrategyItem, ...] = ()
    tags: tuple[Tag, ...] = ()
    service_connect_defaults: Any = None

    @property
    def key(self) -> str:
        return self.cluster_arn

    @property
    def parent(self) -> str | None:
        return None

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"

"""The Service resource: a named group of instances in a namespace."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from portside.domain.servicediscovery.model import (
    DnsConfig,
    HealthCheckConfig,
    HealthCheckCustomConfig,
    Tag,
)


@dataclass(frozen=True, slots=True)
class Service:
    KIND: ClassVar[str] = "sd_service"

    id: str
    arn: str
    account: str
    region: str
    name: str
    namespace_id: str
    type: str  # HTTP | DNS_HTTP
    created_at: datetime
    creator_request_id: str | None = None
    description: str | None = None
    dns_config: DnsConfig | None = None
    health_check_config: HealthCheckConfig | None = None
    health_check_custom_config: HealthCheckCustomConfig | None = None
    tags: tuple[Tag, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)
    instances_revision: int = 0

    @property
    def key(self) -> str:
        return self.id

    @property
    def parent(self) -> str | None:
        return self.namespace_id

    @property
    def has_health_check(self) -> bool:
        return self.health_check_config is not None or self.health_check_custom_config is not None

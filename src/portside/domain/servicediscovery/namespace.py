"""The Namespace resource: an HTTP, private DNS or public DNS namespace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from portside.domain.servicediscovery.model import DNS_PRIVATE, DNS_PUBLIC, Tag


@dataclass(frozen=True, slots=True)
class Namespace:
    KIND: ClassVar[str] = "sd_namespace"

    id: str
    arn: str
    account: str
    region: str
    name: str
    type: str  # HTTP | DNS_PRIVATE | DNS_PUBLIC
    http_name: str
    created_at: datetime
    creator_request_id: str | None = None
    description: str | None = None
    vpc: str | None = None
    hosted_zone_id: str | None = None
    soa_ttl: int | None = None
    tags: tuple[Tag, ...] = ()

    @property
    def key(self) -> str:
        return self.id

    @property
    def parent(self) -> str | None:
        return None

    @property
    def is_dns(self) -> bool:
        return self.type in (DNS_PRIVATE, DNS_PUBLIC)

"""The Instance resource: one registered endpoint of a service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Instance:
    KIND: ClassVar[str] = "sd_instance"

    service_id: str
    id: str
    account: str
    created_at: datetime
    attributes: dict[str, str]
    creator_request_id: str | None = None
    custom_health: str | None = None  # HEALTHY | UNHEALTHY, for custom health checks
    # HEALTHY | UNHEALTHY, for Route 53 health checks (HealthCheckConfig): what they last
    # found; None until a check changes it, which counts as HEALTHY (health_checks.py)
    checked_health: str | None = None

    @property
    def key(self) -> str:
        return instance_key(self.service_id, self.id)

    @property
    def parent(self) -> str | None:
        return self.service_id


def instance_key(service_id: str, instance_id: str) -> str:
    return f"{service_id}/{instance_id}"


def service_of_key(key: str) -> str:
    """The service id in an instance's store key (what a Delete of it names)."""
    return key.partition("/")[0]

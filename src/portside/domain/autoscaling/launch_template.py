"""The EC2 launch template resource (one version: portside keeps version 1 only).

Fields are the snake_case names of EC2's LaunchTemplate shape, so a template
serializes directly; ``launch_template_data`` keeps the request's
LaunchTemplateData (snake_case) for the Auto Scaling group that names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Ec2Tag:
    key: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class LaunchTemplate:
    KIND: ClassVar[str] = "ec2_launch_template"

    arn: str
    """``arn:aws:ec2:REGION:ACCOUNT:launch-template/lt-…``: the store key, scoped per region."""
    launch_template_id: str
    launch_template_name: str
    create_time: datetime
    created_by: str
    launch_template_data: Any = None
    version_description: str | None = None
    default_version_number: int = 1
    latest_version_number: int = 1
    tags: tuple[Ec2Tag, ...] = ()
    client_token: str | None = None

    @property
    def key(self) -> str:
        return self.arn

    @property
    def parent(self) -> str | None:
        return None

    @property
    def instance_type(self) -> str | None:
        data = self.launch_template_data or {}
        return data.get("instance_type")

"""Amazon Resource Names: building and parsing ``arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Arn:
    service: str
    region: str
    account: str
    resource: str
    partition: str = "aws"

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"

    @property
    def resource_type(self) -> str:
        """The part of the resource before the first ``/`` (``cluster``, ``task``, …)."""
        return self.resource.split("/", 1)[0]

    @property
    def resource_path(self) -> list[str]:
        """The parts of the resource after its type (``["demo", "web"]`` for a service)."""
        return self.resource.split("/")[1:]


def parse_arn(text: str) -> Arn | None:
    """The ARN's parts, or None when ``text`` is not an ARN."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[2] or not parts[5]:
        return None
    return Arn(
        service=parts[2],
        region=parts[3],
        account=parts[4],
        resource=parts[5],
        partition=parts[1],
    )


def is_arn(text: str) -> bool:
    return text.startswith("arn:")

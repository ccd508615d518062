"""Where a request acts: the account and region every ARN it makes carries."""

from __future__ import annotations

from dataclasses import dataclass

from portside.aws.arn import Arn


@dataclass(frozen=True, slots=True)
class Scope:
    account: str
    region: str

    def arn(self, service: str, resource: str) -> str:
        return str(Arn(service, self.region, self.account, resource))

    def ecs(self, resource: str) -> str:
        return self.arn("ecs", resource)

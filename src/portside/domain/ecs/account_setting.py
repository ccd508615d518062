"""The AccountSetting resource: one setting explicitly set for one principal in one region.

Settings never set are not stored: their effective value comes from the root
user's setting, or else from ECS's default (``account_settings.DEFAULTS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class AccountSetting:
    KIND: ClassVar[str] = "account_setting"

    name: str
    value: str
    principal_arn: str  # arn:aws:iam::ACCOUNT:root | …:user/NAME | …:role/NAME
    region: str
    type: str = "user"  # user | aws_managed

    @property
    def account(self) -> str:
        return self.principal_arn.split(":")[4]

    @property
    def key(self) -> str:
        return f"{self.region}|{self.principal_arn}|{self.name}"

    @property
    def parent(self) -> str | None:
        """Every setting of one account in one region shares a parent."""
        return settings_parent(self.account, self.region)


def settings_parent(account: str, region: str) -> str:
    return f"account-settings|{account}|{region}"

"""ECS account settings: Put, PutDefault, List, Delete, and the effective value of each.

A setting is resolved per region as ECS documents it: the principal's own
setting if one was put, else the root user's (PutAccountSettingDefault sets the
root user's), else ECS's default. portside's callers are the account's root
user (``arn:aws:iam::ACCOUNT:root``); a call may name another principal of the
account (``…:user/NAME`` or ``…:role/NAME``) with ``principalArn``.

``guardDutyActivate`` is managed by AWS and read-only. The Fargate task
retirement wait period can only be set for the root user.
"""

from __future__ import annotations

from portside.aws.arn import parse_arn
from portside.domain.ecs.account_setting import AccountSetting, settings_parent
from portside.domain.errors import InvalidParameterException
from portside.domain.pagination import paginate
from portside.domain.scope import Scope
from portside.store.store import Delete, Store

_ON_OFF = ("enabled", "disabled")

# name -> (accepted values, default value)
SETTINGS: dict[str, tuple[tuple[str, ...], str]] = {
    "serviceLongArnFormat": (_ON_OFF, "enabled"),
    "taskLongArnFormat": (_ON_OFF, "enabled"),
    "containerInstanceLongArnFormat": (_ON_OFF, "enabled"),
    "awsvpcTrunking": (_ON_OFF, "disabled"),
    "containerInsights": (("enabled", "enhanced", "disabled"), "disabled"),
    "fargateFIPSMode": (_ON_OFF, "disabled"),
    "tagResourceAuthorization": (("on", "off"), "on"),
    "fargateTaskRetirementWaitPeriod": (("0", "7", "14"), "7"),
    "guardDutyActivate": (("on", "off"), "off"),
    "defaultLogDriverMode": (("blocking", "non-blocking"), "non-blocking"),
    "fargateEventWindows": (_ON_OFF, "disabled"),
}
DEFAULTS = {name: default for name, (_, default) in SETTINGS.items()}
AWS_MANAGED = ("guardDutyActivate",)
ROOT_ONLY = ("fargateTaskRetirementWaitPeriod",)


def root_arn(scope: Scope) -> str:
    """The caller: the account's root user."""
    return f"arn:aws:iam::{scope.account}:root"


def _principal(scope: Scope, principal_arn: str | None) -> str:
    if principal_arn is None:
        return root_arn(scope)
    arn = parse_arn(principal_arn)
    kind = arn.resource.split("/", 1)[0] if arn else ""
    if (
        arn is None
        or arn.service != "iam"
        or arn.account != scope.account
        or not (arn.resource == "root" or (kind in ("user", "role") and "/" in arn.resource))
    ):
        raise InvalidParameterException(
            f"principalArn {principal_arn!r} is not valid: specify the ARN of a user, a role "
            f"or the root user of account {scope.account}."
        )
    return principal_arn


def _check_value(name: str, value: str) -> None:
    allowed = SETTINGS[name][0]
    if value not in allowed:
        raise InvalidParameterException(
            f"The value {value!r} is not valid for the account setting {name}. "
            f"Valid values: {', '.join(allowed)}."
        )


def _setting_type(name: str) -> str:
    return "aws_managed" if name in AWS_MANAGED else "user"


def _explicit(store: Store, scope: Scope) -> dict[tuple[str, str], AccountSetting]:
    """The settings put in this account and region, by (principal, name)."""
    found = store.children(AccountSetting.KIND, settings_parent(scope.account, scope.region))
    return {(s.principal_arn, s.name): s for s in found.values()}


def effective_setting(
    store: Store, scope: Scope, name: str, principal_arn: str | None = None
) -> AccountSetting:
    """The setting in force for a principal (the caller when None): its own, the root
    user's, or ECS's default (which reports the root user as its principal)."""
    principal = _principal(scope, principal_arn)
    explicit = _explicit(store, scope)
    root = root_arn(scope)
    found = explicit.get((principal, name)) or explicit.get((root, name))
    if found is not None:
        return found
    return AccountSetting(name, DEFAULTS[name], root, scope.region, _setting_type(name))


def effective_value(store: Store, scope: Scope, name: str, principal_arn: str | None = None) -> str:
    return effective_setting(store, scope, name, principal_arn).value


def long_arn_format(store: Store, scope: Scope, setting: str) -> bool:
    """Whether new resources of a kind get long ARNs (``serviceLongArnFormat`` …)."""
    return effective_value(store, scope, setting) == "enabled"


# -- operations ------------------------------------------------------------


def put_account_setting(
    store: Store, scope: Scope, *, name: str, value: str, principal_arn: str | None = None
) -> AccountSetting:
    principal = _principal(scope, principal_arn)
    if name in AWS_MANAGED:
        raise InvalidParameterException(
            f"The account setting {name} is managed by AWS and cannot be changed."
        )
    _check_value(name, value)
    if name in ROOT_ONLY and principal != root_arn(scope):
        raise InvalidParameterException(
            f"The account setting {name} can only be set for the root user ({root_arn(scope)})."
        )
    setting = AccountSetting(name, value, principal, scope.region, _setting_type(name))
    store.commit([setting])
    return setting


def put_account_setting_default(
    store: Store, scope: Scope, *, name: str, value: str
) -> AccountSetting:
    return put_account_setting(store, scope, name=name, value=value)


def delete_account_setting(
    store: Store, scope: Scope, *, name: str, principal_arn: str | None = None
) -> AccountSetting:
    """Forget a principal's setting; answers with the setting removed, or, when the
    principal had none, with the setting that stays in force."""
    principal = _principal(scope, principal_arn)
    if name in AWS_MANAGED:
        raise InvalidParameterException(
            f"The account setting {name} is managed by AWS and cannot be changed."
        )
    current = _explicit(store, scope).get((principal, name))
    if current is None:
        return effective_setting(store, scope, name, principal)
    store.commit([Delete(AccountSetting.KIND, current.key)])
    return current


def list_account_settings(
    store: Store,
    scope: Scope,
    *,
    name: str | None = None,
    value: str | None = None,
    principal_arn: str | None = None,
    effective_settings: bool | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> tuple[list[AccountSetting], str | None]:
    if value is not None and name is None:
        raise InvalidParameterException(
            "To filter account settings by value you must also specify the setting name."
        )
    principal = _principal(scope, principal_arn)
    names = [name] if name else sorted(SETTINGS)
    if effective_settings:
        settings = [effective_setting(store, scope, n, principal) for n in names]
    else:
        explicit = _explicit(store, scope)
        settings = [explicit[(principal, n)] for n in names if (principal, n) in explicit]
    if value is not None:
        settings = [s for s in settings if s.value == value]
    by_name = {s.name: s for s in settings}
    page = paginate(list(by_name), next_token, max_results, default=10, limit=10)
    return [by_name[n] for n in page.items], page.next_token

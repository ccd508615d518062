"""ECS account settings operations."""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import ECS
from portside.domain.ecs import account_settings as domain


@ECS.operation("PutAccountSetting")
def put_account_setting(ctx: Context, p: dict[str, Any]) -> Any:
    return {"setting": domain.put_account_setting(ctx.app.store, ctx.scope, **p)}


@ECS.operation("PutAccountSettingDefault")
def put_account_setting_default(ctx: Context, p: dict[str, Any]) -> Any:
    return {"setting": domain.put_account_setting_default(ctx.app.store, ctx.scope, **p)}


@ECS.operation("DeleteAccountSetting")
def delete_account_setting(ctx: Context, p: dict[str, Any]) -> Any:
    return {"setting": domain.delete_account_setting(ctx.app.store, ctx.scope, **p)}


@ECS.operation("ListAccountSettings")
def list_account_settings(ctx: Context, p: dict[str, Any]) -> Any:
    settings, token = domain.list_account_settings(ctx.app.store, ctx.scope, **p)
    return {"settings": settings, "next_token": token}

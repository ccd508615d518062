"""ECS attribute operations (targets are container instances)."""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import ECS
from portside.domain.ecs import attributes as domain


@ECS.operation("PutAttributes")
def put_attributes(ctx: Context, p: dict[str, Any]) -> Any:
    return {"attributes": domain.put_attributes(ctx.app.store, ctx.scope, **p)}


@ECS.operation("DeleteAttributes")
def delete_attributes(ctx: Context, p: dict[str, Any]) -> Any:
    return {"attributes": domain.delete_attributes(ctx.app.store, ctx.scope, **p)}


@ECS.operation("ListAttributes")
def list_attributes(ctx: Context, p: dict[str, Any]) -> Any:
    found, token = domain.list_attributes(ctx.app.store, ctx.scope, **p)
    return {"attributes": found, "next_token": token}

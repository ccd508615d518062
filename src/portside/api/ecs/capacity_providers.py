"""ECS capacity provider operations."""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import ECS
from portside.domain.ecs import capacity_providers as domain


@ECS.operation("CreateCapacityProvider")
def create_capacity_provider(ctx: Context, p: dict[str, Any]) -> Any:
    provider = domain.create_capacity_provider(ctx.app.store, ctx.scope, ctx.now, **p)
    return {"capacity_provider": provider}


@ECS.operation("DescribeCapacityProviders")
def describe_capacity_providers(ctx: Context, p: dict[str, Any]) -> Any:
    found, failures, token = domain.describe_capacity_providers(ctx.app.store, ctx.scope, **p)
    return {"capacity_providers": found, "failures": failures, "next_token": token}


@ECS.operation("UpdateCapacityProvider")
def update_capacity_provider(ctx: Context, p: dict[str, Any]) -> Any:
    return {"capacity_provider": domain.update_capacity_provider(ctx.app.store, ctx.scope, **p)}


@ECS.operation("DeleteCapacityProvider")
def delete_capacity_provider(ctx: Context, p: dict[str, Any]) -> Any:
    return {"capacity_provider": domain.delete_capacity_provider(ctx.app.store, ctx.scope, **p)}

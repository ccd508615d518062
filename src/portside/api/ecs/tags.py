"""ECS tagging operations: TagResource, UntagResource, ListTagsForResource."""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import ECS
from portside.domain.ecs import tagging as domain


@ECS.operation("TagResource")
def tag_resource(ctx: Context, p: dict[str, Any]) -> Any:
    domain.tag_resource(ctx.app.store, ctx.scope, **p)
    return {}


@ECS.operation("UntagResource")
def untag_resource(ctx: Context, p: dict[str, Any]) -> Any:
    domain.untag_resource(ctx.app.store, ctx.scope, **p)
    return {}


@ECS.operation("ListTagsForResource")
def list_tags_for_resource(ctx: Context, p: dict[str, Any]) -> Any:
    return {"tags": domain.list_tags_for_resource(ctx.app.store, ctx.scope, **p)}

"""Cloud Map operation records and resource tags."""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import SERVICE_DISCOVERY as SD
from portside.domain.servicediscovery import operations, tagging


@SD.operation("GetOperation")
def get_operation(ctx: Context, p: dict[str, Any]) -> Any:
    op = operations.get_operation(ctx.app.store, ctx.scope, **p)
    return {"operation": operations.operation_view(op)}


@SD.operation("ListOperations")
def list_operations(ctx: Context, p: dict[str, Any]) -> Any:
    page = operations.list_operations(ctx.app.store, ctx.scope, **p)
    return {
        "operations": [{"id": op.id, "status": op.status} for op in page.items],
        "next_token": page.next_token,
    }


@SD.operation("TagResource")
def tag_resource(ctx: Context, p: dict[str, Any]) -> Any:
    tagging.tag_resource(ctx.app.store, ctx.scope, **p)
    return {}


@SD.operation("UntagResource")
def untag_resource(ctx: Context, p: dict[str, Any]) -> Any:
    tagging.untag_resource(ctx.app.store, ctx.scope, **p)
    return {}


@SD.operation("ListTagsForResource")
def list_tags_for_resource(ctx: Context, p: dict[str, Any]) -> Any:
    return {"tags": tagging.list_tags_for_resource(ctx.app.store, ctx.scope, **p)}

"""ECS task definition operations."""

from __future__ import annotations

import json
from typing import Any

from portside.api.context import Context
from portside.api.registry import ECS
from portside.aws.shapes import encode_output, epoch_seconds
from portside.domain.ecs import task_definitions as domain


def _wire_size(operation: str, p: dict[str, Any]) -> int:
    """The request's size as compact wire JSON (ECS caps a task definition at 64 KiB)."""
    shape = ECS.operation_model(operation).input_shape
    wire = encode_output(shape, p, epoch_seconds)
    return len(json.dumps(wire, separators=(",", ":")).encode())


@ECS.operation("RegisterTaskDefinition")
def register_task_definition(ctx: Context, p: dict[str, Any]) -> Any:
    size = _wire_size("RegisterTaskDefinition", p)
    td = domain.register_task_definition(ctx.app.store, ctx.scope, ctx.now, request_size=size, **p)
    return {"task_definition": td, "tags": td.tags}


@ECS.operation("DescribeTaskDefinition")
def describe_task_definition(ctx: Context, p: dict[str, Any]) -> Any:
    td, tags = domain.describe_task_definition(ctx.app.store, ctx.scope, **p)
    return {"task_definition": td, "tags": tags}


@ECS.operation("ListTaskDefinitions")
def list_task_definitions(ctx: Context, p: dict[str, Any]) -> Any:
    page = domain.list_task_definitions(ctx.app.store, ctx.scope, **p)
    return {"task_definition_arns": page.items, "next_token": page.next_token}


@ECS.operation("ListTaskDefinitionFamilies")
def list_task_definition_families(ctx: Context, p: dict[str, Any]) -> Any:
    page = domain.list_task_definition_families(ctx.app.store, ctx.scope, **p)
    return {"families": page.items, "next_token": page.next_token}


@ECS.operation("DeregisterTaskDefinition")
def deregister_task_definition(ctx: Context, p: dict[str, Any]) -> Any:
    td = domain.deregister_task_definition(ctx.app.store, ctx.scope, ctx.now, **p)
    return {"task_definition": td}


@ECS.operation("DeleteTaskDefinitions")
def delete_task_definitions(ctx: Context, p: dict[str, Any]) -> Any:
    found, failures = domain.delete_task_definitions(ctx.app.store, ctx.scope, ctx.now, **p)
    return {"task_definitions": found, "failures": failures}

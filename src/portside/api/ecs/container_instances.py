"""ECS container instance operations."""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import ECS
from portside.domain.ecs import container_instances as domain


@ECS.operation("RegisterContainerInstance")
def register_container_instance(ctx: Context, p: dict[str, Any]) -> Any:
    made = domain.register_container_instance(ctx.app.store, ctx.scope, ctx.now, **p)
    return {"container_instance": domain.view(ctx.app.store, made, ["TAGS"])}


@ECS.operation("DeregisterContainerInstance")
def deregister_container_instance(ctx: Context, p: dict[str, Any]) -> Any:
    gone = domain.deregister_container_instance(ctx.app.store, ctx.scope, **p)
    return {"container_instance": domain.view(ctx.app.store, gone)}


@ECS.operation("DescribeContainerInstances")
def describe_container_instances(ctx: Context, p: dict[str, Any]) -> Any:
    found, failures = domain.describe_container_instances(ctx.app.store, ctx.scope, **p)
    return {"container_instances": found, "failures": failures}


@ECS.operation("ListContainerInstances")
def list_container_instances(ctx: Context, p: dict[str, Any]) -> Any:
    page = domain.list_container_instances(ctx.app.store, ctx.scope, **p)
    return {"container_instance_arns": page.items, "next_token": page.next_token}


@ECS.operation("UpdateContainerInstancesState")
def update_container_instances_state(ctx: Context, p: dict[str, Any]) -> Any:
    found, failures = domain.update_container_instances_state(ctx.app.store, ctx.scope, **p)
    return {"container_instances": found, "failures": failures}

"""ECS service operations."""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import ECS
from portside.domain.ecs import services as domain


@ECS.operation("CreateService")
def create_service(ctx: Context, p: dict[str, Any]) -> Any:
    return {"service": domain.create_service(ctx.app.store, ctx.scope, ctx.now, **p)}


@ECS.operation("UpdateService")
def update_service(ctx: Context, p: dict[str, Any]) -> Any:
    return {"service": domain.visible(domain.update_service(ctx.app.store, ctx.scope, ctx.now, **p))}


@ECS.operation("DescribeServices")
def describe_services(ctx: Context, p: dict[str, Any]) -> Any:
    found, failures = domain.describe_services(ctx.app.store, ctx.scope, **p)
    return {"services": found, "failures": failures}


@ECS.operation("ListServices")
def list_services(ctx: Context, p: dict[str, Any]) -> Any:
    page = domain.list_services(ctx.app.store, ctx.scope, **p)
    return {"service_arns": page.items, "next_token": page.next_token}


@ECS.operation("DeleteService")
def delete_service(ctx: Context, p: dict[str, Any]) -> Any:
    return {"service": domain.visible(domain.delete_service(ctx.app.store, ctx.scope, ctx.now, **p))}


@ECS.operation("ListServicesByNamespace")
def list_services_by_namespace(ctx: Context, p: dict[str, Any]) -> Any:
    from portside.domain.ecs.service_connect import list_services_by_namespace as by_ns

    page = by_ns(ctx.app.store, ctx.scope, **p)
    return {"service_arns": page.items, "next_token": page.next_token}

"""Cloud Map service operations, and service attributes."""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import SERVICE_DISCOVERY as SD
from portside.domain.servicediscovery import service_attributes
from portside.domain.servicediscovery import services as domain
from portside.domain.servicediscovery.views import service_view


@SD.operation("CreateService")
def create_service(ctx: Context, p: dict[str, Any]) -> Any:
    svc = domain.create_service(ctx.app.store, ctx.scope, ctx.now, **p)
    return {"service": service_view(ctx.app.store, svc)}


@SD.operation("GetService")
def get_service(ctx: Context, p: dict[str, Any]) -> Any:
    return {"service": service_view(ctx.app.store, domain.get_service(ctx.app.store, ctx.scope, **p))}


@SD.operation("ListServices")
def list_services(ctx: Context, p: dict[str, Any]) -> Any:
    page = domain.list_services(ctx.app.store, ctx.scope, **p)
    return {
        "services": [service_view(ctx.app.store, s, summary=True) for s in page.items],
        "next_token": page.next_token,
    }


@SD.operation("UpdateService")
def update_service(ctx: Context, p: dict[str, Any]) -> Any:
    return {"operation_id": domain.update_service(ctx.app.store, ctx.scope, ctx.now, **p)}


@SD.operation("DeleteService")
def delete_service(ctx: Context, p: dict[str, Any]) -> Any:
    domain.delete_service(ctx.app.store, ctx.scope, **p)
    return {}


@SD.operation("GetServiceAttributes")
def get_service_attributes(ctx: Context, p: dict[str, Any]) -> Any:
    attrs = service_attributes.get_service_attributes(ctx.app.store, ctx.scope, **p)
    return {"service_attributes": attrs}


@SD.operation("UpdateServiceAttributes")
def update_service_attributes(ctx: Context, p: dict[str, Any]) -> Any:
    service_attributes.update_service_attributes(ctx.app.store, ctx.scope, **p)
    return {}


@SD.operation("DeleteServiceAttributes")
def delete_service_attributes(ctx: Context, p: dict[str, Any]) -> Any:
    service_attributes.delete_service_attributes(ctx.app.store, ctx.scope, **p)
    return {}

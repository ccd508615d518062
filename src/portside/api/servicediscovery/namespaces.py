"""Cloud Map namespace operations."""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import SERVICE_DISCOVERY as SD
from portside.domain.servicediscovery import namespaces as domain
from portside.domain.servicediscovery.views import namespace_view


@SD.operation("CreateHttpNamespace")
def create_http_namespace(ctx: Context, p: dict[str, Any]) -> Any:
    return {"operation_id": domain.create_http_namespace(ctx.app.store, ctx.scope, ctx.now, **p)}


@SD.operation("CreatePrivateDnsNamespace")
def create_private_dns_namespace(ctx: Context, p: dict[str, Any]) -> Any:
    op = domain.create_private_dns_namespace(ctx.app.store, ctx.scope, ctx.now, **p)
    return {"operation_id": op}


@SD.operation("CreatePublicDnsNamespace")
def create_public_dns_namespace(ctx: Context, p: dict[str, Any]) -> Any:
    op = domain.create_public_dns_namespace(ctx.app.store, ctx.scope, ctx.now, **p)
    return {"operation_id": op}


@SD.operation("GetNamespace")
def get_namespace(ctx: Context, p: dict[str, Any]) -> Any:
    ns = domain.get_namespace(ctx.app.store, ctx.scope, **p)
    return {"namespace": namespace_view(ctx.app.store, ns)}


@SD.operation("ListNamespaces")
def list_namespaces(ctx: Context, p: dict[str, Any]) -> Any:
    page = domain.list_namespaces(ctx.app.store, ctx.scope, **p)
    return {
        "namespaces": [namespace_view(ctx.app.store, ns, summary=True) for ns in page.items],
        "next_token": page.next_token,
    }


@SD.operation("UpdateHttpNamespace")
def update_http_namespace(ctx: Context, p: dict[str, Any]) -> Any:
    return {"operation_id": domain.update_http_namespace(ctx.app.store, ctx.scope, ctx.now, **p)}


@SD.operation("UpdatePrivateDnsNamespace")
def update_private_dns_namespace(ctx: Context, p: dict[str, Any]) -> Any:
    op = domain.update_private_dns_namespace(ctx.app.store, ctx.scope, ctx.now, **p)
    return {"operation_id": op}


@SD.operation("UpdatePublicDnsNamespace")
def update_public_dns_namespace(ctx: Context, p: dict[str, Any]) -> Any:
    op = domain.update_public_dns_namespace(ctx.app.store, ctx.scope, ctx.now, **p)
    return {"operation_id": op}


@SD.operation("DeleteNamespace")
def delete_namespace(ctx: Context, p: dict[str, Any]) -> Any:
    return {"operation_id": domain.delete_namespace(ctx.app.store, ctx.scope, ctx.now, **p)}

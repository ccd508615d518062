"""Cloud Map instance operations: registration, discovery and health."""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import SERVICE_DISCOVERY as SD
from portside.domain.servicediscovery import discovery
from portside.domain.servicediscovery import instances as domain


@SD.operation("RegisterInstance")
def register_instance(ctx: Context, p: dict[str, Any]) -> Any:
    return {"operation_id": domain.register_instance(ctx.app.store, ctx.scope, ctx.now, **p)}


@SD.operation("DeregisterInstance")
def deregister_instance(ctx: Context, p: dict[str, Any]) -> Any:
    return {"operation_id": domain.deregister_instance(ctx.app.store, ctx.scope, ctx.now, **p)}


@SD.operation("GetInstance")
def get_instance(ctx: Context, p: dict[str, Any]) -> Any:
    return domain.get_instance(ctx.app.store, ctx.scope, **p)


@SD.operation("ListInstances")
def list_instances(ctx: Context, p: dict[str, Any]) -> Any:
    svc, page = domain.list_instances(ctx.app.store, ctx.scope, **p)
    return {
        "resource_owner": svc.account,
        "instances": [domain.instance_view(i, summary=True) for i in page.items],
        "next_token": page.next_token,
    }


@SD.operation("DiscoverInstances")
def discover_instances(ctx: Context, p: dict[str, Any]) -> Any:
    return discovery.discover_instances(ctx.app.store, ctx.scope, **p)


@SD.operation("DiscoverInstancesRevision")
def discover_instances_revision(ctx: Context, p: dict[str, Any]) -> Any:
    revision = discovery.discover_instances_revision(ctx.app.store, ctx.scope, **p)
    return {"instances_revision": revision}


@SD.operation("GetInstancesHealthStatus")
def get_instances_health_status(ctx: Context, p: dict[str, Any]) -> Any:
    return discovery.get_instances_health_status(ctx.app.store, ctx.scope, **p)


@SD.operation("UpdateInstanceCustomHealthStatus")
def update_instance_custom_health_status(ctx: Context, p: dict[str, Any]) -> Any:
    discovery.update_instance_custom_health_status(ctx.app.store, ctx.scope, **p)
    return {}

"""ECS cluster operations."""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import ECS
from portside.domain.ecs import clusters as domain


@ECS.operation("CreateCluster")
def create_cluster(ctx: Context, p: dict[str, Any]) -> Any:
    return {"cluster": domain.create_cluster(ctx.app.store, ctx.scope, ctx.now, **p)}


@ECS.operation("DescribeClusters")
def describe_clusters(ctx: Context, p: dict[str, Any]) -> Any:
    found, failures = domain.describe_clusters(ctx.app.store, ctx.scope, **p)
    return {"clusters": found, "failures": failures}


@ECS.operation("ListClusters")
def list_clusters(ctx: Context, p: dict[str, Any]) -> Any:
    page = domain.list_clusters(ctx.app.store, ctx.scope, **p)
    return {"cluster_arns": page.items, "next_token": page.next_token}


@ECS.operation("UpdateCluster")
def update_cluster(ctx: Context, p: dict[str, Any]) -> Any:
    return {"cluster": domain.update_cluster(ctx.app.store, ctx.scope, ctx.now, **p)}


@ECS.operation("UpdateClusterSettings")
def update_cluster_settings(ctx: Context, p: dict[str, Any]) -> Any:
    return {"cluster": domain.update_cluster(ctx.app.store, ctx.scope, ctx.now, **p)}


@ECS.operation("PutClusterCapacityProviders")
def put_cluster_capacity_providers(ctx: Context, p: dict[str, Any]) -> Any:
    return {"cluster": domain.put_cluster_capacity_providers(ctx.app.store, ctx.scope, **p)}


@ECS.operation("DeleteCluster")
def delete_cluster(ctx: Context, p: dict[str, Any]) -> Any:
    return {"cluster": domain.delete_cluster(ctx.app.store, ctx.scope, **p)}

"""ECS service deployment history operations."""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import ECS
from portside.domain.ecs import service_history as domain


@ECS.operation("ListServiceDeployments")
def list_service_deployments(ctx: Context, p: dict[str, Any]) -> Any:
    found, token = domain.list_service_deployments(ctx.app.store, ctx.scope, ctx.now, **p)
    return {"service_deployments": found, "next_token": token}


@ECS.operation("DescribeServiceDeployments")
def describe_service_deployments(ctx: Context, p: dict[str, Any]) -> Any:
    found, failures = domain.describe_service_deployments(ctx.app.store, ctx.scope, **p)
    return {"service_deployments": found, "failures": failures}


@ECS.operation("DescribeServiceRevisions")
def describe_service_revisions(ctx: Context, p: dict[str, Any]) -> Any:
    found, failures = domain.describe_service_revisions(ctx.app.store, ctx.scope, **p)
    return {"service_revisions": found, "failures": failures}


@ECS.operation("StopServiceDeployment")
def stop_service_deployment(ctx: Context, p: dict[str, Any]) -> Any:
    return domain.stop_service_deployment(ctx.app.store, ctx.scope, ctx.now, **p)

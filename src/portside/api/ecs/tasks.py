"""ECS task operations."""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import ECS
from portside.domain.ecs import tasks as domain
from portside.domain.ecs.fargate import public


@ECS.operation("RunTask")
def run_task(ctx: Context, p: dict[str, Any]) -> Any:
    tasks, failures = domain.run_task(ctx.app.store, ctx.scope, ctx.now, **p)
    return {"tasks": [public(t) for t in tasks], "failures": failures}


@ECS.operation("StartTask")
def start_task(ctx: Context, p: dict[str, Any]) -> Any:
    tasks, failures = domain.start_task(ctx.app.store, ctx.scope, ctx.now, **p)
    return {"tasks": tasks, "failures": failures}


@ECS.operation("StopTask")
def stop_task(ctx: Context, p: dict[str, Any]) -> Any:
    return {"task": public(domain.stop_task(ctx.app.store, ctx.scope, ctx.now, **p))}


@ECS.operation("DescribeTasks")
def describe_tasks(ctx: Context, p: dict[str, Any]) -> Any:
    found, failures = domain.describe_tasks(ctx.app.store, ctx.scope, **p)
    return {"tasks": [public(t) for t in found], "failures": failures}


@ECS.operation("ListTasks")
def list_tasks(ctx: Context, p: dict[str, Any]) -> Any:
    page = domain.list_tasks(ctx.app.store, ctx.scope, **p)
    return {"task_arns": page.items, "next_token": page.next_token}

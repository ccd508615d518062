"""EC2 launch template operations (ec2 protocol)."""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import EC2
from portside.domain.autoscaling import launch_templates as domain


@EC2.operation("CreateLaunchTemplate")
def create_launch_template(ctx: Context, p: dict[str, Any]) -> Any:
    template = domain.create_launch_template(ctx.app.store, ctx.scope, ctx.now, **p)
    return {"launch_template": template}


@EC2.operation("DescribeLaunchTemplates")
def describe_launch_templates(ctx: Context, p: dict[str, Any]) -> Any:
    found, token = domain.describe_launch_templates(ctx.app.store, ctx.scope, **p)
    return {"launch_templates": found, "next_token": token}


@EC2.operation("DeleteLaunchTemplate")
def delete_launch_template(ctx: Context, p: dict[str, Any]) -> Any:
    return {"launch_template": domain.delete_launch_template(ctx.app.store, ctx.scope, **p)}

"""EC2 Auto Scaling operations (query protocol)."""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import AUTOSCALING
from portside.domain.autoscaling import groups, instances


@AUTOSCALING.operation("CreateAutoScalingGroup")
def create_auto_scaling_group(ctx: Context, p: dict[str, Any]) -> Any:
    groups.create_auto_scaling_group(ctx.app.store, ctx.scope, ctx.now, **p)
    return {}


@AUTOSCALING.operation("DescribeAutoScalingGroups")
def describe_auto_scaling_groups(ctx: Context, p: dict[str, Any]) -> Any:
    found, token = groups.describe_auto_scaling_groups(ctx.app.store, ctx.scope, **p)
    return {"auto_scaling_groups": found, "next_token": token}


@AUTOSCALING.operation("UpdateAutoScalingGroup")
def update_auto_scaling_group(ctx: Context, p: dict[str, Any]) -> Any:
    groups.update_auto_scaling_group(ctx.app.store, ctx.scope, **p)
    return {}


@AUTOSCALING.operation("DeleteAutoScalingGroup")
def delete_auto_scaling_group(ctx: Context, p: dict[str, Any]) -> Any:
    groups.delete_auto_scaling_group(ctx.app.store, ctx.scope, **p)
    return {}


@AUTOSCALING.operation("SetInstanceProtection")
def set_instance_protection(ctx: Context, p: dict[str, Any]) -> Any:
    instances.set_instance_protection(ctx.app.store, ctx.scope, **p)
    return {}


@AUTOSCALING.operation("DescribeAutoScalingInstances")
def describe_auto_scaling_instances(ctx: Context, p: dict[str, Any]) -> Any:
    found, token = instances.describe_auto_scaling_instances(ctx.app.store, ctx.scope, **p)
    return {"auto_scaling_instances": found, "next_token": token}


@AUTOSCALING.operation("TerminateInstanceInAutoScalingGroup")
def terminate_instance_in_auto_scaling_group(ctx: Context, p: dict[str, Any]) -> Any:
    activity = instances.terminate_instance_in_auto_scaling_group(
        ctx.app.store, ctx.scope, ctx.now, **p
    )
    return {"activity": activity}

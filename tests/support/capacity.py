"""Managed scaling in tests: Auto Scaling groups for a server, and its capacity views.

Groups are made as a user makes them (EC2 CreateLaunchTemplate, Auto Scaling
CreateAutoScalingGroup with the ``portside:launcher`` tags); ``capacity`` and
``metrics`` read ``POST /_portside/capacity`` and ``GET /metrics``.
"""

from __future__ import annotations

import urllib.request
from typing import Any

from portside.cli.client import signed_post
from tests.helpers import Server


def create_group(server: Server, name: str, *, launcher: str = "local",
                 zones: tuple[str, ...] = ("us-east-1a",), instance_type: str = "t3.small",
                 min_size: int = 0, max_size: int = 4, protect: bool = False,
                 launch_command: str | None = None,
                 terminate_command: str | None = None) -> str:
    """An Auto Scaling group (and its launch template) through boto3; return its ARN."""
    server.client("ec2").create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"InstanceType": instance_type})
    tags = [("portside:launcher", launcher), ("portside:launch-command", launch_command),
            ("portside:terminate-command", terminate_command)]
    asg = server.client("autoscaling")
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=min_size, MaxSize=max_size,
        AvailabilityZones=list(zones), LaunchTemplate={"LaunchTemplateName": name},
        NewInstancesProtectedFromScaleIn=protect,
        Tags=[{"Key": k, "Value": v} for k, v in tags if v is not None])
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return str(group["AutoScalingGroupARN"])


def capacity(server: Server, cluster: str | None = None, activities: int = 100) -> list[Any]:
    out = signed_post(server.endpoint, "us-east-1", "/_portside/capacity",
                      {"cluster": cluster, "activities": activities})
    return list(out["providers"])


def provider(server: Server, name: str) -> dict[str, Any]:
    return next(p for p in capacity(server) if p["name"] == name)


def metrics(server: Server) -> str:
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=10) as resp:
        return str(resp.read().decode())


def create_provider(ecs: Any, name: str, group: str, *, target: int = 100, warmup: int = 0,
                    protection: bool = False, draining: bool = True) -> None:
    ecs.create_capacity_provider(name=name, autoScalingGroupProvider={
        "autoScalingGroupArn": group,
        "managedScaling": {"status": "ENABLED", "targetCapacity": target,
                           "instanceWarmupPeriod": warmup},
        "managedTerminationProtection": "ENABLED" if protection else "DISABLED",
        "managedDraining": "ENABLED" if draining else "DISABLED",
    })

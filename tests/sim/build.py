"""Scenario documents for simulator tests, in the API-request shapes a user would paste."""

from __future__ import annotations

from typing import Any

from portside.sim.runner import Result, Runner
from portside.sim.scenario import parse


def group(name: str, zones: list[str], *, template: str = "m5-large", max_size: int = 50,
          desired: int = 0, min_size: int = 0, protected: bool = True) -> dict[str, Any]:
    return {
        "AutoScalingGroupName": name, "LaunchTemplate": {"LaunchTemplateName": template},
        "MinSize": min_size, "MaxSize": max_size, "DesiredCapacity": desired,
        "AvailabilityZones": zones, "NewInstancesProtectedFromScaleIn": protected,
    }


def provider(name: str, group_name: str, *, target: int = 100, protection: bool = True,
             **scaling: Any) -> dict[str, Any]:
    return {
        "name": name,
        "autoScalingGroupProvider": {
            "autoScalingGroupArn": group_name,
            "managedScaling": {"status": "ENABLED", "targetCapacity": target, **scaling},
            "managedTerminationProtection": "ENABLED" if protection else "DISABLED",
        },
    }


def taskdef(family: str, cpu: int, memory: int, **extra: Any) -> dict[str, Any]:
    return {
        "family": family,
        "containerDefinitions": [
            {"name": "app", "image": "app:1", "cpu": cpu, "memory": memory, "essential": True}
        ],
        **extra,
    }


def service(name: str, family: str, desired: int, **extra: Any) -> dict[str, Any]:
    return {"cluster": "sim", "serviceName": name, "taskDefinition": family,
            "desiredCount": desired, **extra}


def scenario(*, groups: list[dict[str, Any]], providers: list[dict[str, Any]],
             taskdefs: list[dict[str, Any]], services: list[dict[str, Any]],
             strategy: list[dict[str, Any]] | None = None, duration: str = "1h",
             instance_type: str = "m5.large", seed: int = 1, **extra: Any) -> dict[str, Any]:
    names = [p["name"] for p in providers]
    return {
        "name": "test",
        "seed": seed,
        "duration": duration,
        "launchTemplates": [{"LaunchTemplateName": "m5-large",
                             "LaunchTemplateData": {"InstanceType": instance_type}}],
        "autoScalingGroups": groups,
        "capacityProviders": providers,
        "clusters": [{
            "clusterName": "sim", "capacityProviders": names,
            "defaultCapacityProviderStrategy": strategy
            or [{"capacityProvider": n, "weight": 1} for n in names],
        }],
        "taskDefinitions": taskdefs,
        "services": services,
        **extra,
    }


def run(doc: dict[str, Any]) -> Result:
    return Runner(parse(doc)).run()


def at(result: Result, minute: float) -> dict[str, Any]:
    """The timeline row of ``minute``."""
    return next(r for r in result.timeline.rows if r["minute"] == minute)

"""Simulator benchmark: 24 hours of a large cluster, one-minute ticks.

Three zonal capacity providers (one Auto Scaling group of m5.xlarge per
Availability Zone, managed scaling and termination protection on) serve
SERVICES services of equal weight on all three; each service follows a daily
cycle between a third of its peak and its peak, changed every 15 minutes (the
cadence of a service's own target tracking). At peak the cluster runs TASKS
tasks of 0.375 vCPU / 1.5 GiB: ten fit an m5.xlarge, so about TASKS / 10
instances. Prints one JSON document with the wall time, the simulated hours,
the peaks and the cost.

    .venv/bin/python bench/simulate.py [--tasks 10000] [--services 10] [--hours 24] [--every 15m]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

from portside.sim.runner import Runner
from portside.sim.scenario import parse
from portside.sim.summary import summarize

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def scenario(tasks: int, services: int, hours: float, seed: int,
             every: str = "15m") -> dict[str, Any]:
    peak = tasks // services
    providers = [f"cp-{z[-1]}" for z in ZONES]
    return {
        "name": "bench-daily-cycle",
        "seed": seed,
        "duration": f"{hours}h",
        "launchTemplates": [{"LaunchTemplateName": "m5-xlarge",
                             "LaunchTemplateData": {"InstanceType": "m5.xlarge"}}],
        "autoScalingGroups": [
            {"AutoScalingGroupName": f"asg-{z[-1]}", "LaunchTemplate": {"LaunchTemplateName": "m5-xlarge"},
             "MinSize": 0, "MaxSize": 2000, "DesiredCapacity": 0, "AvailabilityZones": [z],
             "NewInstancesProtectedFromScaleIn": True}
            for z in ZONES
        ],
        "capacityProviders": [
            {"name": p, "autoScalingGroupProvider": {
                "autoScalingGroupArn": f"asg-{z[-1]}",
                "managedScaling": {"status": "ENABLED", "targetCapacity": 100,
                                   "maximumScalingStepSize": 200},
                "managedTerminationProtection": "ENABLED"}}
            for p, z in zip(providers, ZONES, strict=True)
        ],
        "clusters": [{"clusterName": "bench", "capacityProviders": providers,
                      "defaultCapacityProviderStrategy": [
                          {"capacityProvider": p, "weight": 1} for p in providers]}],
        "taskDefinitions": [{"family": "app", "containerDefinitions": [
            {"name": "app", "image": "app:1", "cpu": 384, "memory": 1536, "essential": True}]}],
        "services": [
            {"cluster": "bench", "serviceName": f"svc-{i:02d}", "taskDefinition": "app",
             "desiredCount": peak // 3, "placementStrategy": [{"type": "binpack", "field": "cpu"}]}
            for i in range(services)
        ],
        "schedules": [
            {"cluster": "bench", "service": f"svc-{i:02d}",
             "dailyCycle": {"min": peak // 3, "max": peak, "peakAt": "14h", "every": every}}
            for i in range(services)
        ],
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--services", type=int, default=10)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--every", default="15m", help="how often desired counts change")
    args = ap.parse_args()
    sc = parse(scenario(args.tasks, args.services, args.hours, args.seed, args.every))
    began, cpu = time.perf_counter(), time.process_time()
    result = Runner(sc).run()
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    s = summarize(result)
    peak_instances = max(
        sum(r.get(f"instances:{g}", 0) for g in result.timeline.groups) for r in result.timeline.rows
    )
    print(json.dumps({
        "benchmark": "simulate",
        "python": platform.python_version(),
        "simulated_hours": s["simulated_hours"],
        "ticks": len(result.timeline.rows),
        "desired_count_changes_every": args.every,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "target_seconds": 30,
        "peak_tasks_running": s["peak_tasks_running"],
        "peak_instances": peak_instances,
        "max_tasks_waiting": s["max_tasks_waiting"],
        "scaling_actions": s["scaling_actions"],
        "cost_usd": s["cost_usd"],
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()

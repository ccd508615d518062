"""Placement engine benchmark: 100,000 tasks onto 1,000 and 5,000 instances in 3 zones.

Every task asks for ``spread(attribute:ecs.availability-zone), binpack(memory)``
and a ``memberOf`` constraint (one instance in ten is a t3 the constraint
excludes); the tasks come in three sizes, all of one service. Prints one JSON
document: per cluster size, placements per second (wall clock, and per second of
this process's CPU time, which other load on the machine disturbs less), the zone
imbalance (max - min tasks per zone), instances used, and the lower bound on
instances a perfect packing would need (total memory / memory per instance,
per zone).

    .venv/bin/python bench/scheduler.py [--tasks N] [--instances 1000,5000] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from collections import Counter

from portside.scheduler.engine import place
from portside.scheduler.model import Constraint, InstanceState, Strategy, TaskRequest

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
RESERVED = frozenset({22, 2375, 2376, 51678, 51679})
# (instance type, cpu units, MiB) — what the ECS agent registers for these types.
TYPES = {"m5.4xlarge": (16384, 63400), "t3.2xlarge": (8192, 31600)}
SIZES = ((32, 128), (64, 256), (128, 512))  # (cpu units, MiB) per task, cycled


def instances(n: int) -> list[InstanceState]:
    out = []
    for i in range(n):
        kind = "t3.2xlarge" if i % 10 == 9 else "m5.4xlarge"
        cpu, memory = TYPES[kind]
        out.append(
            InstanceState(
                arn=f"arn:aws:ecs:us-east-1:000000000000:container-instance/bench/{i:032x}",
                ec2_instance_id=f"i-{i:017x}",
                attributes={
                    "ecs.availability-zone": ZONES[i % 3],
                    "ecs.instance-type": kind,
                    "ecs.os-type": "linux",
                },
                cpu=cpu,
                memory=memory,
                registered_cpu=cpu,
                registered_memory=memory,
                ports=RESERVED,
            )
        )
    return out


def tasks(n: int) -> list[TaskRequest]:
    strategies = (
        Strategy.of("spread", "attribute:ecs.availability-zone"),
        Strategy.of("binpack", "memory"),
    )
    constraints = (Constraint.of("memberOf", "attribute:ecs.instance-type =~ m5.*"),)
    kinds = [
        TaskRequest(cpu=c, memory=m, group="service:web", strategies=strategies,
                    constraints=constraints)
        for c, m in SIZES
    ]  # fmt: skip
    return [kinds[i % len(kinds)] for i in range(n)]


def run(n_instances: int, n_tasks: int, seed: int) -> dict[str, object]:
    snapshot = instances(n_instances)
    batch = tasks(n_tasks)
    started, cpu_started = time.perf_counter(), time.process_time()
    result = place(snapshot, batch, seed)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    zone_of = {s.arn: s.attributes["ecs.availability-zone"] for s in snapshot}
    per_zone = Counter(zone_of[p.instance_arn] for p in result.placed)
    used = {p.instance_arn for p in result.placed}
    memory_per_zone: Counter[str] = Counter()
    for p in result.placed:
        memory_per_zone[zone_of[p.instance_arn]] += p.reservation.memory
    bound = sum(math.ceil(m / TYPES["m5.4xlarge"][1]) for m in memory_per_zone.values())
    return {
        "instances": n_instances,
        "tasks": n_tasks,
        "placed": len(result.placed),
        "seconds": round(elapsed, 3),
        "placements_per_second": round(n_tasks / elapsed),
        "cpu_seconds": round(cpu, 3),
        "placements_per_cpu_second": round(n_tasks / cpu),
        "zone_counts": dict(sorted(per_zone.items())),
        "imbalance": max(per_zone.values()) - min(per_zone.values()) if per_zone else 0,
        "instances_used": len(used),
        "instances_lower_bound": bound,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--instances", default="1000,5000")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results = [run(int(n), args.tasks, args.seed) for n in args.instances.split(",")]
    print(json.dumps({"python": platform.python_version(), "results": results}, indent=2))


if __name__ == "__main__":
    main()

"""``portside status`` and ``portside explain``: look at a running control plane."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from portside.cli.client import call, client, endpoint_option, signed_post


def _short(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _all(ecs: Any, op: str, key: str, **kw: Any) -> list[str]:
    out: list[str] = []
    for page in ecs.get_paginator(op).paginate(**kw):
        out += page[key]
    return out


@click.command()
@endpoint_option
@click.option("--cluster", "only", help="Show one cluster only.")
def status(endpoint: str, region: str, only: str | None) -> None:
    """Clusters, services, tasks and container instances, as tables."""
    ecs = client("ecs", endpoint, region)
    console = Console()
    clusters = [only] if only else call(_all, ecs=ecs, op="list_clusters", key="clusterArns")
    if not clusters:
        console.print("no clusters: create one with `aws ecs create-cluster`")
        return
    described = call(ecs.describe_clusters, clusters=clusters)
    if described["failures"]:
        raise click.ClickException(f"no such cluster: {described['failures'][0]['arn']}")
    t = Table(title="clusters")
    for col in ("cluster", "status", "instances", "services", "running", "pending"):
        t.add_column(col)
    for c in described["clusters"]:
        t.add_row(c["clusterName"], c["status"], str(c["registeredContainerInstancesCount"]),
                  str(c["activeServicesCount"]), str(c["runningTasksCount"]),
                  str(c["pendingTasksCount"]))
    console.print(t)
    for c in described["clusters"]:
        _cluster_tables(console, ecs, c["clusterArn"], c["clusterName"])


def _cluster_tables(console: Console, ecs: Any, arn: str, name: str) -> None:
    instances = _all(ecs, "list_container_instances", "containerInstanceArns", cluster=arn)
    if instances:
        t = Table(title=f"{name}: container instances")
        for col in ("instance", "ec2 id", "status", "agent", "az", "cpu left", "mem left", "tasks"):
            t.add_column(col)
        for i in range(0, len(instances), 100):
            got = ecs.describe_container_instances(cluster=arn, containerInstances=instances[i:i + 100])
            for ci in got["containerInstances"]:
                rem = {r["name"]: r.get("integerValue") for r in ci.get("remainingResources", [])}
                attrs = {a["name"]: a.get("value") for a in ci.get("attributes", [])}
                t.add_row(_short(ci["containerInstanceArn"]), ci.get("ec2InstanceId", ""),
                          ci["status"], "connected" if ci["agentConnected"] else "LOST",
                          attrs.get("ecs.availability-zone") or "", str(rem.get("CPU", "")),
                          str(rem.get("MEMORY", "")),
                          f"{ci['runningTasksCount']} running, {ci['pendingTasksCount']} pending")
        console.print(t)
    services = _all(ecs, "list_services", "serviceArns", cluster=arn)
    if services:
        t = Table(title=f"{name}: services")
        for col in ("service", "status", "desired", "running", "pending", "rollout", "last event"):
            t.add_column(col)
        for i in range(0, len(services), 10):
            for s in ecs.describe_services(cluster=arn, services=services[i:i + 10])["services"]:
                primary: dict[str, Any] = next(
                    (d for d in s["deployments"] if d["status"] == "PRIMARY"), {}
                )
                events = s.get("events") or [{}]
                t.add_row(s["serviceName"], s["status"], str(s["desiredCount"]),
                          str(s["runningCount"]), str(s["pendingCount"]),
                          primary.get("rolloutState", ""), events[0].get("message", ""))
        console.print(t)
    tasks = _all(ecs, "list_tasks", "taskArns", cluster=arn)
    if tasks:
        t = Table(title=f"{name}: tasks")
        for col in ("task", "definition", "last", "desired", "health", "instance", "group"):
            t.add_column(col)
        for i in range(0, len(tasks), 100):
            for task in ecs.describe_tasks(cluster=arn, tasks=tasks[i:i + 100])["tasks"]:
                t.add_row(_short(task["taskArn"]), _short(task["taskDefinitionArn"]),
                          task["lastStatus"], task["desiredStatus"],
                          task.get("healthStatus", ""),
                          _short(task.get("containerInstanceArn", "")), task.get("group", ""))
        console.print(t)


@click.command()
@endpoint_option
@click.option("--cluster", default="default", show_default=True)
@click.argument("subject", required=False)
def explain(endpoint: str, region: str, cluster: str, subject: str | None) -> None:
    """Why a task went where it did, or why it was not placed.

    SUBJECT is a task id or ARN, or a service name (its last placement); with
    no SUBJECT, the cluster's last RunTask that placed nothing.
    """
    out = signed_post(endpoint, region, "/_portside/explain",
                      {"cluster": cluster, "subject": subject})
    click.echo(f"{out['subject']}  (at {out['createdAt']})")
    if out["strategies"]:
        click.echo(f"strategies: {', '.join(out['strategies'])}")
    click.echo(out["explanation"])

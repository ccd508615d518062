"""`portside status` and `portside explain` against a real server."""

from __future__ import annotations

import subprocess
import sys

from tests.contract.ecs_fixtures import cluster_with_instances, register_td
from tests.helpers import Server


def _portside(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portside.cli.main", *args, "--endpoint", server.endpoint],
        capture_output=True, text=True, env=server.cli_env(), timeout=60,
    )


def test_explain_a_placed_task_and_a_failure(server: Server) -> None:
    ecs = server.client()
    cluster, _ = cluster_with_instances(ecs, 2, cpu=1024, memory=1024)
    td = register_td(ecs, memory=512)
    task = ecs.run_task(cluster=cluster, taskDefinition=td["family"],
                        placementStrategy=[{"type": "binpack", "field": "memory"}])["tasks"][0]
    out = _portside(server, "explain", "--cluster", cluster, task["taskArn"].rsplit("/", 1)[-1])
    assert out.returncode == 0, out.stderr
    assert "binpack(memory)" in out.stdout
    assert task["containerInstanceArn"] in out.stdout

    big = register_td(ecs, memory=4096)
    failed = ecs.run_task(cluster=cluster, taskDefinition=big["family"])
    assert failed["tasks"] == []
    out = _portside(server, "explain", "--cluster", cluster)
    assert out.returncode == 0, out.stderr
    assert "RESOURCE:MEMORY" in out.stdout
    assert "has insufficient memory available" in out.stdout

    missing = _portside(server, "explain", "--cluster", cluster, "f" * 32)
    assert missing.returncode != 0
    assert "No placement explanation" in missing.stderr


def test_status_shows_cluster_tables(server: Server) -> None:
    ecs = server.client()
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)
    ecs.run_task(cluster=cluster, taskDefinition=td["family"])
    out = _portside(server, "status", "--cluster", cluster)
    assert out.returncode == 0, out.stderr
    assert cluster in out.stdout
    assert "container instances" in out.stdout
    assert "PENDING" in out.stdout


def test_status_unreachable_endpoint_says_what_to_do(tmp_path: object) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "portside.cli.main", "status", "--endpoint", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0
    assert "portside up" in out.stderr

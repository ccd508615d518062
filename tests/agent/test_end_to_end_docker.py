"""End to end with the Docker driver: ``portside up``, ``portside agent``, boto3, busybox.

Tasks are placed by the real control plane's RunTask onto an agent the test
starts; the agent runs them as containers of the locally built busybox image.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.agent.e2e import cluster, needs_docker, until
from tests.support.images import ensure_busybox_image

pytestmark = [pytest.mark.slow, pytest.mark.docker]


@pytest.fixture(scope="module")
def busybox() -> str:
    needs_docker()
    return ensure_busybox_image()


@pytest.fixture(scope="module")
def docker_api() -> Any:
    import docker

    client = docker.from_env(timeout=30)
    yield client
    client.close()


def httpd(image: str, **extra: Any) -> dict[str, Any]:
    return {"name": "web", "image": image, "memory": 64, "essential": True,
            "command": ["httpd", "-f", "-p", "80", "-h", "/www"],
            "portMappings": [{"containerPort": 80}], "stopTimeout": 2, **extra}


def get(url: str) -> bytes:
    def once() -> bytes | None:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return bytes(r.read())
        except OSError:
            return None

    return bytes(until(once, 60, f"GET {url}"))


def containers(docker_api: Any, task_arn: str) -> list[Any]:
    return list(docker_api.containers.list(all=True, filters={"label": f"com.amazonaws.ecs.task-arn={task_arn}"}))


def test_busybox_httpd_runs_answers_and_stops(tmp_path: Path, busybox: str, docker_api: Any) -> None:
    with cluster(tmp_path) as c:
        agent = c.agent("docker")
        (ci,) = c.ecs.describe_container_instances(cluster=c.name, containerInstances=[agent.instance_arn])[
            "containerInstances"
        ]
        assert ci["versionInfo"]["dockerVersion"].startswith("DockerVersion: ")
        arn = c.run_task(c.task_definition([httpd(busybox)]))
        task = c.wait(arn, "RUNNING")
        (binding,) = task["containers"][0]["networkBindings"]
        assert get(f"http://127.0.0.1:{binding['hostPort']}/") == b"portside busybox\n"
        (container,) = containers(docker_api, arn)
        assert container.id == task["containers"][0]["runtimeId"]

        c.ecs.stop_task(cluster=c.name, task=arn)
        stopped = c.wait(arn, "STOPPED")
        assert stopped["stopCode"] == "UserInitiated"
        assert stopped["containers"][0]["exitCode"] == 137  # httpd as PID 1 ignores SIGTERM
        assert "pullStartedAt" in stopped
        until(lambda: containers(docker_api, arn) == [], 60, "the container is removed", c)


def test_an_image_that_cannot_be_pulled_fails_to_start(tmp_path: Path, busybox: str) -> None:
    with cluster(tmp_path) as c:
        c.agent("docker")
        arn = c.run_task(c.task_definition([{"name": "app", "image": "127.0.0.1:9/absent/image:1",
                                             "memory": 64}]))
        stopped = c.wait(arn, "STOPPED")
        assert stopped["stoppedReason"].startswith("CannotPullContainerError: ")
        assert stopped["stopCode"] == "TaskFailedToStart"
        assert stopped["containers"][0]["reason"].startswith("CannotPullContainerError: ")


def test_awsvpc_task_gets_an_address_reported_as_its_eni(tmp_path: Path, busybox: str) -> None:
    with cluster(tmp_path) as c:
        c.agent("docker")
        arn = c.run_task(c.task_definition([httpd(busybox)], network_mode="awsvpc"),
                         networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"]}})
        c.wait(arn, "RUNNING")

        def address() -> str | None:
            for a in c.describe(arn).get("attachments") or ():
                details = {d["name"]: d["value"] for d in a.get("details") or ()}
                if a["type"] == "ElasticNetworkInterface" and details.get("privateIPv4Address"):
                    return str(details["privateIPv4Address"])
            return None

        ip = until(address, 60, "the ENI attachment", c)
        assert ip.startswith("10.213.")
        assert get(f"http://{ip}/") == b"portside busybox\n"
        task = c.describe(arn)
        assert task["containers"][0]["networkInterfaces"][0]["privateIpv4Address"] == ip


def test_the_metadata_endpoint_answers_from_inside_a_container(
    tmp_path: Path, busybox: str, docker_api: Any
) -> None:
    script = (
        'u=${ECS_CONTAINER_METADATA_URI_V4#http://}; hp=${u%%/*}; path=/${u#*/}; '
        # busybox nc closes the connection at the end of its input: keep it open a moment
        # and ask again should the answer not come in time (a loaded machine)
        'until [ -s /tmp/task.json ]; do (printf "GET $path/task HTTP/1.0\\r\\n\\r\\n"; sleep 2) '
        '| nc ${hp%:*} ${hp#*:} | sed "1,/^\\r$/d" > /tmp/task.json; done; '
        'echo; echo "TASK=$(cat /tmp/task.json)"; sleep 300'
    )
    with cluster(tmp_path) as c:
        c.agent("docker")
        arn = c.run_task(c.task_definition([{"name": "meta", "image": busybox, "memory": 32,
                                             "command": ["sh", "-c", script], "stopTimeout": 1}]))
        task = c.wait(arn, "RUNNING")
        runtime_id = task["containers"][0]["runtimeId"]

        def doc() -> dict[str, Any] | None:
            out = docker_api.containers.get(runtime_id).logs().decode()
            for line in out.splitlines():
                if line.startswith("TASK="):
                    return dict(json.loads(line[5:]))
            return None

        meta = until(doc, 60, "the metadata document", c)
        assert meta["TaskARN"] == arn and meta["Cluster"] == task["clusterArn"]
        assert meta["KnownStatus"] in ("PENDING", "ACTIVATING", "RUNNING") and meta["DesiredStatus"] == "RUNNING"
        (container,) = meta["Containers"]
        assert container["DockerId"] == runtime_id and container["Name"] == "meta"
        assert container["ContainerARN"] == task["containers"][0]["containerArn"]


def test_killing_and_restarting_the_agent_duplicates_no_container(
    tmp_path: Path, busybox: str, docker_api: Any
) -> None:
    with cluster(tmp_path) as c:
        agent = c.agent("docker")
        td = c.task_definition([httpd(busybox)])
        keep, drop = c.run_task(td), c.run_task(td)
        ids = {arn: c.wait(arn, "RUNNING")["containers"][0]["runtimeId"] for arn in (keep, drop)}
        agent.kill()
        c.ecs.stop_task(cluster=c.name, task=drop, reason="while the agent was away")
        agent.start()
        c.wait(drop, "STOPPED")
        until(lambda: containers(docker_api, drop) == [], 60, "the stopped task's container goes", c)
        assert [x.id for x in containers(docker_api, keep)] == [ids[keep]]
        task = c.describe(keep)
        assert task["lastStatus"] == "RUNNING" and task["containers"][0]["runtimeId"] == ids[keep]

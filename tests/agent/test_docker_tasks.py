"""The task lifecycle with the Docker driver: real containers from the busybox test image.

The control plane is replaced by a recorder (tests/agent/rig.py); everything
from the engine down runs as ``portside agent`` runs it.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from portside.agent.drivers.docker import AWSVPC_NETWORK, DockerDriver
from portside.agent.ports import dynamic_range
from portside.agent.state import StateDir
from tests.agent.rig import Rig, http_get, payload, stopped

pytestmark = [pytest.mark.slow, pytest.mark.docker]


def rig(tmp_path: Path) -> Rig:
    identity = StateDir(tmp_path / "agent")
    identity.prepare()
    return Rig(tmp_path / "agent", DockerDriver(identity.load_identity().instance_id))


def httpd(image: str, **extra: Any) -> dict[str, Any]:
    return {"name": "web", "image": image, "command": ["httpd", "-f", "-p", "80", "-h", "/www"],
            "portMappings": [{"containerPort": 80}], "stopTimeout": 1, **extra}


def containers_of(client: Any, task_arn: str) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": f"com.amazonaws.ecs.task-arn={task_arn}"}))


def test_busybox_httpd_on_a_dynamic_host_port(tmp_path: Path, busybox: str, docker_client: Any) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([httpd(busybox, memory=64, cpu=128, dockerLabels={"team": "a"},
                               linuxParameters={"initProcessEnabled": True})])
            arn = p["taskArn"]
            await r.run(p)
            running = await r.status(arn, "RUNNING")
            (binding,) = running["containers"][0]["networkBindings"]
            low, high = dynamic_range()  # the range the agent was given
            assert low <= binding["hostPort"] <= high
            assert await http_get(f"http://127.0.0.1:{binding['hostPort']}/") == b"portside busybox\n"

            (c,) = containers_of(docker_client, arn)
            assert c.id == running["containers"][0]["runtimeId"]
            assert c.name.startswith("ecs-rig-1-web-")
            labels = c.labels
            assert labels["com.amazonaws.ecs.container-name"] == "web"
            assert labels["com.amazonaws.ecs.cluster"] == "rig" and labels["team"] == "a"
            assert c.attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
            assert c.attrs["HostConfig"]["CpuShares"] == 128
            env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])
            assert re.fullmatch(r"http://172\.\d+\.\d+\.1:\d+/v4/[0-9a-f]{32}", env["ECS_CONTAINER_METADATA_URI_V4"])

            await r.run(stopped(p))
            final = await r.status(arn, "STOPPED")
            assert final["containers"][0]["exitCode"] == 143  # tini forwards SIGTERM to httpd
            assert containers_of(docker_client, arn) == []  # removed at DEPROVISIONING

    asyncio.run(main())


def test_awsvpc_task_has_its_own_address_shared_by_its_containers(
    tmp_path: Path, busybox: str, docker_client: Any
) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            # asks httpd on localhost until it answers (it may start later on a loaded machine)
            probe = ("for i in $(seq 40); do (printf 'GET / HTTP/1.0\\r\\n\\r\\n'; sleep 1) "
                     "| nc 127.0.0.1 80 | grep -q 'portside busybox' && exit 0; sleep 0.2; done; exit 1")
            sidecar = {"name": "probe", "image": busybox, "essential": False,
                       "command": ["sh", "-c", probe]}
            p = payload([httpd(busybox), sidecar], network_mode="awsvpc")
            arn = p["taskArn"]
            await r.run(p)
            running = await r.status(arn, "RUNNING")
            assert all("networkBindings" not in c for c in running["containers"])
            ((_, net, names),) = r.notifier.networks
            assert names == ["web", "probe"] and net.address is not None
            network = docker_client.networks.get(AWSVPC_NETWORK)
            subnet = network.attrs["IPAM"]["Config"][0]["Subnet"]
            assert net.subnet_cidr == subnet
            assert await http_get(f"http://{net.address}/") == b"portside busybox\n"
            # the sidecar reached httpd on localhost: one network namespace
            (code,) = await r.until(lambda: _probe_exit(r, arn) is not None and [_probe_exit(r, arn)],
                                    what="probe exits")
            assert code == 0
            pause = [c for c in containers_of(docker_client, arn) if c.labels.get("io.portside.role") == "pause"]
            assert len(pause) == 1
            await r.run(stopped(p))
            await r.status(arn, "STOPPED")
            assert containers_of(docker_client, arn) == []

    asyncio.run(main())


def _probe_exit(r: Rig, arn: str) -> int | None:
    for op, params in r.ecs.calls:
        if op == "SubmitContainerStateChange" and params.get("containerName") == "probe":
            return int(params["exitCode"])
    probe = r.ecs.container(arn, "probe")  # or in a task report
    return int(probe["exitCode"]) if probe["status"] == "STOPPED" else None


def test_an_image_that_cannot_be_pulled_fails_the_task(tmp_path: Path, busybox: str) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([{"name": "app", "image": "127.0.0.1:9/portside/absent:1"}])
            await r.run(p)
            final = await r.status(p["taskArn"], "STOPPED")
            assert "RUNNING" not in r.ecs.statuses(p["taskArn"])
            assert final["reason"].startswith("CannotPullContainerError: ")
            assert final["containers"][0]["reason"] == final["reason"]
            assert final["pullStartedAt"] <= final["pullStoppedAt"]

    asyncio.run(main())


def test_essential_exit_code_and_unhealthy_container(tmp_path: Path, busybox: str) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            sick = payload([{"name": "app", "image": busybox, "command": ["sleep", "60"], "stopTimeout": 1,
                             "healthCheck": {"command": ["CMD-SHELL", "exit 1"], "interval": 1,
                                             "timeout": 1, "retries": 1}}])
            dies = payload([{"name": "app", "image": busybox, "command": ["sh", "-c", "sleep 1; exit 5"]}])
            await r.run(sick, dies)
            final = await r.status(dies["taskArn"], "STOPPED")
            assert final["reason"] == "Essential container in task exited"
            assert final["containers"][0]["exitCode"] == 5
            await r.until(lambda: any(h[0] == sick["taskArn"] and h[1] == "UNHEALTHY"
                                      for h in r.notifier.health), what="UNHEALTHY")
            m = r.e.managers[sick["taskArn"]]
            assert m.containers["app"].health.status == "UNHEALTHY" and m.known == "RUNNING"

    asyncio.run(main())


def test_the_metadata_endpoint_answers_inside_the_container(
    tmp_path: Path, busybox: str, docker_client: Any
) -> None:
    script = (
        'u=${ECS_CONTAINER_METADATA_URI_V4#http://}; hp=${u%%/*}; path=/${u#*/}; '
        # busybox nc closes the connection at the end of its input: keep it open a moment
        # and ask again should the answer not come in time (a loaded machine)
        'get() { while :; do b=$( (printf "GET $path$1 HTTP/1.0\\r\\nHost: $hp\\r\\n\\r\\n"; '
        'sleep 3) | nc ${hp%:*} ${hp#*:} | sed "1,/^\\r$/d"); [ -n "$b" ] && break; sleep 0.2; done; '
        'echo "$b"; }; '
        'sleep 0.5; echo "C=$(get)"; echo "T=$(get /task)"; echo "S=$(get /stats)"; sleep 60'
    )

    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([{"name": "meta", "image": busybox, "command": ["sh", "-c", script],
                          "stopTimeout": 1, "memory": 32, "cpu": 64}], serviceName="svc")
            arn = p["taskArn"]
            await r.run(p)
            running = await r.status(arn, "RUNNING")
            runtime_id = running["containers"][0]["runtimeId"]

            def logs() -> dict[str, Any] | None:
                out = docker_client.containers.get(runtime_id).logs().decode()
                lines = dict(line.split("=", 1) for line in out.splitlines() if line[:2] in ("C=", "T=", "S="))
                if len(lines) < 3:
                    return None
                return {k: json.loads(v) for k, v in lines.items()}

            docs = await r.until(logs, what="metadata documents in the logs")
            c, t, s = docs["C"], docs["T"], docs["S"]
            assert c["DockerId"] == runtime_id and c["Name"] == "meta" and c["Image"] == busybox
            assert c["KnownStatus"] == "RUNNING" and c["DesiredStatus"] == "RUNNING"
            assert c["Limits"] == {"CPU": 64, "Memory": 32} and c["Type"] == "NORMAL"
            assert c["Labels"]["com.amazonaws.ecs.task-arn"] == arn
            assert c["Networks"][0]["NetworkMode"] == "bridge"
            assert t["TaskARN"] == arn and t["Family"] == "rig" and t["Revision"] == "1"
            assert t["Cluster"].endswith(":cluster/rig") and t["ServiceName"] == "svc"
            assert t["LaunchType"] == "EC2" and t["AvailabilityZone"] == "us-east-1a"
            assert [x["Name"] for x in t["Containers"]] == ["meta"]
            assert "cpu_stats" in s and "memory_stats" in s

    asyncio.run(main())


def test_a_restarted_agent_adopts_its_containers(tmp_path: Path, busybox: str, docker_client: Any) -> None:
    async def main() -> None:
        keep, drop = payload([httpd(busybox)]), payload([httpd(busybox)])
        async with rig(tmp_path) as r1:
            await r1.run(keep, drop)
            first = await r1.status(keep["taskArn"], "RUNNING")
            await r1.status(drop["taskArn"], "RUNNING")
            await r1.crash()
        ids = {c.id for c in containers_of(docker_client, keep["taskArn"])}
        assert ids == {first["containers"][0]["runtimeId"]}

        async with rig(tmp_path) as r2:
            await r2.run(keep)
            again = await r2.status(keep["taskArn"], "RUNNING")
            assert again["containers"][0]["runtimeId"] in ids
            await r2.status(drop["taskArn"], "STOPPED")
            assert {c.id for c in containers_of(docker_client, keep["taskArn"])} == ids
            assert containers_of(docker_client, drop["taskArn"]) == []
            port = again["containers"][0]["networkBindings"][0]["hostPort"]
            assert await http_get(f"http://127.0.0.1:{port}/") == b"portside busybox\n"

    asyncio.run(main())


def test_task_level_limits_cap_each_container(tmp_path: Path, busybox: str, docker_client: Any) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([{"name": "app", "image": busybox, "command": ["sleep", "60"], "stopTimeout": 1}],
                        cpu="512", memory="96")
            await r.run(p)
            running = await r.status(p["taskArn"], "RUNNING")
            host = docker_client.containers.get(running["containers"][0]["runtimeId"]).attrs["HostConfig"]
            assert host["Memory"] == 96 * 1024 * 1024
            assert host["NanoCpus"] == 500_000_000

    asyncio.run(main())

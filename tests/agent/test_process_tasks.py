"""The task lifecycle with the process driver: real processes, the real engine.

The control plane is replaced by a recorder (tests/agent/rig.py); everything
from the engine down runs as ``portside agent`` runs it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from portside.agent.drivers.process import ProcessDriver
from portside.agent.drivers.process_spawn import ProcessFile
from portside.agent.ports import dynamic_range
from tests.agent.rig import Rig, http_get, payload, stopped
from tests.helpers import until

pytestmark = pytest.mark.slow

PY = sys.executable
HTTP_SERVER = (
    "import os, http.server as h\n"
    "addr = os.environ.get('PORTSIDE_ADDRESS', '0.0.0.0')\n"
    "h.ThreadingHTTPServer((addr, int(os.environ['PORT'])), h.SimpleHTTPRequestHandler).serve_forever()\n"
)
LIFECYCLE = ["PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"]


def web(**extra: Any) -> dict[str, Any]:
    return {"name": "web", "image": "python", "command": [PY, "-c", HTTP_SERVER],
            "portMappings": [{"containerPort": 8000}], "stopTimeout": 5, **extra}


def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path / "agent", ProcessDriver(tmp_path / "agent"))


def test_a_python_http_server_runs_answers_and_stops(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([web(environment=[{"name": "GREETING", "value": "hi"}])])
            arn = p["taskArn"]
            await r.run(p)
            running = await r.status(arn, "RUNNING")
            (binding,) = running["containers"][0]["networkBindings"]
            low, high = dynamic_range()  # the range the agent was given
            assert binding["containerPort"] == 8000 and low <= binding["hostPort"] <= high
            assert binding["bindIP"] == "0.0.0.0" and binding["protocol"] == "tcp"
            assert running["containers"][0]["status"] == "RUNNING"
            assert running["containers"][0]["runtimeId"]
            await http_get(f"http://127.0.0.1:{binding['hostPort']}/")
            assert r.e.running_tasks() == [arn]

            # the environment the process got
            pf = tmp_path / "agent" / "processes" / arn.rsplit("/", 1)[-1]
            pid = json.loads((pf / "web.json").read_text())["pid"]
            env = dict(
                kv.split("=", 1) for kv in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in kv
            )
            assert env["GREETING"] == "hi"
            assert env["PORT"] == env["PORTSIDE_PORT_8000"] == str(binding["hostPort"])
            assert env["PORTSIDE_NETWORK_MODE"] == "bridge"
            assert env["ECS_CONTAINER_METADATA_URI_V4"].startswith("http://127.0.0.1:")

            await r.run(stopped(p))
            final = await r.status(arn, "STOPPED")
            assert r.ecs.statuses(arn) == LIFECYCLE
            (c,) = final["containers"]
            assert c["status"] == "STOPPED" and c["exitCode"] == 143  # SIGTERM
            assert final["reason"] == "Task stopped by user"
            assert final["pullStartedAt"] is None or isinstance(final["pullStartedAt"], float)
            assert isinstance(final["executionStoppedAt"], float)
            assert not os.path.exists(f"/proc/{pid}")

    asyncio.run(main())


def test_an_essential_exit_stops_the_task_and_a_non_essential_one_does_not(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([
                # long enough for all three to start and `side` to exit first, even on a loaded machine
                {"name": "main", "command": ["sh", "-c", "sleep 3; exit 3"]},
                {"name": "side", "essential": False, "command": ["sh", "-c", "exit 0"]},
                {"name": "tail", "essential": False, "command": ["sleep", "60"], "stopTimeout": 2},
            ])
            arn = p["taskArn"]
            await r.run(p)
            await r.status(arn, "RUNNING")
            await r.until(lambda: any(
                op == "SubmitContainerStateChange" and c.get("containerName") == "side"
                for op, c in r.ecs.calls
            ) or r.ecs.container(arn, "side")["status"] == "STOPPED", what="side exits")
            final = await r.status(arn, "STOPPED")
            assert final["reason"] == "Essential container in task exited"
            exits = {c["containerName"]: c.get("exitCode") for c in final["containers"]}
            assert exits == {"main": 3, "side": 0, "tail": 143}

    asyncio.run(main())


def test_depends_on_orders_starts_and_refuses_what_cannot_be_met(tmp_path: Path) -> None:
    marker = tmp_path / "init-done"

    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([
                {"name": "app", "command": ["sh", "-c", f"test -f {marker} && exec sleep 60"],
                 "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}], "stopTimeout": 1},
                {"name": "init", "essential": False,
                 "command": ["sh", "-c", f"sleep 0.5; touch {marker}"]},
            ])
            await r.run(p)
            running = await r.status(p["taskArn"], "RUNNING")
            states = {c["containerName"]: (c["status"], c.get("exitCode")) for c in running["containers"]}
            assert states == {"app": ("RUNNING", None), "init": ("STOPPED", 0)}

            bad = payload([
                {"name": "app", "command": ["sleep", "60"],
                 "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}]},
                {"name": "init", "essential": False, "command": ["sh", "-c", "exit 4"]},
            ])
            await r.run(p, bad)
            final = await r.status(bad["taskArn"], "STOPPED")
            assert "RUNNING" not in r.ecs.statuses(bad["taskArn"])
            app = next(c for c in final["containers"] if c["containerName"] == "app")
            assert app["status"] == "STOPPED" and "exitCode" not in app
            assert app["reason"] == (
                "CannotStartContainerError: dependency 'init' exited with code 4, not 0 (condition SUCCESS)"
            )
            assert final["reason"] == app["reason"]

    asyncio.run(main())


def test_health_checks_report_healthy_then_unhealthy(tmp_path: Path) -> None:
    flag = tmp_path / "healthy"
    flag.touch()

    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([{
                "name": "app", "command": ["sleep", "60"], "stopTimeout": 1,
                "healthCheck": {"command": ["CMD-SHELL", f"test -f {flag}"], "interval": 0.2,
                                "timeout": 2, "retries": 2},
            }])
            arn = p["taskArn"]
            await r.run(p)
            await r.until(lambda: r.notifier.health and r.notifier.health[-1][1] == "HEALTHY", what="HEALTHY")
            assert r.notifier.health[-1] == (arn, "HEALTHY", [("app", "HEALTHY")])
            flag.unlink()
            await r.until(lambda: r.notifier.health[-1][1] == "UNHEALTHY", what="UNHEALTHY")
            m = r.e.managers[arn]
            assert m.containers["app"].health.exit_code == 1
            assert m.known == "RUNNING"  # an unhealthy RunTask task keeps running

    asyncio.run(main())


def test_stop_timeout_escalates_to_sigkill(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    mark = tmp_path / "signals"

    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([{"name": "stubborn", "stopTimeout": 1,
                          "environment": [{"name": "MARK", "value": str(mark)}],
                          "command": ["sh", "-c", "trap 'echo TERM >> \"$MARK\"' TERM; "
                                                  "while true; do sleep 0.1; done"]}])
            await r.run(p)
            await r.status(p["taskArn"], "RUNNING")
            await r.run(stopped(p))
            final = await r.status(p["taskArn"], "STOPPED")
            assert final["containers"][0]["exitCode"] == 137  # 128 + SIGKILL

    with caplog.at_level(logging.INFO, logger="portside.agent.process"):
        asyncio.run(main())
    assert "TERM" in mark.read_text()  # SIGTERM came first and was survived
    # then SIGKILL, after the container's stopTimeout (1 s), not the 30 s default
    assert "stubborn still runs 1 s after SIGTERM: sending SIGKILL" in caplog.messages


def test_memory_is_enforced_as_an_address_space_limit(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([{"name": "hog", "memory": 64,
                          "command": [PY, "-c", "b = bytearray(200 * 1024 * 1024)"]}])
            await r.run(p)
            final = await r.status(p["taskArn"], "STOPPED")
            assert final["containers"][0]["exitCode"] == 1
            err = (tmp_path / "agent" / "processes" / p["taskArn"].rsplit("/", 1)[-1] / "hog.stderr")
            assert "MemoryError" in err.read_text()

    asyncio.run(main())


def test_a_command_that_cannot_run_fails_the_task(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([{"name": "ghost", "command": ["/no/such/program"]}])
            await r.run(p)
            final = await r.status(p["taskArn"], "STOPPED")
            assert "RUNNING" not in r.ecs.statuses(p["taskArn"])
            assert final["reason"].startswith("CannotStartContainerError: ")
            assert "/no/such/program" in final["reason"]

    asyncio.run(main())


def test_awsvpc_gives_the_task_its_own_loopback_address(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([web(portMappings=[{"containerPort": 8000}])], network_mode="awsvpc")
            await r.run(p)
            running = await r.status(p["taskArn"], "RUNNING")
            assert "networkBindings" not in running["containers"][0]
            ((arn, net, names),) = r.notifier.networks
            assert arn == p["taskArn"] and names == ["web"]
            assert net.address is not None and net.address.startswith("127.")
            assert net.address.split(".")[1] in {str(i) for i in range(64, 128)}
            await http_get(f"http://{net.address}:8000/")

    asyncio.run(main())


def test_a_restarted_agent_adopts_its_processes_and_stops_what_was_stopped_meanwhile(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        keep, drop = payload([web()]), payload([web()])
        async with rig(tmp_path) as r1:
            await r1.run(keep, drop)
            first = await r1.status(keep["taskArn"], "RUNNING")
            await r1.status(drop["taskArn"], "RUNNING")
            port = first["containers"][0]["networkBindings"][0]["hostPort"]
            pids = _pids(tmp_path)
            await r1.crash()  # the agent dies; its processes do not
        assert all(os.path.exists(f"/proc/{pid}") for pid in pids.values())

        async with rig(tmp_path) as r2:
            await r2.run(keep)  # the control plane stopped `drop` meanwhile
            again = await r2.status(keep["taskArn"], "RUNNING")
            assert again["containers"][0]["networkBindings"][0]["hostPort"] == port
            await r2.status(drop["taskArn"], "STOPPED")
            assert _pids(tmp_path)[keep["taskArn"]] == pids[keep["taskArn"]]  # adopted, not restarted
            assert not os.path.exists(f"/proc/{pids[drop['taskArn']]}")
            await http_get(f"http://127.0.0.1:{port}/")

            # the adopted process's exit is still seen, with its code
            os.killpg(pids[keep["taskArn"]], 9)
            final = await r2.status(keep["taskArn"], "STOPPED")
            assert final["containers"][0]["exitCode"] == 137
            assert final["reason"] == "Essential container in task exited"

    asyncio.run(main())


def _pids(tmp_path: Path) -> dict[str, int]:
    out = {}
    for f in (tmp_path / "agent" / "processes").glob("*/web.json"):
        doc = json.loads(f.read_text())
        out[doc["task_arn"]] = doc["pid"]
    return out


def test_reports_survive_a_control_plane_that_fails(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            r.ecs.fail_next = 2
            p = payload([{"name": "s", "command": ["sleep", "60"], "stopTimeout": 1}])
            await r.run(p)
            await r.status(p["taskArn"], "RUNNING")
            assert r.ecs.statuses(p["taskArn"]) == ["PENDING", "ACTIVATING", "RUNNING"]

    asyncio.run(main())


def test_the_metadata_endpoint_serves_the_process_its_documents(tmp_path: Path) -> None:
    fetch = (
        "import json, os, time, urllib.request as u\n"
        "base = os.environ['ECS_CONTAINER_METADATA_URI_V4']\n"
        "time.sleep(0.3)\n"
        "docs = {p: json.load(u.urlopen(base + p)) for p in ('', '/task', '/stats', '/task/stats')}\n"
        "print(json.dumps(docs), flush=True)\n"
        "time.sleep(60)\n"
    )

    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([{"name": "meta", "command": [PY, "-c", fetch], "memory": 256, "cpu": 128,
                          "stopTimeout": 1, "containerArn": "arn:aws:ecs:us-east-1:000000000000:container/x"}],
                        cpu="256", memory="512")
            arn = p["taskArn"]
            await r.run(p)
            running = await r.status(arn, "RUNNING")
            out = tmp_path / "agent" / "processes" / arn.rsplit("/", 1)[-1] / "meta.stdout"
            docs = json.loads(await r.until(lambda: out.read_text().strip(), what="metadata output"))
            c, t, s, ts = docs[""], docs["/task"], docs["/stats"], docs["/task/stats"]
            runtime_id = running["containers"][0]["runtimeId"]
            assert c["DockerId"] == runtime_id and c["Name"] == "meta"
            assert c["ContainerARN"] == "arn:aws:ecs:us-east-1:000000000000:container/x"
            assert c["Limits"] == {"CPU": 128, "Memory": 256}
            assert t["TaskARN"] == arn and t["Limits"] == {"CPU": 0.25, "Memory": 512}
            assert t["Containers"][0]["DockerId"] == runtime_id
            assert s["memory_stats"]["limit"] == 256 * 1024 * 1024 and s["pids_stats"]["current"] >= 1
            assert s["cpu_stats"]["cpu_usage"]["total_usage"] > 0
            assert list(ts) == [runtime_id]

    asyncio.run(main())


def test_an_exit_while_the_agent_was_away_is_reported_on_return(tmp_path: Path) -> None:
    async def main() -> None:
        p = payload([web()])
        async with rig(tmp_path) as r1:
            await r1.run(p)
            await r1.status(p["taskArn"], "RUNNING")
            await r1.crash()
        os.killpg(_pids(tmp_path)[p["taskArn"]], 15)
        task_dir = tmp_path / "agent" / "processes" / p["taskArn"].rsplit("/", 1)[-1]
        until(ProcessFile(task_dir, "web").status)  # the shim recorded the exit: it happened while away
        async with rig(tmp_path) as r2:
            await r2.run(p)
            final = await r2.status(p["taskArn"], "STOPPED")
            assert final["reason"] == "Essential container in task exited"
            assert final["containers"][0]["exitCode"] == 143

    asyncio.run(main())

"""A restarted agent keeps a bridge task's Service Connect ingress host port.

Cloud Map registers the host port the agent reported for the task's proxy
(docs/service-connect.md). An agent that restarts adopts the task and starts
its proxy afresh: on the port it had (recorded in the task's Service Connect
directory) when that port is free, so the registration stays right; on a new
one, reported as usual, when something else took it meanwhile.

The first agent runs in this process (tests/agent/rig.py): its death is
:meth:`Rig.crash` plus :meth:`ServiceConnect.abandon`, which leaves the proxy
running unwatched as a killed agent does.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from portside.agent.drivers.process import ProcessDriver
from tests.agent.rig import Rig, http_get, payload

pytestmark = pytest.mark.slow

INGRESS = 15443
HTTP_SERVER = (
    "import os, http.server as h\n"
    "h.ThreadingHTTPServer(('0.0.0.0', int(os.environ['PORT'])),"
    " h.SimpleHTTPRequestHandler).serve_forever()\n"
)
SECTION = {
    "namespace": "arn:aws:servicediscovery:us-east-1:000000000000:namespace/ns-1",
    "upstreams": [{"name": "api", "protocol": "http"}],
    "outbound": [],
    "inbound": [{"upstream": "api", "containerName": "web", "containerPort": 8000,
                 "ingressPort": INGRESS, "protocol": "http"}],
    "endpoints": {"api": []},
}


def _rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path / "agent", ProcessDriver(tmp_path / "agent"))


def _task() -> dict[str, Any]:
    return payload([{"name": "web", "image": "python", "command": [sys.executable, "-c", HTTP_SERVER],
                     "portMappings": [{"containerPort": 8000}], "stopTimeout": 5}],
                   serviceConnect=SECTION)


def _ingress(r: Rig, arn: str) -> int | None:
    """The ingress host port the agent reported for the task's container (task or container
    state change), the latest report that has it."""
    for op, p in reversed(r.ecs.calls):
        if p.get("task") != arn:
            continue
        reported = p["containers"] if op == "SubmitTaskStateChange" else [p]
        for c in reported:
            for b in c.get("networkBindings") or ():
                if c["containerName"] == "web" and b["containerPort"] == INGRESS:
                    return int(b["hostPort"])
    return None


def _proxy_pid(tmp_path: Path, arn: str) -> int:
    return int((tmp_path / "agent" / "service-connect" / arn.rsplit("/", 1)[-1] /
                "proxy.pid").read_text())


async def _first_agent(tmp_path: Path, task: dict[str, Any]) -> tuple[Rig, int, int]:
    """The first agent runs the task, serves through its ingress and dies:
    (its rig, the ingress host port, the proxy's pid)."""
    r1 = _rig(tmp_path)
    async with r1:
        await r1.run(task)
        await r1.status(task["taskArn"], "RUNNING")
        port = await r1.until(lambda: _ingress(r1, task["taskArn"]), what="the ingress binding")
        await http_get(f"http://127.0.0.1:{port}/")  # through the proxy (TIME_WAIT may linger)
        pid = _proxy_pid(tmp_path, task["taskArn"])
        await r1.crash()  # the agent dies: the task's process and its proxy do not
        r1.e.connect.abandon()
    assert os.path.exists(f"/proc/{pid}")
    return r1, port, pid


def test_a_restarted_agent_keeps_the_ingress_host_port(tmp_path: Path) -> None:
    async def main() -> None:
        task = _task()
        arn = task["taskArn"]
        r1, port, pid = await _first_agent(tmp_path, task)
        async with _rig(tmp_path) as r2:
            await r2.run(task)
            again = await r2.until(lambda: _ingress(r2, arn), what="the ingress reported again")
            assert again == port
            assert _proxy_pid(tmp_path, arn) != pid  # a new proxy, on the same port
            assert await http_get(f"http://127.0.0.1:{port}/")
        del r1

    asyncio.run(main())


def test_a_port_taken_meanwhile_gives_a_new_ingress_host_port(tmp_path: Path) -> None:
    async def main() -> None:
        task = _task()
        arn = task["taskArn"]
        r1, port, pid = await _first_agent(tmp_path, task)
        os.kill(pid, signal.SIGTERM)
        await r1.until(lambda: not os.path.exists(f"/proc/{pid}"), what="the proxy gone")
        with socket.socket() as squatter:  # something else listens on the port meanwhile
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind(("0.0.0.0", port))
            squatter.listen()
            async with _rig(tmp_path) as r2:
                await r2.run(task)
                again = await r2.until(lambda: _ingress(r2, arn), what="a new ingress reported")
                assert again != port
                assert await http_get(f"http://127.0.0.1:{again}/")
        del r1

    asyncio.run(main())

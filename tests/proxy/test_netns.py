"""A listener bound inside another network namespace, its upstream reached from the proxy's.

This is how one proxy serves the containers of a Docker bridge-mode task
(agent/service_connect.py): the namespace here is a process's made with
``unshare -n`` (its loopback up), the backend listens on the host's loopback —
unreachable from inside that namespace except through the proxy — and the
client runs inside it under ``nsenter``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys

import pytest

from portside.proxy.config import ListenerConfig
from tests.proxy.rig import running
from tests.proxy.test_tcp import tcp_config, tcp_server

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0, reason="network namespaces: Linux and root"
)

# connects to argv[1]:argv[2] from inside the namespace, sends, half-closes, prints the answer
CLIENT = (
    "import socket, sys\n"
    "s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)\n"
    "s.sendall(b'x' * 1000); s.shutdown(socket.SHUT_WR)\n"
    "print(s.makefile('rb').read().decode())\n"
)


def inside(pid: int, host: str, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", "-t", str(pid), "-n", sys.executable, "-c", CLIENT, host, str(port)],
        capture_output=True, text=True, timeout=30, check=False,
    )


async def test_listener_in_another_namespace_reaches_a_backend_in_the_proxys() -> None:
    holder = subprocess.Popen(
        ["unshare", "-n", "sh", "-c", "ip link set lo up && echo up && exec sleep 60"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "up\n"
        netns = f"/proc/{holder.pid}/ns/net"
        async with tcp_server("127.0.0.2") as (ep, accepted):
            config = dataclasses.replace(tcp_config((ep,)), listeners=(
                ListenerConfig(name="db:5432@app", upstream="db", port=5432,
                               address="127.255.0.1", netns=netns),
            ))
            async with running(config) as proxy:
                assert proxy.address("db:5432@app") == ("127.255.0.1", 5432)
                # the backend is not reachable from inside the namespace by itself ...
                direct = await asyncio.to_thread(inside, holder.pid, ep.address, ep.port)
                assert direct.returncode != 0
                # ... but through the proxy's listener there it is
                through = await asyncio.to_thread(inside, holder.pid, "127.255.0.1", 5432)
                assert through.returncode == 0, through.stderr
                assert through.stdout.strip() == "got 1000 bytes"
                assert len(accepted) == 1
                # the host's own 127.255.0.1:5432 was never bound
                with pytest.raises(OSError):
                    await asyncio.open_connection("127.255.0.1", 5432)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()

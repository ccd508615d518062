"""``python -m portside.proxy``: a real process driven by its file and its admin API."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from portside.proxy.config import ListenerConfig, parse_config
from portside.proxy.control import ProxyAdmin, ProxyAdminError
from tests.proxy.rig import Backend, backends, running


def document(eps: list[Backend], listeners: tuple[str, ...] = ("api:80",)) -> dict[str, Any]:
    return {
        "upstreams": [{"name": "api", "outlier": {"base_ejection_seconds": 1}}],
        "listeners": [{"name": n, "upstream": "api", "port": 0} for n in listeners],
        "endpoints": {"api": [{"address": b.host, "port": b.port} for b in eps]},
        "admin": {"address": "127.0.0.1", "port": 0},
    }


async def test_proxy_process_follows_its_file_and_admin_api(tmp_path: Path) -> None:
    path = tmp_path / "proxy.json"
    async with backends(2) as bs, aiohttp.ClientSession() as s:
        path.write_text(json.dumps(document(bs[:1])))
        log = tmp_path / "proxy.log"
        with open(log, "wb") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "portside.proxy", "--config", str(path), "--poll", "0.1",
                stdout=asyncio.subprocess.PIPE, stderr=err,
            )  # fmt: skip
        assert proc.stdout is not None
        lines: list[str] = []
        try:
            while not lines or lines[-1] != "ready":
                lines.append((await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip())
            _, _, host, port = next(x for x in lines if x.startswith("listening")).split()
            _, admin_host, admin_port = next(x for x in lines if x.startswith("admin")).split()
            admin = f"http://{admin_host}:{admin_port}"

            async def get(listener_port: str | int = port) -> str:
                async with s.get(f"http://{host}:{listener_port}/") as r:
                    return await r.text()

            assert await get() == bs[0].name
            push = {"service": "api", "endpoints": [{"address": bs[1].host, "port": bs[1].port}]}
            async with s.post(f"{admin}/endpoints", json=push) as r:
                assert r.status == 200
            assert {await get() for _ in range(4)} == {bs[1].name}
            async with s.post(f"{admin}/endpoints", json={"service": "nope", "endpoints": []}) as r:
                assert r.status == 404
            async with s.post(
                f"{admin}/endpoints", json={"service": "api", "endpoints": [{}]}
            ) as r:
                assert r.status == 400
            async with s.get(f"{admin}/config") as r:
                assert (await r.json())["endpoints"]["api"][0]["port"] == bs[1].port

            # the file changes: a second alias appears, the file's endpoints apply again
            path.write_text(json.dumps(document(bs, ("api:80", "api:81"))))
            listeners: dict[str, Any] = {}
            deadline = asyncio.get_running_loop().time() + 60  # generous: CI machines are loaded
            while asyncio.get_running_loop().time() < deadline:
                async with s.get(f"{admin}/listeners") as r:
                    listeners = await r.json()
                if "api:81" in listeners:
                    break
                await asyncio.sleep(0.05)
            assert str(listeners["api:80"]["port"]) == port  # kept its socket
            assert {await get(listeners["api:81"]["port"]) for _ in range(4)} == {
                b.name for b in bs
            }

            refused = log.read_text().count("keeping the configuration in force")
            path.write_text("{not json")  # a broken file is refused, the proxy carries on
            deadline = asyncio.get_running_loop().time() + 60
            while log.read_text().count("keeping the configuration in force") == refused:
                assert asyncio.get_running_loop().time() < deadline, log.read_text()
                await asyncio.sleep(0.05)
            assert proc.returncode is None and await get() in {b.name for b in bs}
            async with s.get(f"{admin}/metrics") as r:
                text = await r.text()
            assert 'portside_proxy_requests_total{service="api"}' in text
        finally:
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_control_plane_client_over_a_unix_socket(tmp_path: Path) -> None:
    sock = str(tmp_path / "admin.sock")
    async with backends(2) as bs:
        config = parse_config(document(bs[:1]) | {"admin": {"unix": sock}})
        async with running(config) as proxy, aiohttp.ClientSession() as s:
            admin = ProxyAdmin.unix(sock)
            await admin.push_endpoints("api", [bs[1].endpoint])
            host, port = proxy.address("api:80")
            async with s.get(f"http://{host}:{port}/") as r:
                assert await r.text() == bs[1].name
            with pytest.raises(ProxyAdminError) as refused:
                await admin.push_endpoints("ghost", [])
            assert refused.value.status == 404 and "ghost" in str(refused.value)
            wider = dataclasses.replace(
                config,
                listeners=(
                    *config.listeners,
                    ListenerConfig(name="api:81", upstream="api", port=0),
                ),
            )
            await admin.push_config(wider)
            host, port = proxy.address("api:81")
            async with s.get(f"http://{host}:{port}/") as r:
                assert await r.text() == bs[0].name  # the pushed document's endpoints apply
            assert (await admin.stats())["services"]["api"]["requests"] == 2

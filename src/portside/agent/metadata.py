"""The task metadata endpoint, version 4, served by the agent.

Every container gets ``ECS_CONTAINER_METADATA_URI_V4=http://ADDR:PORT/v4/TOKEN``
where ADDR is an address the container reaches the agent on (the bridge
network's gateway for Docker containers, 127.0.0.1 for host-network
containers and processes) and TOKEN names the task and container (an HMAC of
both under the agent's secret, so it survives agent restarts and cannot be
guessed). Routes, as ECS documents them:

    GET /v4/TOKEN              the container's metadata
    GET /v4/TOKEN/task         the task's metadata, with every container's
    GET /v4/TOKEN/stats        the container's Docker stats
    GET /v4/TOKEN/task/stats   Docker stats for every container, by Docker id

and, under ``ECS_AGENT_URI=http://ADDR:PORT/api/TOKEN``, the task scale-in
protection endpoint (agent/task_protection.py):

    GET|PUT /api/TOKEN/task-protection/v1/state

Field names and shapes are ECS's (``DockerId``, ``Name``, ``DockerName``,
``Image``, ``ImageID``, ``Ports``, ``Labels``, ``DesiredStatus``,
``KnownStatus``, ``Limits``, ``CreatedAt``, ``StartedAt``, ``Type``,
``Health``, ``Networks``…; for the task ``Cluster``, ``TaskARN``, ``Family``,
``Revision``, ``Limits`` in vCPU and MiB, ``PullStartedAt``,
``AvailabilityZone``, ``LaunchType``, ``Containers``). A process-driver
container's stats are built from /proc in the same format.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from portside.agent.drivers.base import Driver
from portside.agent.task_manager import TaskManager
from portside.agent.task_protection import PATH as PROTECTION_PATH
from portside.agent.task_protection import TaskProtection
from portside.agent.task_state import ContainerRun

log = logging.getLogger("portside.agent.metadata")


Resolver = Callable[[str], "tuple[TaskManager, str] | None"]
"""Token -> (the task's manager, the container's name), or None."""


def container_doc(m: TaskManager, c: ContainerRun) -> dict[str, Any]:
    rc = c.runtime
    doc: dict[str, Any] = {
        "DockerId": rc.runtime_id if rc else "",
        "Name": c.name,
        "DockerName": rc.docker_name if rc else "",
        "Image": c.spec.image,
        "ImageID": (rc.image_id if rc else None) or c.image_id or "",
        "Labels": dict(rc.labels) if rc else {},
        "DesiredStatus": m.desired_status,
        "KnownStatus": c.api_status(),
        "Limits": _drop_none({"CPU": c.spec.cpu, "Memory": c.spec.memory}),
        "Type": "NORMAL",
    }
    if rc is not None and rc.bindings:
        doc["Ports"] = [
            {"ContainerPort": b.container_port, "Protocol": b.protocol, "HostPort": b.host_port,
             "HostIp": b.bind_ip}
            for b in rc.bindings
        ]
    elif m.network is not None and m.network.mode == "awsvpc" and c.spec.port_mappings:
        doc["Ports"] = [
            {"ContainerPort": p.container_port, "Protocol": p.protocol, "HostPort": p.container_port}
            for p in c.spec.port_mappings
        ]
    if c.status == "STOPPED" and c.exit_code is not None:
        doc["ExitCode"] = c.exit_code
    for key, value in (("CreatedAt", rc and rc.created_at), ("StartedAt", rc and rc.started_at),
                       ("FinishedAt", rc and rc.finished_at)):
        if value:
            doc[key] = value
    arn = _container_arn(m, c.name)
    if arn:
        doc["ContainerARN"] = arn
    if c.spec.health_check is not None:
        health: dict[str, Any] = {"status": c.health.status}
        if c.health.status_since:
            health["statusSince"] = _iso(c.health.status_since)
        if c.health.exit_code is not None:
            health["exitCode"] = c.health.exit_code
        if c.health.output:
            health["output"] = c.health.output
        doc["Health"] = health
    networks = _networks(m, c)
    if networks:
        doc["Networks"] = networks
    return doc


def _networks(m: TaskManager, c: ContainerRun) -> list[dict[str, Any]]:
    net = m.network
    if net is None:
        return []
    if net.mode == "awsvpc":
        entry: dict[str, Any] = {
            "NetworkMode": "awsvpc",
            "IPv4Addresses": [net.address] if net.address else [],
            "AttachmentIndex": 0,
        }
        if net.mac_address:
            entry["MACAddress"] = net.mac_address
        if net.subnet_cidr:
            entry["IPv4SubnetCIDRBlock"] = net.subnet_cidr
        if net.gateway:
            entry["SubnetGatewayIpv4Address"] = f"{net.gateway}/{net.subnet_cidr.split('/')[-1]}" if net.subnet_cidr else net.gateway
        if net.address:
            entry["PrivateDNSName"] = "ip-" + net.address.replace(".", "-") + ".ec2.internal"
        return [entry]
    address = c.runtime.address if c.runtime is not None else None
    entry = {"NetworkMode": net.mode}
    if address:
        entry["IPv4Addresses"] = [address]
    return [entry]


def task_doc(m: TaskManager) -> dict[str, Any]:
    spec = m.spec
    limits: dict[str, Any] = {}
    if spec.cpu:
        limits["CPU"] = spec.cpu / 1024
    if spec.memory:
        limits["Memory"] = spec.memory
    doc: dict[str, Any] = {
        "Cluster": spec.cluster_arn,
        "TaskARN": spec.task_arn,
        "Family": spec.family,
        "Revision": str(spec.revision),
        "DesiredStatus": m.desired_status,
        "KnownStatus": m.known if m.known != "NONE" else "PENDING",
        "Containers": [container_doc(m, c) for c in m.containers.values()],
        "LaunchType": spec.launch_type or "EC2",
        "FaultInjectionEnabled": False,
    }
    if limits:
        doc["Limits"] = limits
    if m.pull_started_at:
        doc["PullStartedAt"] = _iso(m.pull_started_at)
    if m.pull_stopped_at:
        doc["PullStoppedAt"] = _iso(m.pull_stopped_at)
    if m.execution_stopped_at:
        doc["ExecutionStoppedAt"] = _iso(m.execution_stopped_at)
    if spec.availability_zone:
        doc["AvailabilityZone"] = spec.availability_zone
    if spec.service_name:
        doc["ServiceName"] = spec.service_name
    return doc


def _container_arn(m: TaskManager, name: str) -> str | None:
    for raw in m.payload.get("containers") or ():
        if isinstance(raw, dict) and raw.get("name") == name and raw.get("containerArn"):
            return str(raw["containerArn"])
    return None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


class MetadataServer:
    def __init__(self, resolver: Resolver, driver: Driver) -> None:
        self.resolver = resolver
        self.driver = driver
        self._runner: web.AppRunner | None = None
        self.addresses: list[str] = []
        self.protection: TaskProtection | None = None
        """Set once the agent has registered (it needs the signed client and the cluster)."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v4/{token}", self.container)
        app.router.add_get("/v4/{token}/task", self.task)
        app.router.add_get("/v4/{token}/stats", self.container_stats)
        app.router.add_get("/v4/{token}/task/stats", self.task_stats)
        app.router.add_get("/api/{token}" + PROTECTION_PATH, self.task_protection)
        app.router.add_put("/api/{token}" + PROTECTION_PATH, self.task_protection)
        return app

    async def start(self, addresses: list[str], port: int) -> int:
        """Listen on each address with one port (0: pick one); return the port."""
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        for address in addresses:
            site = web.TCPSite(self._runner, address, port, reuse_address=True)
            try:
                await site.start()
            except OSError as exc:
                if address == addresses[0]:
                    raise
                log.warning("metadata endpoint cannot listen on %s:%d: %s", address, port, exc)
                continue
            self.addresses.append(address)
            if port == 0:
                server = site._server
                sockets = getattr(server, "sockets", None) or []
                port = int(sockets[0].getsockname()[1])
        return port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.addresses.clear()

    def _lookup(self, request: web.Request) -> tuple[TaskManager, ContainerRun]:
        found = self.resolver(request.match_info["token"])
        if found is None:
            raise web.HTTPNotFound(text='{"error": "no task or container for this metadata URI"}',
                                   content_type="application/json")
        m, name = found
        return m, m.containers[name]

    async def container(self, request: web.Request) -> web.Response:
        m, c = self._lookup(request)
        return web.json_response(container_doc(m, c))

    async def task(self, request: web.Request) -> web.Response:
        m, _ = self._lookup(request)
        return web.json_response(task_doc(m))

    async def container_stats(self, request: web.Request) -> web.Response:
        _, c = self._lookup(request)
        stats = await self.driver.stats(c.runtime) if c.runtime is not None else None
        return web.json_response(stats)

    async def task_stats(self, request: web.Request) -> web.Response:
        m, _ = self._lookup(request)
        runs = [c for c in m.containers.values() if c.runtime is not None]
        results = await asyncio.gather(
            *(self.driver.stats(c.runtime) for c in runs if c.runtime is not None),
            return_exceptions=True,
        )
        out = {
            c.runtime.runtime_id: (r if isinstance(r, dict) else None)
            for c, r in zip(runs, results, strict=True)
            if c.runtime is not None
        }
        return web.json_response(out)

    async def task_protection(self, request: web.Request) -> web.Response:
        m, _ = self._lookup(request)
        if self.protection is None:
            status, doc = 503, {"error": {"Code": "ServerException",
                                          "Message": "the agent has not registered yet"}}
        elif request.method == "PUT":
            status, doc = await self.protection.put(m.spec.task_arn, await request.read())
        else:
            status, doc = await self.protection.get(m.spec.task_arn)
        return web.json_response(doc, status=status)

"""The session with the control plane: one WebSocket, held with reconnects.

DiscoverPollEndpoint names the endpoint; the agent opens
``{endpoint}ecs-agent/ws?clusterArn=…&containerInstanceArn=…&agentVersion=…``
signed with SigV4 (docs/agent-protocol.md). While connected it heartbeats
every 10 s and handles the control plane's messages, one small handler per
type (after amazon-ecs-agent's acs/session): ``Credentials`` (per-instance
keys the API client signs with from then on), ``TaskManifest`` (the desired
state: applied by the engine, then acknowledged), ``Ping``. When the session
drops, tasks keep running and the agent reconnects with backoff (1 s
doubling to 30 s).

What the agent sends besides heartbeats — task health and awsvpc addresses —
is state, not events: the :class:`Outbox` keeps the latest message per task
and sends them all again on every new session. While Service Connect proxies
run, ``ServiceConnectStats`` carries their counters every 2 s (not replayed:
only the newest counters matter).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import aiohttp
from yarl import URL

from portside import __version__
from portside.agent.drivers.base import TaskNetwork
from portside.agent.ecs_client import Credentials, EcsClient, EcsError

log = logging.getLogger("portside.agent.session")

HEARTBEAT_INTERVAL = 10.0
PROXY_STATS_INTERVAL = 2.0  # ServiceConnectStats while proxies run (``portside top``)
MIN_BACKOFF, MAX_BACKOFF = 1.0, 30.0
CLOSE_REPLACED = 4000  # a newer session for this instance took over
CLOSE_DEREGISTERED = 4004  # the instance is not registered any more

UNSPECIFIED = ("0.0.0.0", "::")


def poll_url(found: str, known: str) -> str:
    """The WebSocket endpoint to use: what DiscoverPollEndpoint answered (``ws://`` for
    ``http://``), with the host the agent already reaches the API on when the answer names
    none (a server listening on 0.0.0.0 or :: answers with that address)."""
    url = URL(found or known.rstrip("/") + "/")
    if url.scheme in ("http", "https"):
        url = url.with_scheme("ws" if url.scheme == "http" else "wss")
    if url.host in UNSPECIFIED:
        url = url.with_host(str(URL(known).host))
    return str(url)


class InstanceDeregistered(Exception):
    """The control plane no longer knows this container instance: the agent must not go on."""


class Outbox:
    """Latest TaskHealth / TaskNetwork per task, and the queue of ones not yet sent."""

    def __init__(self) -> None:
        self.latest: dict[tuple[str, str], dict[str, Any]] = {}
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def _put(self, kind: str, task_arn: str, msg: dict[str, Any]) -> None:
        self.latest[(kind, task_arn)] = msg
        self.queue.put_nowait(msg)

    def task_health(self, task_arn: str, status: str, containers: list[tuple[str, str]]) -> None:
        self._put("TaskHealth", task_arn, {
            "type": "TaskHealth",
            "taskArn": task_arn,
            "healthStatus": status,
            "containers": [{"containerName": n, "healthStatus": s} for n, s in containers],
        })

    def task_network(self, task_arn: str, network: TaskNetwork, containers: list[str]) -> None:
        attachment_id = _attachment_id(task_arn)
        details = [{"name": "privateIPv4Address", "value": network.address or ""}]
        if network.mac_address:
            details.append({"name": "macAddress", "value": network.mac_address})
        # No subnetId: the control plane put the task's own subnet on its PRECREATED attachment.
        details.append({"name": "networkInterfaceId", "value": "eni-" + attachment_id.replace("-", "")[:17]})
        if network.gateway:
            details.append({"name": "subnetGatewayIpv4Address", "value": network.gateway})
        self._put("TaskNetwork", task_arn, {
            "type": "TaskNetwork",
            "taskArn": task_arn,
            "attachments": [{
                "id": attachment_id,
                "type": "ElasticNetworkInterface",
                "status": "ATTACHED",
                "details": details,
            }],
            "containers": [
                {"containerName": n, "networkInterfaces": [
                    {"attachmentId": attachment_id, "privateIpv4Address": network.address}
                ]}
                for n in containers
            ],
        })

    def forget(self, task_arn: str) -> None:
        for key in [k for k in self.latest if k[1] == task_arn]:
            del self.latest[key]

    def replay(self) -> list[dict[str, Any]]:
        while not self.queue.empty():
            self.queue.get_nowait()
        return list(self.latest.values())


def _attachment_id(task_arn: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, task_arn + "#eni"))


ManifestHandler = Callable[[Iterable[Mapping[str, Any]]], Awaitable[None]]
ProxyStats = Callable[[], Awaitable[dict[str, Any]]]


class Session:
    def __init__(
        self,
        client: EcsClient,
        outbox: Outbox,
        *,
        cluster_arn: str,
        instance_arn: str,
        on_manifest: ManifestHandler,
        running_tasks: Callable[[], list[str]],
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        proxy_stats: ProxyStats | None = None,
    ) -> None:
        self.client = client
        self.outbox = outbox
        self.cluster_arn = cluster_arn
        self.instance_arn = instance_arn
        self.on_manifest = on_manifest
        self.running_tasks = running_tasks
        self.heartbeat_interval = heartbeat_interval
        self.proxy_stats = proxy_stats
        self.connected = asyncio.Event()
        self.manifests = 0  # manifests applied, over all sessions
        self.sessions = 0
        self._last_seq = -1
        self._handlers: dict[str, Callable[[aiohttp.ClientWebSocketResponse, dict[str, Any]], Awaitable[None]]] = {
            "Credentials": self._on_credentials,
            "TaskManifest": self._on_manifest,
            "Ping": self._on_ping,
        }

    async def run(self, stop: asyncio.Event) -> None:
        backoff = MIN_BACKOFF
        while not stop.is_set():
            try:
                await self._session(stop)
                backoff = MIN_BACKOFF
            except (aiohttp.ClientError, EcsError, OSError, TimeoutError, ValueError) as exc:
                log.warning("session with the control plane failed: %s", exc)
            finally:
                self.connected.clear()
            if stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _session(self, stop: asyncio.Event) -> None:
        found = await self.client.call(
            "DiscoverPollEndpoint", {"containerInstance": self.instance_arn, "cluster": self.cluster_arn}
        )
        endpoint = poll_url(str(found.get("endpoint") or ""), self.client.endpoint)
        url = self.client.websocket_url(endpoint, {
            "clusterArn": self.cluster_arn,
            "containerInstanceArn": self.instance_arn,
            "agentVersion": __version__,
        })
        headers = self.client.websocket_headers(url)
        try:
            ws_cm = self.client.http.ws_connect(URL(url, encoded=True), headers=headers, heartbeat=30)
            async with ws_cm as ws:
                await self._hold(ws, stop)
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status in (401, 403):
                self.client.instance_credentials = None  # sign with the bootstrap pair next time
            if exc.status == 400:
                raise InstanceDeregistered(f"the control plane refused the session: {exc.message}") from exc
            raise

    async def _hold(self, ws: aiohttp.ClientWebSocketResponse, stop: asyncio.Event) -> None:
        self.sessions += 1
        self._last_seq = -1
        self.connected.set()
        log.info("session open (%d)", self.sessions)
        writer = asyncio.create_task(self._write(ws))
        beats = asyncio.create_task(self._heartbeats(ws))
        reports = asyncio.create_task(self._proxy_reports(ws))
        stopper = asyncio.create_task(stop.wait())
        try:
            for msg in self.outbox.replay():
                await ws.send_json(msg)
            reader = asyncio.create_task(self._read(ws))
            done, _ = await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                reader.result()
            else:
                reader.cancel()
                await ws.close()
        finally:
            for t in (writer, beats, reports, stopper):
                t.cancel()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                if msg.type == aiohttp.WSMsgType.ERROR:
                    raise ConnectionError(f"websocket error: {ws.exception()}")
                continue
            try:
                doc = json.loads(msg.data)
            except ValueError:
                log.warning("ignoring a message that is not JSON")
                continue
            handler = self._handlers.get(str(doc.get("type")))
            if handler is None:
                log.debug("ignoring a %r message", doc.get("type"))
                continue
            await handler(ws, doc)
        code = ws.close_code
        if code == CLOSE_DEREGISTERED:
            raise InstanceDeregistered(f"{self.instance_arn} was deregistered")
        if code == CLOSE_REPLACED:
            log.warning("another session for %s replaced this one: is a second agent running?",
                        self.instance_arn)
        else:
            log.info("session closed by the control plane (code %s)", code)

    async def _write(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            msg = await self.outbox.queue.get()
            await ws.send_json(msg)

    async def _heartbeats(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            await ws.send_json({"type": "Heartbeat", "runningTasks": self.running_tasks()})
            await asyncio.sleep(self.heartbeat_interval)

    async def _proxy_reports(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        if self.proxy_stats is None:
            return
        sent_some = False
        while True:
            await asyncio.sleep(PROXY_STATS_INTERVAL)
            tasks = await self.proxy_stats()
            if tasks or sent_some:  # one empty report clears what the control plane holds
                await ws.send_json({"type": "ServiceConnectStats", "at": time.time(), "tasks": tasks})
            sent_some = bool(tasks)

    # -- one handler per message type ------------------------------------

    async def _on_credentials(self, ws: aiohttp.ClientWebSocketResponse, doc: dict[str, Any]) -> None:
        key, secret = doc.get("accessKeyId"), doc.get("secretAccessKey")
        if not key or not secret:
            log.warning("ignoring Credentials without a key pair")
            return
        expiration = float(doc["expiration"]) if doc.get("expiration") else None
        self.client.set_instance_credentials(Credentials(str(key), str(secret), expiration, time.time()))
        log.info("per-instance credentials %s received (valid for %.0fs)", key,
                 (expiration - time.time()) if expiration else float("inf"))

    async def _on_manifest(self, ws: aiohttp.ClientWebSocketResponse, doc: dict[str, Any]) -> None:
        seq = int(doc.get("seq") or 0)
        if seq <= self._last_seq:
            return
        tasks = [t for t in doc.get("tasks") or () if isinstance(t, dict)]
        try:
            await self.on_manifest(tasks)
        except Exception:  # a bug must not cost the session: the next manifest tries again
            log.exception("applying manifest %d failed", seq)
            return
        self._last_seq = seq
        self.manifests += 1
        await ws.send_json({"type": "Ack", "seq": seq})

    async def _on_ping(self, ws: aiohttp.ClientWebSocketResponse, doc: dict[str, Any]) -> None:
        await ws.send_json({"type": "Pong"})

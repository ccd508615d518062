"""The agent session: one WebSocket per container instance (docs/agent-protocol.md).

``GET /ecs-agent/ws`` is SigV4-verified like any API call (a presigned URL or
an Authorization header, service ``ecs``) before the upgrade; a failure is a
403 in the awsJson error envelope. An operator key may open any instance's
session, an agent key only its own instance's. A new session for an instance
replaces the older one, which is closed.

On connect the control plane sends ``Credentials`` (issuing or rotating the
instance's key pair first) and a ``TaskManifest``. Afterwards a store listener
notes which instances' tasks changed and wakes their sessions' senders; a
sender waits a few milliseconds so a burst of commits becomes one manifest,
and sends only when the manifest differs from the last one it sent. With
nothing to send for a third of the heartbeat timeout it sends ``Ping``.

From the agent: ``Heartbeat`` (one commit of the instance: ``last_heartbeat_at``
and ``agent_connected``), ``TaskHealth``, ``TaskNetwork``, ``Ack``, ``Pong``, and
``ServiceConnectStats`` (proxy counters, kept in memory for ``portside top``:
runtime/service_connect_stats.py).

The background component :func:`run` keeps the rest moving: it marks
instances whose agent went quiet (``controllers.agent_liveness``), rotates the
key pairs of connected instances before they expire, and forgets expired ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import WSMsgType, web

from portside.api.app import App
from portside.api.auth import authenticate
from portside.aws.errors import AwsError, InvalidSignature
from portside.aws.shapes import decode_input
from portside.controllers import agent_liveness
from portside.domain.ecs import agent_credential as creds
from portside.domain.ecs import task_state
from portside.domain.ecs.agent_credential import AgentCredential
from portside.domain.ecs.container_instance import ContainerInstance
from portside.domain.errors import ClientException
from portside.runtime.manifest import instances_touched, manifest_tasks
from portside.runtime.manifest import shape as _shape
from portside.runtime.service_connect_payload import NamespaceIndex
from portside.runtime.service_connect_stats import ProxyStatsBook
from portside.runtime.service_connect_tls import Certificates
from portside.store.store import Change, Delete

log = logging.getLogger("portside.agent_sessions")

PATH = "/ecs-agent/ws"
COALESCE_SECONDS = 0.02
REPLACED = 4000  # WebSocket close code: a newer session took over
GONE = 4004  # the instance is not registered any more (deregistered or gone)
_KEY = "agent_sessions"


def _now() -> datetime:
    return datetime.now(UTC)


class Session:
    """One agent's WebSocket: what was sent and acknowledged, and a wake-up for the sender."""

    def __init__(self, instance_arn: str, ws: web.WebSocketResponse):
        self.instance_arn = instance_arn
        self.ws = ws
        self.dirty = asyncio.Event()
        self.dirty.set()
        self.seq = 0
        self.acked = 0
        self.sent_tasks: list[dict[str, Any]] | None = None
        self.sent_key: str | None = None
        self.last_pong: datetime | None = None
        self._lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self._lock:
            if not self.ws.closed:
                await self.ws.send_str(json.dumps(message, separators=(",", ":")))


class Sessions:
    """Every open session by instance ARN, and the per-instance credentials."""

    def __init__(self, app: App):
        self.app = app
        self.by_instance: dict[str, Session] = {}
        self._closing: set[asyncio.Task[bool]] = set()
        self.started = _now()
        self.lifetime = timedelta(seconds=app.settings.agent_credential_ttl)
        self.timeout = timedelta(seconds=app.settings.agent_heartbeat_timeout)
        for cred in app.store.all(AgentCredential.KIND).values():
            if cred.valid(self.started):
                app.secrets[cred.access_key_id] = cred.secret_access_key
        self.connect_index = NamespaceIndex(app.store)
        self.certificates = Certificates(  # Service Connect TLS
            app.store, timedelta(seconds=app.settings.service_connect_cert_validity))
        self.proxy_stats = ProxyStatsBook()
        app.store.subscribe(self._changed)

    def _changed(self, changes: Sequence[Change]) -> None:
        touched = instances_touched(c for c in changes if not isinstance(c, Delete))
        touched |= self.connect_index.touched(changes)  # Service Connect endpoints moved
        for arn in touched:
            session = self.by_instance.get(arn)
            if session is not None:
                session.dirty.set()

    # -- credentials ---------------------------------------------------------

    def credential(self, instance_arn: str, now: datetime) -> tuple[AgentCredential, bool]:
        """The instance's current key pair (a new one when due), and whether it is new."""
        cred = creds.current(self.app.store, instance_arn, now)
        if cred is not None and not creds.needs_rotation(cred, now, self.lifetime):
            return cred, False
        return creds.new_credential(instance_arn, now, self.lifetime), True

    def accept(self, cred: AgentCredential) -> None:
        self.app.secrets[cred.access_key_id] = cred.secret_access_key

    async def send_credential(self, session: Session, cred: AgentCredential) -> None:
        session.sent_key = cred.access_key_id
        await session.send(
            {
                "type": "Credentials",
                "accessKeyId": cred.access_key_id,
                "secretAccessKey": cred.secret_access_key,
                "expiration": int(cred.expiration.timestamp()),
            }
        )

    # -- session lifecycle -----------------------------------------------------

    async def open(self, session: Session, instance: ContainerInstance, now: datetime) -> None:
        cred, fresh = self.credential(session.instance_arn, now)
        changes: list[Change] = [agent_liveness.heartbeat(instance, now)]
        if fresh:
            changes.append(cred)
        self.app.store.commit(changes)
        self.accept(cred)
        old = self.by_instance.get(session.instance_arn)
        self.by_instance[session.instance_arn] = session
        if old is not None:  # closed in the background: a dead peer must not delay this one
            log.info("session for %s replaced by a newer one", session.instance_arn)
            closing = asyncio.create_task(
                old.ws.close(code=REPLACED, message=b"replaced by a newer session")
            )
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        await self.send_credential(session, cred)

    def closed(self, session: Session) -> None:
        if self.by_instance.get(session.instance_arn) is session:
            del self.by_instance[session.instance_arn]
            # its proxies' counters are unknown until it reports again
            self.proxy_stats.forget_instance(session.instance_arn)

    async def close_all(self, timeout: float = 5.0) -> None:
        sessions, self.by_instance = list(self.by_instance.values()), {}
        closing = [s.ws.close(code=1001, message=b"control plane shutting down") for s in sessions]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), timeout)

    async def sender(self, session: Session) -> None:
        """Send a manifest whenever the instance's tasks changed; Ping when idle."""
        try:
            await self._send_loop(session)
        except (ConnectionError, RuntimeError) as exc:  # the socket went away mid-send
            log.info("session %s: sender stopped: %s", session.instance_arn, exc)
        except Exception:
            log.exception("session %s: sender failed", session.instance_arn)
            await session.ws.close(code=1011, message=b"internal error")

    async def _send_loop(self, session: Session) -> None:
        idle = self.timeout.total_seconds() / 3
        while not session.ws.closed:
            try:
                await asyncio.wait_for(session.dirty.wait(), idle)
            except TimeoutError:
                await session.send({"type": "Ping"})
                continue
            await asyncio.sleep(COALESCE_SECONDS)
            session.dirty.clear()
            instance = self.app.store.get(ContainerInstance.KIND, session.instance_arn)
            if not isinstance(instance, ContainerInstance) or not instance.registered:
                await session.ws.close(code=GONE, message=b"container instance not registered")
                return
            tasks = manifest_tasks(self.app.store, instance)
            self.certificates.attach(session.instance_arn, tasks, _now())
            if tasks == session.sent_tasks:
                continue
            session.seq = max(session.seq + 1, self.app.store.revision)
            session.sent_tasks = tasks
            await session.send({"type": "TaskManifest", "seq": session.seq, "tasks": tasks})

    # -- messages from the agent ---------------------------------------------

    def receive(self, session: Session, message: dict[str, Any], now: datetime) -> None:
        kind = message.get("type")
        store, arn = self.app.store, session.instance_arn
        if kind == "Heartbeat":
            instance = store.get(ContainerInstance.KIND, arn)
            if isinstance(instance, ContainerInstance):
                store.commit([agent_liveness.heartbeat(instance, now)])
        elif kind == "TaskHealth":
            named = {
                c["containerName"]: c["healthStatus"] for c in message.get("containers") or ()
            }
            task_state.report_health(
                store, arn, message["taskArn"], message["healthStatus"], named
            )
        elif kind == "TaskNetwork":
            attachments = decode_input(_shape("Attachments"), message.get("attachments") or [])
            interfaces = {
                c["containerName"]: decode_input(
                    _shape("NetworkInterfaces"), c.get("networkInterfaces") or []
                )
                for c in message.get("containers") or ()
            }
            task_state.report_network(store, arn, message["taskArn"], attachments, interfaces)
        elif kind == "Ack":
            session.acked = max(session.acked, int(message["seq"]))
        elif kind == "Pong":
            session.last_pong = now
        elif kind == "ServiceConnectStats":
            self.proxy_stats.record(arn, message, now.timestamp())
        else:
            log.warning("session %s: unknown message type %r", arn, kind)

    # -- upkeep ---------------------------------------------------------------

    def upkeep(self, now: datetime) -> None:
        """Mark quiet agents disconnected; forget expired key pairs."""
        store = self.app.store
        issued = store.all(AgentCredential.KIND).values()
        with_agent = {c.container_instance_arn for c in issued}
        lost = agent_liveness.lost(
            store.all(ContainerInstance.KIND).values(), now, self.timeout, self.started, with_agent
        )
        gone = creds.expired(issued, now)
        for cred in gone:
            self.app.secrets.pop(cred.access_key_id, None)
        changes: list[Change] = [*lost, *(Delete(AgentCredential.KIND, c.key) for c in gone)]
        if changes:
            store.commit(changes)
        for ci in lost:
            log.info("agent of %s missed its heartbeats: agentConnected false", ci.key)

    async def rotate(self, now: datetime) -> None:
        """Give every connected agent a new key pair when its current one is due.

        An instance holding a Service Connect certificate that is due gets a new
        manifest, which carries the new certificate."""
        for arn in self.certificates.due(now):
            if arn in self.by_instance:
                self.by_instance[arn].dirty.set()
        for session in list(self.by_instance.values()):
            cred, fresh = self.credential(session.instance_arn, now)
            if fresh:
                self.app.store.commit([cred])
                self.accept(cred)
            if fresh or cred.access_key_id != session.sent_key:
                await self.send_credential(session, cred)


def sessions_of(app: App) -> Sessions:
    found = app.extras.get(_KEY)
    if not isinstance(found, Sessions):
        found = app.extras[_KEY] = Sessions(app)
    return found


# -- the endpoint -------------------------------------------------------------


def _authorize(app: App, request: web.Request, now: datetime) -> ContainerInstance:
    caller = authenticate(request, b"", app.secrets, now)
    if caller.service != "ecs":
        raise InvalidSignature(
            f"Credential should be scoped to service 'ecs', not {caller.service!r}."
        )
    cluster = request.query.get("clusterArn")
    arn = request.query.get("containerInstanceArn")
    if not cluster or not arn:
        raise ClientException("clusterArn and containerInstanceArn are required.")
    instance = app.store.get(ContainerInstance.KIND, arn)
    if not isinstance(instance, ContainerInstance) or not instance.registered:
        raise ClientException(f"Container instance {arn} is not registered.")
    if cluster not in (instance.cluster_arn, instance.cluster_arn.rsplit("/", 1)[-1]):
        raise ClientException(f"Container instance {arn} is not in cluster {cluster}.")
    owner = creds.owner(app.store, caller.access_key)
    if owner is not None and owner != arn:
        raise task_state.AccessDeniedException(
            "These credentials belong to another container instance.", status=403
        )
    return instance


def _refusal(exc: AwsError) -> web.Response:
    return web.json_response(
        {"__type": exc.code, "message": exc.message},
        status=exc.status,
        content_type="application/x-amz-json-1.1",
    )


async def handle(request: web.Request) -> web.StreamResponse:
    """``GET /ecs-agent/ws``: verify, upgrade, then serve the session until it closes."""
    from portside.api.server import APP_KEY

    app = request.app[APP_KEY]
    sessions = sessions_of(app)
    try:
        instance = _authorize(app, request, _now())
    except AwsError as exc:
        return _refusal(exc)
    ws = web.WebSocketResponse(max_msg_size=app.settings.max_body_bytes)
    await ws.prepare(request)
    session = Session(instance.container_instance_arn, ws)
    await sessions.open(session, instance, _now())
    sender = asyncio.create_task(sessions.sender(session))
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                sessions.receive(session, json.loads(msg.data), _now())
            except (ValueError, KeyError, TypeError, AwsError) as exc:
                log.warning(
                    "session %s: bad message %.200r: %s", session.instance_arn, msg.data, exc
                )
    finally:
        sender.cancel()
        sessions.closed(session)
    return ws


async def run(app: App, stop: asyncio.Event) -> None:
    """The background component: liveness, rotation, expiry, once per tick."""
    sessions = sessions_of(app)
    tick = min(1.0, app.settings.agent_heartbeat_timeout / 4)
    try:
        while not stop.is_set():
            now = _now()
            try:
                sessions.upkeep(now)
                await sessions.rotate(now)
            except Exception:
                log.exception("agent session upkeep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), tick)
    finally:
        await sessions.close_all()

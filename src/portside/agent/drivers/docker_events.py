"""Docker's event stream, turned into RuntimeEvents on the agent's event loop.

One thread reads ``GET /events`` filtered to this agent's containers (by the
``io.portside.instance-id`` label) and hands ``die`` and ``health_status``
events to the loop with ``call_soon_threadsafe``. When the stream breaks (the
engine restarted, say) the thread reconnects with ``since`` set to the last
event it saw, so nothing is missed; an ``oom`` event marks the container so
the ``die`` that follows says the kernel killed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Any

from portside.agent.drivers.base import Emit, RuntimeEvent
from portside.agent.drivers.docker_spec import (
    LABEL_CONTAINER,
    LABEL_INSTANCE,
    LABEL_ROLE,
    LABEL_TASK,
    health_state,
)

log = logging.getLogger("portside.agent.docker")


class EventWatcher:
    def __init__(self, client: Any, instance_id: str, emit: Emit, loop: asyncio.AbstractEventLoop):
        self._client = client
        self._instance_id = instance_id
        self._emit = emit
        self._loop = loop
        self._stop = threading.Event()
        self._stream: Any = None
        self._oom: set[str] = set()
        self._since: float | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="docker-events", daemon=True)

    def start(self, timeout: float = 10) -> None:
        """Start reading; returns once the first subscription is open."""
        self._thread.start()
        self._ready.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._stream = self._client.api.events(
                    since=self._since,
                    decode=True,
                    filters={"type": "container", "label": [f"{LABEL_INSTANCE}={self._instance_id}"]},
                )
                self._ready.set()
                for event in self._stream:
                    self._since = float(event.get("time") or time.time())
                    self._handle(event)
            except Exception as exc:
                if self._stop.is_set():
                    return
                log.warning("docker event stream broke (%s); reconnecting", exc)
            self._ready.set()
            if self._stop.wait(1.0):
                return

    def _handle(self, event: dict[str, Any]) -> None:
        actor = event.get("Actor") or {}
        attrs = actor.get("Attributes") or {}
        cid = str(actor.get("ID") or event.get("id") or "")
        task_arn, name = attrs.get(LABEL_TASK), attrs.get(LABEL_CONTAINER)
        if not task_arn or not name or attrs.get(LABEL_ROLE) == "pause":
            return
        action = str(event.get("Action") or event.get("status") or "")
        if action == "oom":
            self._oom.add(cid)
        elif action == "die":
            code = attrs.get("exitCode")
            out = RuntimeEvent(
                task_arn,
                name,
                cid,
                exit_code=int(code) if code is not None else None,
                exited=True,
                oom_killed=cid in self._oom,
            )
            self._oom.discard(cid)
            self._deliver(out)
        elif action.startswith("health_status"):
            try:
                inspected = self._client.api.inspect_container(cid)
            except Exception:
                return
            health = health_state((inspected.get("State") or {}).get("Health"))
            if health is not None:
                self._deliver(RuntimeEvent(task_arn, name, cid, health=health))

    def _deliver(self, event: RuntimeEvent) -> None:
        try:
            self._loop.call_soon_threadsafe(self._emit, event)
        except RuntimeError:  # the loop is closed: the agent is exiting
            self._stop.set()

"""The Route 53 health checker: probe Cloud Map instances of services with HealthCheckConfig.

A component of ``portside up``. Each pass reads the checks from the store
(:func:`portside.domain.servicediscovery.health_checks.checks`), lets the pure
``decide`` apply the results that came back and pick the probes that are due,
commits the status changes (only changes: the store, DNS answers, DiscoverInstances
and GetInstancesHealthStatus all follow the commit at once) and sends the probes.
A pass runs when a probe answers, when a probe falls due, and when Cloud Map
services or instances change (a new instance is checked at once).

The probes are Route 53's, with its timeouts:

- TCP: a connection within 10 seconds;
- HTTP / HTTPS: a connection within 4 seconds, then a status line of 2xx or 3xx
  to ``GET ResourcePath`` within 2 seconds. HTTPS does not validate the
  certificate (Route 53's checks do not either).

At most ``CONCURRENCY`` probes are out at once; the rest wait their turn.

Settings (environment): ``PORTSIDE_HEALTH_CHECK_INTERVAL``, seconds from one
answer to the next request to the same instance (Route 53's 30 by default;
shorten it for tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from portside.api.app import App
from portside.domain.servicediscovery.health_checks import (
    Check,
    Memory,
    Result,
    Target,
    checks,
    decide,
)
from portside.domain.servicediscovery.instance import Instance
from portside.domain.servicediscovery.service import Service
from portside.runtime.retention import either_set
from portside.store.store import ConflictError, Store, kind_of

log = logging.getLogger("portside.route53_health")

INTERVAL = timedelta(seconds=30)
TCP_CONNECT_TIMEOUT = 10.0
HTTP_CONNECT_TIMEOUT = 4.0
HTTP_ANSWER_TIMEOUT = 2.0
CONCURRENCY = 64
USER_AGENT = "Amazon-Route53-Health-Check-Service (portside)"
_WATCHED = frozenset({Service.KIND, Instance.KIND})


def interval_from_env() -> timedelta:
    raw = os.environ.get("PORTSIDE_HEALTH_CHECK_INTERVAL")
    try:
        seconds = float(raw) if raw else None
    except ValueError:
        seconds = None
        log.warning("PORTSIDE_HEALTH_CHECK_INTERVAL=%r is not a number of seconds", raw)
    return timedelta(seconds=seconds) if seconds and seconds > 0 else INTERVAL


def _insecure_tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Prober:
    """Real TCP / HTTP(S) probes, at most ``limit`` at a time."""

    def __init__(self, limit: int = CONCURRENCY) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._tls = _insecure_tls()

    async def probe(self, target: Target) -> Result:
        async with self._slots:
            try:
                ok = await self._probe(target)
            except Exception as exc:  # refused, reset, timed out, TLS, garbage: a failed check
                log.debug("health check of %s failed: %r", target, exc)
                ok = False
        return Result(target, ok)

    async def _probe(self, target: Target) -> bool:
        tcp = target.type == "TCP"
        tls = self._tls if target.type == "HTTPS" else None
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(target.address, target.port, ssl=tls,
                                    server_hostname="" if tls is not None else None),
            TCP_CONNECT_TIMEOUT if tcp else HTTP_CONNECT_TIMEOUT,
        )  # fmt: skip
        try:
            if tcp:
                return True
            request = (
                f"GET {target.path or '/'} HTTP/1.1\r\nHost: {target.host}\r\n"
                f"User-Agent: {USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
            )
            writer.write(request.encode("latin-1"))
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), HTTP_ANSWER_TIMEOUT)
            parts = line.split()
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
                return False
            return 200 <= int(parts[1]) < 400
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)


class HealthChecker:
    """The checker's memory, its probes in flight, and one pass."""

    def __init__(self, store: Store, interval: timedelta, prober: Prober) -> None:
        self.store = store
        self.interval = interval
        self.prober = prober
        self.memory: dict[str, Memory] = {}
        self.pending: dict[str, asyncio.Task[Result]] = {}
        self.wakeup = asyncio.Event()
        self.wakeup.set()
        self._checks: list[Check] | None = None  # None: to be read from the store
        store.subscribe(self._note)

    def _note(self, changes: Sequence[Any]) -> None:
        if any(kind_of(c) in _WATCHED for c in changes):
            self._checks = None  # read again: a pass per probe answer must not rescan
            self.wakeup.set()

    def run_once(self, now: datetime) -> datetime | None:
        """Apply answers, commit status changes, send due probes; return the next due time."""
        revision = self.store.revision  # what the checks are read at
        results = {k: t.result() for k, t in self.pending.items() if t.done()}
        busy = self.pending.keys() - results.keys()
        if self._checks is None:
            self._checks = checks(self.store)
        d = decide(self._checks, self.memory, results, busy, now, self.interval)
        if d.changes:  # a commit that fails consumes nothing: the next pass decides again
            self._commit(d.changes, revision)
        for key in results:
            del self.pending[key]
        self.memory = d.memory
        for check in d.due:
            task = asyncio.create_task(self.prober.probe(check.target))
            task.add_done_callback(lambda _: self.wakeup.set())
            self.pending[check.key] = task
        return d.wake_at

    def _commit(self, changes: dict[str, str], revision: int) -> None:
        updated = []
        for key, status in changes.items():
            inst: Instance | None = self.store.get(Instance.KIND, key)
            if inst is not None and inst.checked_health != status:
                updated.append(dataclasses.replace(inst, checked_health=status))
        if updated:
            self.store.commit(updated, expected_revision=revision)
            for inst in updated:
                log.info("instance %s of %s is %s", inst.id, inst.service_id,
                         inst.checked_health)  # fmt: skip

    def close(self) -> None:
        for task in self.pending.values():
            task.cancel()


async def run(app: App, stop: asyncio.Event) -> None:
    """The component: a pass whenever something happened or a probe is due."""
    checker = HealthChecker(app.store, interval_from_env(), Prober())
    try:
        while not stop.is_set():
            checker.wakeup.clear()
            wake_at: datetime | None = None
            try:
                wake_at = checker.run_once(datetime.now(UTC))
            except ConflictError:
                log.warning("the store moved under the health checker; deciding again")
                checker.wakeup.set()
            except Exception:
                log.exception("health check pass failed; retrying in 1 s")
                wake_at = datetime.now(UTC) + timedelta(seconds=1)
            timeout = None
            if wake_at is not None:
                timeout = max(0.0, (wake_at - datetime.now(UTC)).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(either_set(checker.wakeup, stop), timeout)
    finally:
        checker.close()

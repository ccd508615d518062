"""The managed scaling loop: decide every period, keep the groups as decided.

Every ``PORTSIDE_CAPACITY_PERIOD`` seconds (ECS's one minute by default) the
loop runs ``controllers.capacity.decide_all`` on the store and commits what it
decided — desired capacities, instance protection and lifecycle states,
container instances set DRAINING (managed draining) or back to ACTIVE, the
ScalingState with the reservation and the activities — in one commit at the
revision it decided on, as the service reconciler does. Between decisions it
keeps the groups' instances in line with them (runtime/capacity_groups.py:
bind registrations, restart crashed agents, terminate what was let go, launch
to the desired capacity), at once when a group, a group instance or a
container instance changes and at least every second.

Settings (environment):
``PORTSIDE_CAPACITY_PERIOD`` (seconds between decisions, default 60);
``PORTSIDE_SCALE_IN_AFTER`` (seconds below target before a scale-in, ECS's 900:
shorten it only for tests and demos); ``PORTSIDE_LAUNCHER_DRIVER`` (how
``local`` instances run tasks: auto, docker, process);
``PORTSIDE_LAUNCH_COMMAND_TIMEOUT`` (the ``command`` launcher's, seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from portside.api.app import App
from portside.controllers.capacity import SCALE_IN_AFTER, CapacityDecision, decide_all
from portside.runtime.capacity_groups import Groups
from portside.runtime.launchers.base import Launcher
from portside.store.store import ConflictError, Store, kind_of

log = logging.getLogger("portside.capacity")

DEFAULT_PERIOD = 60.0
SETTLE_TICK = 1.0
"""Seconds between group passes when nothing changes (crashed agents are noticed so)."""
_WATCHED = frozenset({"autoscaling_group", "autoscaling_instance", "container_instance",
                      "capacity_provider"})  # fmt: skip


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        log.warning("%s=%r is not a number of seconds; using %s", name, raw, default)
        return default


class Scaling:
    """The decision half: decide for every managed provider, commit, remember."""

    def __init__(self, store: Store, scale_in_after: timedelta = SCALE_IN_AFTER):
        self.store = store
        self.scale_in_after = scale_in_after
        self.last: dict[str, CapacityDecision] = {}
        """Provider ARN -> its last decision (waiting and unfit work, for the views)."""
        self.actions: Counter[tuple[str, str]] = Counter()
        """(provider name, action) -> scaling actions committed since the server started
        (``portside_capacity_provider_scaling_actions_total``)."""

    def decide(self, now: datetime) -> int:
        """One pass; returns how many changes it committed."""
        revision = self.store.revision
        decisions = decide_all(self.store, now, scale_in_after=self.scale_in_after)
        changes: list[Any] = [c for d in decisions for c in d.changes()]
        if changes:
            self.store.commit(changes, expected_revision=revision)
        # Remembered, logged and counted once committed: after a conflict (ConflictError
        # above) the views keep the previous decision and the loop decides again.
        for d in decisions:
            self.last[d.capacity_provider_arn] = d
            name = d.capacity_provider_arn.rsplit("/", 1)[-1]
            for a in d.activities:
                log.info("%s: %s %d -> %d: %s", name, a.action, a.capacity_from,
                         a.capacity_to, a.cause)  # fmt: skip
            self.actions.update((name, a.action) for a in d.activities)
        return len(changes)


def make_launchers(app: App) -> dict[str, Launcher]:
    from portside.runtime.launchers.command import CommandLauncher
    from portside.runtime.launchers.local import LocalLauncher

    driver = os.environ.get("PORTSIDE_LAUNCHER_DRIVER", "auto")
    return {
        "local": LocalLauncher(app.settings.data_dir, driver, app.settings.agent_keys),
        "command": CommandLauncher(),
    }


async def run(app: App, stop: asyncio.Event,
              clock: Callable[[], datetime] | None = None) -> None:  # fmt: skip
    clock = clock or (lambda: datetime.now(UTC))
    period = timedelta(seconds=_seconds("PORTSIDE_CAPACITY_PERIOD", DEFAULT_PERIOD))
    scale_in_after = timedelta(
        seconds=_seconds("PORTSIDE_SCALE_IN_AFTER", SCALE_IN_AFTER.total_seconds()))
    scaling = Scaling(app.store, scale_in_after)
    launchers = make_launchers(app)
    groups = Groups(app.store, launchers, app.settings.local_endpoint, clock, period)
    app.extras["capacity"] = scaling
    wake = asyncio.Event()

    def changed(changes: Sequence[Any]) -> None:
        if any(kind_of(c) in _WATCHED for c in changes):
            wake.set()

    app.store.subscribe(changed)
    next_decision = clock()
    try:
        while not stop.is_set():
            wake.clear()
            now = clock()
            if now >= next_decision:
                next_decision = now + period
                try:
                    scaling.decide(now)
                except ConflictError:
                    next_decision = now  # the store moved under the decision: decide again
                except Exception:
                    log.exception("managed scaling pass failed")
            await groups.settle()
            timeout = min(SETTLE_TICK, max(0.0, (next_decision - clock()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)
    finally:
        for launcher in launchers.values():
            launcher.close()

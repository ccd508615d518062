"""Run the ECS → Cloud Map registration controller whenever tasks or registries change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from portside.api.app import App
from portside.controllers.registrations import decide
from portside.store.store import ConflictError, kind_of

log = logging.getLogger("portside.registrations")
_WATCHED = frozenset({"task", "service", "task_definition", "sd_service", "sd_instance"})


async def run(app: App, stop: asyncio.Event) -> None:
    wake = asyncio.Event()
    wake.set()

    def changed(changes: Sequence[Any]) -> None:
        for c in changes:
            if kind_of(c) in _WATCHED:
                wake.set()
                return

    app.store.subscribe(changed)
    while not stop.is_set():
        await wake.wait()
        wake.clear()
        try:
            changes = decide(app.store, datetime.now(UTC))
            if changes:
                app.store.commit(changes, expected_revision=app.store.revision)
        except ConflictError:
            wake.set()
        except Exception:
            log.exception("registration pass failed; retrying in 1 s")
            await asyncio.sleep(1)
            wake.set()

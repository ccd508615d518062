"""The control plane's background loops, started with the API server.

Each component is ``async def run(app, stop)``: it works until ``stop`` is set.
Add a component by appending it to :func:`components`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from portside.api.app import App

Component = Callable[[App, asyncio.Event], Coroutine[Any, Any, None]]


def components() -> list[Component]:
    from portside.runtime import agent_sessions

    found: list[Component] = []
    found.append(agent_sessions.run)
    from portside.runtime import reconciler

    found.append(reconciler.run)
    from portside.runtime import registrations

    found.append(registrations.run)
    from portside.runtime import capacity

    found.append(capacity.run)
    from portside.runtime import retention

    found.append(retention.run)
    from portside.runtime import route53_health

    found.append(route53_health.run)
    return found

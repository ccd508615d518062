"""Is an instance's agent still there? Heartbeats in, ``agentConnected`` out.

An agent heartbeats every 10 s over its session. An instance whose agent sent
nothing for ``timeout`` (30 s by default) is ``agent_connected=False``; its
next heartbeat makes it connected again.

Two cases are spared, so that a restart or a bare registration does not look
like a lost agent:

- the clock for an instance starts no earlier than ``since`` (when this
  control plane started watching): after a restart every agent gets a full
  ``timeout`` to reconnect, however old its last heartbeat is;
- an instance whose agent never opened a session (registered through the
  API with no agent, as tests and simulated instances are) keeps what
  registration said. The caller says which instances have an agent: those
  that were ever issued agent credentials.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Container, Iterable
from datetime import datetime, timedelta

from portside.domain.ecs.container_instance import ContainerInstance


def lost(
    instances: Iterable[ContainerInstance],
    now: datetime,
    timeout: timedelta,
    since: datetime,
    with_agent: Container[str],
) -> list[ContainerInstance]:
    """The instances to mark ``agent_connected=False`` at ``now``, already marked.

    Only instances in ``with_agent`` (by ARN) are considered.
    """
    out = []
    for ci in instances:
        if not ci.agent_connected or not ci.registered or ci.key not in with_agent:
            continue
        if ci.last_heartbeat_at is None:
            continue
        if now - max(ci.last_heartbeat_at, since) > timeout:
            out.append(dataclasses.replace(ci, agent_connected=False))
    return out


def heartbeat(instance: ContainerInstance, now: datetime) -> ContainerInstance:
    """``instance`` after a heartbeat from its agent at ``now``."""
    return dataclasses.replace(instance, last_heartbeat_at=now, agent_connected=True)

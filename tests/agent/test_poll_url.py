"""The agent's WebSocket endpoint from DiscoverPollEndpoint's answer (agent/session.py)."""

from __future__ import annotations

import pytest

from portside.agent.session import poll_url

KNOWN = "http://10.1.2.3:4600"


@pytest.mark.parametrize(("found", "expected"), [
    ("ws://10.1.2.3:4600/", "ws://10.1.2.3:4600/"),
    ("http://ecs.example:4600/", "ws://ecs.example:4600/"),
    ("https://ecs.example/", "wss://ecs.example/"),
    # a server listening on every address answers with it: the agent keeps its known host
    ("ws://0.0.0.0:4600/", "ws://10.1.2.3:4600/"),
    ("ws://[::]:4600/", "ws://10.1.2.3:4600/"),
    ("", "ws://10.1.2.3:4600/"),
])  # fmt: skip
def test_the_poll_endpoint_names_a_host_the_agent_can_reach(found: str, expected: str) -> None:
    assert poll_url(found, KNOWN) == expected

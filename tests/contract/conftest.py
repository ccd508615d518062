"""Fixtures for the Cloud Map contract tests: a client per wire protocol, and a sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.contract.test_servicediscovery_wire import PROTOCOLS, Sandbox, sandbox, sd_client
from tests.helpers import Server


@pytest.fixture(params=PROTOCOLS)
def sd(server: Server, request: pytest.FixtureRequest) -> Any:
    """A servicediscovery client pinned to one protocol (CBOR or JSON)."""
    return sd_client(server, request.param)


@pytest.fixture
def box(sd: Any) -> Iterator[Sandbox]:
    with sandbox(sd) as b:
        yield b

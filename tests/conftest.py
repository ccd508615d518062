"""Shared fixtures: a portside server per store backend for the contract suite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from portside.agent.ports import RANGE_VARIABLE
from tests.helpers import AGENT_PORTS, IN_CI, Server, worker_slice

POSTGRES_URL = os.environ.get("PORTSIDE_TEST_POSTGRES_URL")

# Every agent the tests start (in this process or as a child) hands out dynamic host ports
# from this worker's own band, apart from the ports tests choose (tests/helpers.py).
_agent_ports = worker_slice(AGENT_PORTS)
os.environ.setdefault(RANGE_VARIABLE, f"{_agent_ports.start}-{_agent_ports.stop - 1}")


def _postgres_database() -> str:
    """A fresh database on the test PostgreSQL server, for one server process."""
    if not POSTGRES_URL:
        if IN_CI:
            pytest.fail("CI=true but PORTSIDE_TEST_POSTGRES_URL is not set: PostgreSQL is required")
        pytest.skip("PostgreSQL not configured (set PORTSIDE_TEST_POSTGRES_URL)")
    import psycopg

    name = f"portside_{uuid.uuid4().hex[:12]}"
    admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}")
    base = POSTGRES_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def store_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_server(backend: str, data_dir: Any, **kw: Any) -> Server:
    url = _postgres_database() if backend == "postgres" else None
    return Server(data_dir=data_dir, database_url=url, **kw)


@pytest.fixture(scope="session")
def server(store_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = make_server(store_backend, tmp_path_factory.mktemp(f"srv-{store_backend}")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def ecs(server: Server) -> Any:
    return server.client("ecs")

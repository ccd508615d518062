"""Fixtures for agent tests: a Docker engine (required in CI) and the busybox test image."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import IN_CI
from tests.support.images import ensure_busybox_image


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A Docker client; the test skips without an engine (and fails with CI=true)."""
    try:
        import docker

        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"CI=true but no Docker engine answers: {exc}")
        pytest.skip(f"no Docker engine: {exc}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def busybox(docker_client: Any) -> str:
    return ensure_busybox_image()

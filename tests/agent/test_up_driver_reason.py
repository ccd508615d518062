"""``portside up`` says why its agents use the driver they use: forced, or what it found."""

from __future__ import annotations

from pathlib import Path

import pytest

from portside.runtime.local_agents import docker_answers
from tests.helpers import IN_CI, Server, until

pytestmark = pytest.mark.slow


def _agents_line(tmp_path: Path, *args: str) -> str:
    srv = Server(data_dir=tmp_path, default_args=["--instances", "1", "--no-fargate", *args]).start()
    try:
        line: str = until(lambda: next((x for x in srv.log().splitlines() if "agents:" in x), None))
        return line
    finally:
        srv.stop()


def test_a_forced_driver_is_reported_as_forced(tmp_path: Path) -> None:
    assert "driver process (--driver process)," in _agents_line(tmp_path, "--driver", "process")


def test_auto_reports_what_it_found(tmp_path: Path) -> None:
    found = ("driver docker (a Docker engine answers)," if IN_CI or docker_answers()
             else "driver process (no Docker engine answers),")
    assert found in _agents_line(tmp_path)

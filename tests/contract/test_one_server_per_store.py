"""One server owns a database: a second one on the same store is refused at start.

Before the store lock the second server started, and the FIRST then failed
every write (its revision check saw the second's writes). Now the second exits
non-zero, naming the lock and its holder, having written nothing: the first
keeps writing, and after it stops the store opens again with all its data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_server
from tests.helpers import Server, free_port


def _second(first: Server) -> subprocess.CompletedProcess[str]:
    """``portside up`` on the first server's store (another port), run to its exit."""
    env = dict(os.environ)
    env.pop("PORTSIDE_DATABASE_URL", None)
    if first.database_url:
        env["PORTSIDE_DATABASE_URL"] = first.database_url
    return subprocess.run(
        [sys.executable, "-m", "portside.cli.main", "up", "--port", str(free_port()),
         "--data-dir", str(first.data_dir), "--dns-port", "0", "--no-agent"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def test_a_second_server_on_the_same_store_is_refused(
    store_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data: Path = tmp_path_factory.mktemp(f"one-owner-{store_backend}")
    first = make_server(store_backend, data).start()
    assert first.proc is not None
    try:
        ecs = first.client()
        ecs.create_cluster(clusterName="before")

        second = _second(first)
        assert second.returncode != 0, second.stdout + second.stderr
        message = " ".join(second.stderr.split())
        assert "the database is in use" in message, message
        assert f"portside pid {first.proc.pid} at {first.endpoint}" in message  # the holder
        assert "stop that server" in message  # and what to do
        if store_backend == "sqlite":
            assert str(data / "portside.db.lock") in message
        else:
            assert "advisory lock" in message
        assert "listening on" not in second.stdout  # it never served

        ecs.create_cluster(clusterName="after")  # the first still writes
        names = {a.rsplit("/", 1)[1] for a in ecs.list_clusters()["clusterArns"]}
        assert {"before", "after"} <= names
    finally:
        first.stop()

    # stopped, the first gave up its lock: a new server opens the store, nothing lost
    again = Server(data_dir=data, database_url=first.database_url).start()
    try:
        names = {a.rsplit("/", 1)[1] for a in again.client().list_clusters()["clusterArns"]}
        assert {"before", "after"} <= names
    finally:
        again.stop()

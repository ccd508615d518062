"""Accepted means durable: what got a 2xx survives kill -9 and a restart."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.conftest import make_server
from tests.helpers import unique


@pytest.mark.slow
def test_acknowledged_writes_survive_kill_9(store_backend: str, tmp_path: Path) -> None:
    srv = make_server(store_backend, tmp_path).start()
    try:
        ecs = srv.client()
        names = [unique("dur") for _ in range(20)]
        for name in names:
            ecs.create_cluster(clusterName=name, tags=[{"key": "k", "value": name}])
        ecs.delete_cluster(cluster=names[0])
        srv.kill(signal.SIGKILL)

        srv.start()
        ecs = srv.client()
        got = ecs.describe_clusters(clusters=names, include=["TAGS"])["clusters"]
        by_name = {c["clusterName"]: c for c in got}
        assert set(by_name) == set(names)
        assert by_name[names[0]]["status"] == "INACTIVE"
        for name in names[1:]:
            assert by_name[name]["status"] == "ACTIVE"
            assert by_name[name]["tags"] == [{"key": "k", "value": name}]
    finally:
        srv.stop()


def test_refuses_non_loopback_without_credentials(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "portside.cli.main", "up", "--host", "0.0.0.0",
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode != 0
    assert "--credentials" in out.stderr


def test_credentials_file_replaces_dev_keys(tmp_path: Path) -> None:
    from botocore.exceptions import ClientError

    from tests.helpers import Server, client

    creds = tmp_path / "creds"
    creds.write_text("[ops]\naws_access_key_id = AKIAOPS\naws_secret_access_key = s3cret\n")
    srv = Server(data_dir=tmp_path, extra_args=["--credentials", str(creds),
                                                 "--account-id", "123456789012"]).start()
    try:
        ok = client(srv.endpoint, key="AKIAOPS", secret="s3cret")
        arn = ok.create_cluster(clusterName="x")["cluster"]["clusterArn"]
        assert arn == "arn:aws:ecs:us-east-1:123456789012:cluster/x"
        with pytest.raises(ClientError) as err:
            client(srv.endpoint).list_clusters()
        assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
    finally:
        srv.stop()

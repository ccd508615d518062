"""A task's TLS certificate and policies from its ``serviceConnect`` section to its proxy."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path
from typing import Any

from portside.agent.service_connect_config import proxy_config
from portside.agent.service_connect_tls import write_tls
from portside.proxy.config import Balancing, Direction, config_to_dict, parse_config
from portside.proxy.tls import CertificateAuthority

NOW = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)


def _section(ca: CertificateAuthority) -> dict[str, Any]:
    issued = ca.issue("api", NOW, names=("api",))
    return {
        "namespace": "ns",
        "upstreams": [
            {"name": "api", "protocol": "http", "tls": True,
             "outlier": {"consecutive5xx": 2, "baseEjectionSeconds": 1.5},
             "retry": {"maxRetries": 0}, "loadBalancing": "least_request"},
            {"name": "plain", "protocol": "tcp"},
        ],
        "outbound": [{"dnsName": "api", "port": 8080, "upstream": "api"},
                     {"dnsName": "plain", "port": 9000, "upstream": "plain"}],
        "inbound": [{"upstream": "api", "containerName": "app", "containerPort": 8080,
                     "ingressPort": 15443, "protocol": "http", "tls": True}],
        "endpoints": {"api": [], "plain": []},
        "tls": {"identity": "api", "names": ["api"], "certificateAuthority": ca.cert_pem.decode(),
                "certificate": issued.cert_pem.decode(), "privateKey": issued.key_pem.decode(),
                "notAfter": int(issued.not_after.timestamp())},
    }


def test_tls_files_are_written_once_and_replaced_on_rotation(tmp_path: Path) -> None:
    ca = CertificateAuthority.create("test", NOW)
    section = _section(ca)
    tls = write_tls(tmp_path, section)
    assert tls is not None
    assert Path(tls.cert_file).read_text() == section["tls"]["certificate"]
    assert stat.S_IMODE(os.stat(tls.key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "tls").st_mode) == 0o700
    inode = os.stat(tls.cert_file).st_ino
    assert write_tls(tmp_path, section) == tls
    assert os.stat(tls.cert_file).st_ino == inode  # unchanged: not rewritten (no reload)
    rotated = _section(ca)
    assert write_tls(tmp_path, rotated) == tls  # same paths: the proxy reloads the files
    assert Path(tls.cert_file).read_text() == rotated["tls"]["certificate"]
    assert write_tls(tmp_path, {"upstreams": []}) is None


def test_proxy_config_carries_tls_and_policies(tmp_path: Path) -> None:
    section = _section(CertificateAuthority.create("test", NOW))
    tls = write_tls(tmp_path, section)
    config = proxy_config(section, {"api": "127.255.0.1", "plain": "127.255.0.2"},
                          task_address="127.70.0.5", admin_unix="/tmp/x.sock", tls=tls)
    api, plain = config.upstream("api"), config.upstream("plain")
    assert tls is not None and api.tls is not None
    assert (api.tls.ca_file, api.tls.server_name) == (tls.ca_file, "api")  # checks the peer's name
    assert plain.tls is None
    assert (api.outlier.consecutive_failures, api.outlier.base_ejection_seconds) == (2, 1.5)
    assert api.outlier.max_ejection_seconds == 300.0  # untouched: Envoy's default
    assert api.retry.max_retries == 0 and api.balancing is Balancing.LEAST_REQUEST
    assert plain.outlier.consecutive_failures == 5 and plain.retry.max_retries == 2
    (inbound,) = [x for x in config.listeners if x.direction is Direction.INBOUND]
    assert (inbound.port, inbound.address, inbound.tls) == (15443, "127.70.0.5", tls)
    assert config.upstream("inbound:api").tls is None  # to the application: plaintext
    assert parse_config(config_to_dict(config)) == config  # what the proxy will read

    # No certificate yet: a TLS port is not served at all rather than in plaintext.
    bare = proxy_config(section, {}, task_address="127.70.0.5", admin_unix="/tmp/x.sock")
    assert not [x for x in bare.listeners if x.direction is Direction.INBOUND]

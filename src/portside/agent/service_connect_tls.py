"""A task proxy's TLS files: the certificate the control plane sent, written where the proxy reads.

The ``serviceConnect.tls`` entry of a task's payload carries the task's
certificate, its private key and the authority's certificate (PEM;
runtime/service_connect_tls.py). They are written to
``STATE_DIR/service-connect/<task-id>/tls/`` (``ca.pem``, ``cert.pem``,
``key.pem``, the key and the directory readable by the agent's user only), each
file replaced atomically and only when its content changed: the proxy notices
the new files on its next poll and loads them for new handshakes, keeping
established connections (proxy/tls.py) — that is the whole of a rotation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from portside.proxy.config import TlsConfig
from portside.proxy.tls import write_atomic


def write_tls(directory: Path, section: Mapping[str, Any]) -> TlsConfig | None:
    """Write the section's PEMs under ``directory/tls``; their paths, or None when it has none."""
    tls = section.get("tls")
    if not isinstance(tls, Mapping) or not tls.get("certificate") or not tls.get("privateKey"):
        return None
    where = directory / "tls"
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    config = TlsConfig(str(where / "ca.pem"), str(where / "cert.pem"), str(where / "key.pem"))
    # key before certificate: a proxy that reloads in between sees a mismatched pair,
    # refuses it and keeps the old one until the next poll (proxy/tls.py)
    for path, key, mode in ((config.ca_file, "certificateAuthority", 0o644),
                            (config.key_file, "privateKey", 0o600),
                            (config.cert_file, "certificate", 0o644)):
        data = str(tls.get(key) or "").encode()
        if _read(path) != data:
            write_atomic(path, data, mode)
    return config


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


__all__ = ["write_tls"]

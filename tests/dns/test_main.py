"""``python -m portside.dns``: the server on its own, fed from a JSON file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode

from tests.dns.conftest import HOST, values


def zones(ips: list[str]) -> list[dict[str, object]]:
    return [
        {
            "name": "corp.local",
            "services": [
                {
                    "name": "api",
                    "records": [{"type": "A", "ttl": 30}],
                    "instances": [{"id": f"t{n}", "ipv4": ip} for n, ip in enumerate(ips)],
                }
            ],
        }
    ]


def ask(port: int, name: str) -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(name, "A"), HOST, port=port, timeout=10)


def test_serves_a_zones_file_and_rereads_it_on_sighup(tmp_path: Path) -> None:
    path = tmp_path / "zones.json"
    path.write_text(json.dumps(zones(["10.0.0.1"])))
    with subprocess.Popen(
        [sys.executable, "-m", "portside.dns", "--zones", str(path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        _check(proc, path)
        proc.terminate()
        assert proc.wait(10) == 0


def _check(proc: subprocess.Popen[str], path: Path) -> None:
    try:
        assert proc.stdout is not None
        word, host, port_text = proc.stdout.readline().split()
        assert (word, host) == ("listening", HOST)
        port = int(port_text)
        assert values(ask(port, "api.corp.local")) == ["10.0.0.1"]
        assert ask(port, "example.com").rcode() == dns.rcode.REFUSED
        path.write_text(json.dumps(zones(["10.0.0.2"])))
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60  # generous: CI machines are loaded
        while values(ask(port, "api.corp.local")) != ["10.0.0.2"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    except BaseException:
        proc.kill()
        raise

"""Service Connect under failure, through ECS, with real processes (process driver).

- an api task that starts answering 503 is ejected by the callers' proxies (the
  client never sees an error: 503s are retried on another task) and gets
  traffic again once its ejection time is over;
- a slow endpoint hits the per-request timeout set with
  ``serviceConnectConfiguration.services[].timeout.perRequestTimeoutSeconds``;
- a task's proxy that dies is restarted by the agent and traffic resumes;
- ``portside top --once`` shows the traffic per service and per endpoint, in both
  directions: Cloud Map registers each api task's ingress port, so callers reach it
  through its proxy's inbound listener.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.service_connect_rig import API, hits, key_of, lines, linux_root, mesh
from tests.helpers import until

pytestmark = [pytest.mark.slow, linux_root]

# A shorter ejection than Envoy's 30 s where portside's policy tags are supported
# (domain/ecs/service_connect_policy.py); the test waits long enough for either.
EJECTION_TAGS = [{"key": "portside:outlier.baseEjectionSeconds", "value": "5"}]
INGRESS_PORT = 15443  # no ingressPortOverride: the first free port from INGRESS_BASE


def _errors(found: list[str]) -> list[str]:
    return [x for x in found if not x.startswith("ok ")]


def _kill(pid_file: Path) -> int | None:
    """SIGKILL the proxy the pid file names; None while it names none alive (a proxy
    being restarted: the file is rewritten once the new one runs)."""
    try:
        pid = int(pid_file.read_text())
        if b"portside.proxy" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None  # that pid is now another process's
        os.kill(pid, signal.SIGKILL)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def test_a_task_answering_503_is_ejected_then_comes_back(tmp_path: Path) -> None:
    control = tmp_path / "control"
    control.mkdir()
    answers = tmp_path / "answers.txt"
    with mesh(tmp_path) as m:
        m.api([API, str(control)], tags=EJECTION_TAGS)
        m.client(answers)
        until(lambda: len(lines(answers)) >= 150, timeout=90)
        spread = collections.Counter(x[3:] for x in lines(answers))
        assert len(spread) == 3, spread
        bad = sorted(spread)[0]
        key = key_of(bad)

        # It starts failing: after a few 503s (5 in a row per caller) it is ejected,
        # and the client's requests are retried on the others meanwhile.
        before = len(lines(answers))
        (control / f"fail-{key}").touch()
        started = time.monotonic()

        def quiet() -> bool:  # no request reached the bad task for 1.5 s
            seen = hits(control, key)
            time.sleep(1.5)
            return hits(control, key) == seen

        until(quiet, timeout=60)
        ejected_after = time.monotonic() - started
        # portside top says so: one endpoint of the client's was ejected, with the 503s it
        # sent (a count, not the "ejected now" gauge: a 5 s ejection may be over by then)
        doc = until(lambda: [r for r in m.top_json()["endpoints"]
                             if r["service"] == "client" and r["ejections"]], timeout=30, every=1)
        assert len(doc) == 1 and doc[0]["responses"]["5xx"] >= 5, doc
        during = lines(answers)[before:]
        assert len(during) > 0
        assert _errors(during) == []  # every 503 was retried on a healthy task
        assert not [x for x in during[-20:] if x[3:] == bad]  # and it answers no more

        # Healthy again: it gets traffic once its ejection time is over.
        (control / f"fail-{key}").unlink()
        healed = time.monotonic()
        mark = len(lines(answers))
        until(lambda: any(x[3:] == bad for x in lines(answers)[mark:]), timeout=120)
        back_after = time.monotonic() - healed
        assert _errors(lines(answers)) == []
        print(json.dumps({"ejected_after_s": round(ejected_after, 2),
                          "back_after_s": round(back_after, 2)}))


def test_a_slow_endpoint_hits_the_per_request_timeout(tmp_path: Path) -> None:
    answers = tmp_path / "answers.txt"
    with mesh(tmp_path) as m:
        m.api([API], count=1, timeout={"perRequestTimeoutSeconds": 1})
        m.client(answers, path="/slow/6")  # the api answers after 6 s; the proxy gives up at 1 s
        until(lambda: len(lines(answers)) >= 3, timeout=90)
        found = lines(answers)
        assert all("HTTPError 504" in x for x in found), found  # Envoy's answer to a timeout


def test_a_dead_proxy_is_restarted_and_top_shows_the_traffic(tmp_path: Path) -> None:
    answers = tmp_path / "answers.txt"
    with mesh(tmp_path) as m:
        m.api([API])
        client = m.client(answers)
        until(lambda: len(lines(answers)) >= 100, timeout=90)

        # Cloud Map registers each api task's ingress port (its proxy's inbound listener,
        # domain/ecs/service_connect.py INGRESS_BASE), not the application's own port
        found = m.sd.discover_instances(NamespaceName=m.namespace, ServiceName="api")
        ports = {i["Attributes"]["AWS_INSTANCE_PORT"] for i in found["Instances"]}
        assert ports == {str(INGRESS_PORT)}, ports

        # portside top: the client's calls out, and the api tasks' calls in (through their
        # inbound listeners), per service and per endpoint
        both = {("client", "out", "api"), ("api", "in", "api")}

        def complete(d: dict[str, Any]) -> bool:
            """Every row, and every proxy in it: one that missed a stats round is left out."""
            rows = {(r["service"], r["direction"], r["upstream"]): r for r in d["services"]}
            return set(rows) == both and all(r["requestsPerSecond"] > 0 for r in d["services"]) \
                and rows[("api", "in", "api")]["tasks"] == 3 \
                and sum(r["service"] == "client" for r in d["endpoints"]) == 3

        doc = until(lambda: complete(d := m.top_json()) and d, timeout=90, every=1)
        rows = {(r["service"], r["direction"], r["upstream"]): r for r in doc["services"]}
        out = rows[("client", "out", "api")]
        assert out["requests"] > 0 and out["responses"]["2xx"] > 0 and out["tasks"] == 1
        assert out["p50Ms"] is not None and out["p99Ms"] >= out["p50Ms"]
        inbound = rows[("api", "in", "api")]
        assert inbound["requests"] > 0 and inbound["responses"]["2xx"] > 0, inbound
        assert inbound["tasks"] == 3, inbound
        client_endpoints = [r for r in doc["endpoints"] if r["service"] == "client"]
        assert len(client_endpoints) == 3 and all(r["requests"] > 0 for r in client_endpoints)
        assert all(r["endpoint"].endswith(f":{INGRESS_PORT}") for r in client_endpoints)
        text = m.top()
        assert "client" in text and "api" in text and "Service Connect by service" in text

        # The client's proxy dies: the agent starts a new one and requests succeed again.
        pid_file = m.proxy_pid_file(client)
        old = until(lambda: _kill(pid_file), timeout=30)
        killed = time.monotonic()
        mark = len(lines(answers))
        until(lambda: pid_file.exists() and int(pid_file.read_text() or 0) not in (0, old),
              timeout=30)
        restarted = time.monotonic() - killed
        until(lambda: len([x for x in lines(answers)[mark:] if x.startswith("ok ")]) >= 50,
              timeout=60)
        print(json.dumps({"proxy_killed_to_restarted_s": round(restarted, 2),
                          "client_errors_meanwhile": len(_errors(lines(answers)[mark:]))}))
        agent_logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("**/*.log"))
        assert "Service Connect proxy exited" in agent_logs
        assert "Service Connect proxy restarted" in agent_logs

"""Service Connect when an api task's application dies abruptly (process driver).

Not StopTask, which deregisters the task first and drains it: the application
process gets SIGKILL while the client's stream of GETs runs. Requests in flight
to it, and those its proxy's inbound listener still accepts until the task is
stopped, fail there (a reset, then a refused connection: 503); the client's
proxy retries them on another api task, so the client sees no error.

The client-only service (no ``services`` in its Service Connect configuration)
registers nothing in Cloud Map while its task runs: only api's instances exist.
The control plane's ``/metrics``, fed by the real agent, shows the client's calls.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.service_connect_rig import API, lines, linux_root, mesh
from tests.helpers import until

pytestmark = [pytest.mark.slow, linux_root]


def instances_by_service(sd: Any, namespace: str) -> dict[str, int]:
    """Every Cloud Map service of the namespace, with how many instances it holds."""
    (ns,) = [n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == namespace]
    services = sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns["Id"]]}])
    return {s["Name"]: len(sd.list_instances(ServiceId=s["Id"])["Instances"])
            for s in services["Services"]}


def app_pid(root: Path, task_arn: str) -> int:
    """The application process of the task's ``app`` container (the process driver's pid file)."""
    task_id = task_arn.rsplit("/", 1)[-1]

    def pid() -> int | None:
        for found in root.glob(f"**/processes/{task_id}/app.json"):
            doc = json.loads(found.read_text() or "{}")
            if doc.get("pid"):
                return int(doc["pid"])
        return None

    return int(until(pid, timeout=30))


def answer_of(found: list[str], task_arn: str) -> str:
    """Which answer is the task's: each api task answers its metadata URI (task metadata v4)."""
    for answer in {x[3:] for x in found if x.startswith("ok ")}:
        with urllib.request.urlopen(answer + "/task", timeout=10) as resp:
            if json.load(resp)["TaskARN"] == task_arn:
                return answer
    raise AssertionError(f"{task_arn} answered nothing")


def test_sigkill_of_an_api_application_causes_no_client_error(tmp_path: Path) -> None:
    answers = tmp_path / "answers.txt"
    with mesh(tmp_path) as m:
        m.api([API])
        m.client(answers)
        until(lambda: len(lines(answers)) >= 100, timeout=90)
        assert instances_by_service(m.sd, m.namespace) == {"api": 3}  # nothing of the client's

        victim = m.ecs.list_tasks(cluster="default", serviceName="api")["taskArns"][0]
        pid = app_pid(tmp_path, victim)
        answer = answer_of(lines(answers), victim)
        mark = len(lines(answers))
        os.kill(pid, signal.SIGKILL)

        task = until(lambda: (t := m.ecs.describe_tasks(cluster="default", tasks=[victim])[
            "tasks"][0])["lastStatus"] == "STOPPED" and t, timeout=60)
        assert task["stopCode"] == "EssentialContainerExited", task
        assert task["containers"][0]["exitCode"] == 128 + signal.SIGKILL  # killed, not stopped
        # the service replaces it; the stream goes on and nothing failed from first to last
        until(lambda: len(m.ecs.list_tasks(cluster="default", serviceName="api",
                                           desiredStatus="RUNNING")["taskArns"]) == 3, timeout=90)
        until(lambda: len(lines(answers)) >= mark + 200, timeout=90)
        found = lines(answers)
        assert [x for x in found if not x.startswith("ok ")] == []
        assert answer not in {x[3:] for x in found[-50:]}  # and it answers no more
        # the replacement is registered once it runs (listed above from its placement on)
        until(lambda: instances_by_service(m.sd, m.namespace) == {"api": 3}, timeout=90)

        def calls() -> float:
            with urllib.request.urlopen(m.srv.endpoint + "/metrics", timeout=10) as resp:
                text = resp.read().decode()
            prefix = 'portside_service_connect_requests_total{cluster="default",'
            row = [x for x in text.splitlines() if x.startswith(prefix)
                   and 'service="client"' in x and 'direction="out"' in x]
            return float(row[0].rsplit(" ", 1)[1]) if row else 0.0

        until(lambda: calls() >= 100, timeout=30, every=0.5)

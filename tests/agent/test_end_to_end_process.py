"""End to end with the process driver: ``portside up``, ``portside agent``, boto3.

Tasks are placed by the real control plane's RunTask onto an agent the test
starts; the agent runs them as host processes.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

import pytest

from portside.agent.ports import dynamic_range
from tests.agent.e2e import cluster, until

pytestmark = pytest.mark.slow

HTTP_SERVER = (
    "import os, http.server as h\n"
    "h.ThreadingHTTPServer(('0.0.0.0', int(os.environ['PORT'])), h.SimpleHTTPRequestHandler).serve_forever()\n"
)


def web(**extra: object) -> dict[str, object]:
    return {"name": "web", "image": "python", "memory": 128, "essential": True,
            "command": [sys.executable, "-c", HTTP_SERVER],
            "portMappings": [{"containerPort": 8000}], "stopTimeout": 5, **extra}


def get(url: str) -> int:
    def once() -> int | None:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return int(r.status)
        except OSError:
            return None

    return int(until(once, 60, f"GET {url}"))


def test_run_task_runs_answers_and_stops(tmp_path: Path) -> None:
    with cluster(tmp_path) as c:
        agent = c.agent("process")
        (ci,) = c.ecs.describe_container_instances(cluster=c.name, containerInstances=[agent.instance_arn])[
            "containerInstances"
        ]
        assert ci["agentConnected"] and ci["status"] == "ACTIVE"
        attrs = {a["name"]: a.get("value") for a in ci["attributes"]}
        assert attrs["ecs.os-type"] == "linux" and attrs["ecs.availability-zone"] == "us-east-1a"
        ports = next(r for r in ci["registeredResources"] if r["name"] == "PORTS")["stringSetValue"]
        assert {"22", "2375", "2376", "51678", "51679"} <= set(ports)

        arn = c.run_task(c.task_definition([web()]))
        task = c.wait(arn, "RUNNING")
        (container,) = task["containers"]
        (binding,) = container["networkBindings"]
        low, high = dynamic_range()  # the range the agent was given
        assert low <= binding["hostPort"] <= high
        assert get(f"http://127.0.0.1:{binding['hostPort']}/") == 200
        assert task["containerInstanceArn"] == agent.instance_arn

        c.ecs.stop_task(cluster=c.name, task=arn, reason="done here")
        stopped = c.wait(arn, "STOPPED")
        assert stopped["stopCode"] == "UserInitiated" and stopped["stoppedReason"] == "done here"
        assert stopped["containers"][0]["exitCode"] == 143
        assert "executionStoppedAt" in stopped


def test_an_essential_exit_stops_the_task_with_its_exit_code(tmp_path: Path) -> None:
    with cluster(tmp_path) as c:
        c.agent("process")
        td = c.task_definition([{"name": "job", "image": "python", "memory": 64,
                                 "command": ["sh", "-c", "sleep 0.5; exit 7"]}])
        arn = c.run_task(td)
        stopped = c.wait(arn, "STOPPED")
        assert stopped["stopCode"] == "EssentialContainerExited"
        assert stopped["stoppedReason"] == "Essential container in task exited"
        assert stopped["containers"][0]["exitCode"] == 7


def test_a_failing_health_check_marks_the_task_unhealthy(tmp_path: Path) -> None:
    with cluster(tmp_path) as c:
        c.agent("process")
        td = c.task_definition([{"name": "app", "image": "python", "memory": 64, "command": ["sleep", "300"],
                                 "stopTimeout": 2,
                                 "healthCheck": {"command": ["CMD-SHELL", "exit 1"], "interval": 5,
                                                 "timeout": 2, "retries": 1}}])
        arn = c.run_task(td)
        c.wait(arn, "RUNNING")
        task = until(lambda: (t := c.describe(arn))["healthStatus"] == "UNHEALTHY" and t, 60, "UNHEALTHY", c)
        assert task["containers"][0]["healthStatus"] == "UNHEALTHY"


def test_killing_and_restarting_the_agent_duplicates_nothing(tmp_path: Path) -> None:
    with cluster(tmp_path) as c:
        agent = c.agent("process")
        td = c.task_definition([web()])
        keep, drop = c.run_task(td), c.run_task(td)
        before = {arn: c.wait(arn, "RUNNING")["containers"][0] for arn in (keep, drop)}
        pids = _pids(agent.state_dir)
        assert len(pids) == 2

        agent.kill()  # SIGKILL: the processes live on
        assert all(os.path.exists(f"/proc/{pid}") for pid in pids.values())
        c.ecs.stop_task(cluster=c.name, task=drop, reason="while the agent was away")
        agent.start()
        assert agent.starts == 2

        stopped = c.wait(drop, "STOPPED")
        assert stopped["stoppedReason"] == "while the agent was away"
        until(lambda: not os.path.exists(f"/proc/{pids[drop]}"), 60, "the stopped task's process exits", c)
        task = c.describe(keep)
        assert task["lastStatus"] == "RUNNING"
        assert task["containers"][0]["runtimeId"] == before[keep]["runtimeId"]
        assert _pids(agent.state_dir) == {keep: pids[keep]}  # adopted, not started again
        port = task["containers"][0]["networkBindings"][0]["hostPort"]
        assert get(f"http://127.0.0.1:{port}/") == 200
        (ci,) = c.ecs.describe_container_instances(cluster=c.name, containerInstances=[agent.instance_arn])[
            "containerInstances"
        ]
        assert ci["agentConnected"] and ci["runningTasksCount"] == 1


def _pids(state_dir: Path) -> dict[str, int]:
    out = {}
    for f in state_dir.glob("processes/*/web.json"):
        doc = json.loads(f.read_text())
        if "pid" in doc and os.path.exists(f"/proc/{doc['pid']}"):
            out[doc["task_arn"]] = doc["pid"]
    return out



def test_a_dropped_session_keeps_tasks_running_and_reconnects(tmp_path: Path) -> None:
    with cluster(tmp_path) as c:
        agent = c.agent("process")
        arn = c.run_task(c.task_definition([web()]))
        runtime_id = c.wait(arn, "RUNNING")["containers"][0]["runtimeId"]
        c.server.stop()  # the control plane goes away: the session drops
        c.server.start()
        until(lambda: agent.log().count("session open") >= 2, 60, "the agent reconnects", c)
        task = c.describe(arn)
        assert task["lastStatus"] == "RUNNING" and task["containers"][0]["runtimeId"] == runtime_id
        c.ecs.stop_task(cluster=c.name, task=arn)
        assert c.wait(arn, "STOPPED")["containers"][0]["exitCode"] == 143


def test_rotated_credentials_keep_the_reports_flowing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTSIDE_AGENT_CREDENTIAL_TTL", "9")  # a new pair every 6 s
    with cluster(tmp_path) as c:
        agent = c.agent("process")
        arn = c.run_task(c.task_definition([web()]))
        c.wait(arn, "RUNNING")
        until(lambda: agent.log().count("credentials") >= 3, 90, "two rotations", c)
        c.ecs.stop_task(cluster=c.name, task=arn)  # reported with a rotated pair
        assert c.wait(arn, "STOPPED")["containers"][0]["exitCode"] == 143
        assert "AccessDenied" not in agent.log() and "refused" not in agent.log()

"""``portside up --credentials FILE`` with its local agents: they register with the file's keys.

With a credentials file the dev pair is refused, so the agents ``up`` starts
(the EC2 one and the Fargate pool) must sign with a pair from the file; and the
``try:`` line ``up`` prints must be a command that works once the secret is
filled in (loopback instead of the wildcard address, the file's key id).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Server, client, stop_everything, until

pytestmark = pytest.mark.slow

KEY, SECRET = "AKIAOPS", "s3cret-not-printed"


def test_up_with_credentials_registers_its_agents(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.write_text(f"[ops]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n"
                     "[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = x\n")
    srv = Server(data_dir=tmp_path / "server", default_args=[
        "--instances", "1", "--driver", "process", "--host", "0.0.0.0",
        "--credentials", str(creds)]).start()
    ecs = client(srv.endpoint, key=KEY, secret=SECRET)
    try:
        # the EC2 agent registers
        until(lambda: len(ecs.list_container_instances(cluster="default")[
            "containerInstanceArns"]) == 1, timeout=90)
        # the Fargate pool registered too: a FARGATE task runs on it
        family = "sleeper"
        ecs.register_task_definition(
            family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
            cpu="256", memory="512", containerDefinitions=[{
                "name": "app", "image": "python", "essential": True,
                "entryPoint": [sys.executable, "-c"],
                "command": ["import time\nwhile True: time.sleep(1)\n"], "stopTimeout": 2}])
        # the Fargate pool's agent registers a moment after up's first agent: until then
        # RunTask answers with a failure and starts nothing
        (task,) = until(lambda: ecs.run_task(
            cluster="default", taskDefinition=family, launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"]}})["tasks"],
            timeout=90, every=1)

        def status() -> str | None:
            (t,) = ecs.describe_tasks(cluster="default", tasks=[task["taskArn"]])["tasks"]
            return str(t["lastStatus"]) if t["lastStatus"] in ("RUNNING", "STOPPED") else None

        assert until(status, timeout=90) == "RUNNING"

        # the try line works as printed once the secret is filled in, and shows no secret
        log = srv.log()
        assert SECRET not in log
        line = next(x for x in log.splitlines() if "try: " in x)
        assert f"AWS_ACCESS_KEY_ID={KEY} AWS_SECRET_ACCESS_KEY=... " in line
        assert f"--endpoint-url http://127.0.0.1:{srv.port} " in line
        command = line.split("try: ", 1)[1].replace("=... ", f"={SECRET} ")
        bin_dir = str(Path(sys.executable).parent)
        env: dict[str, Any] = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"],
                               "AWS_PAGER": ""}  # fmt: skip
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
            env.pop(name, None)
        out = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env,
                             timeout=60, check=True).stdout  # fmt: skip
        assert any(a.endswith(":cluster/default") for a in json.loads(out)["clusterArns"])
    finally:
        try:
            stop_everything(ecs)
        finally:
            srv.stop()

"""The launchers on their own: real shell commands and real agent processes, no server.

The ``local`` launcher's agents point at a port nothing listens on: they keep
retrying registration, which is all these tests need of them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portside.agent.drivers.process_spawn import start_ticks
from portside.controllers.capacity_model import GroupInstance, InstanceGroup, InstanceSpec
from portside.runtime.launchers import LaunchError, LaunchRequest
from portside.runtime.launchers.command import CommandLauncher
from portside.runtime.launchers.local import LocalLauncher
from tests.helpers import free_port, until

SPEC = InstanceSpec("t3.small", cpu=2048, memory=1996, eni_slots=2)
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def _request(launch: str | None = None, terminate: str | None = None,
             iid: str = "i-0123456789abcdef0") -> LaunchRequest:  # fmt: skip
    arn = "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:x:autoScalingGroupName/g"
    group = InstanceGroup(arn, "g", NOW, (SPEC,), ("us-east-1b",), max_size=3,
                          launcher="command", launch_command=launch, terminate_command=terminate)
    instance = GroupInstance(iid, arn, "us-east-1b", "t3.small", NOW)
    return LaunchRequest(group, instance, SPEC, "prod", "http://127.0.0.1:4600", "us-east-1")


def test_command_gets_the_instance_environment(tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    CommandLauncher(timeout=30).launch(_request(
        "python3 -c 'import json, os; print(json.dumps({k: v for k, v in os.environ.items() "
        f"if k.startswith(\"PORTSIDE_\")}}))' > {out}"))
    expected = {
        "PORTSIDE_INSTANCE_ID": "i-0123456789abcdef0", "PORTSIDE_INSTANCE_TYPE": "t3.small",
        "PORTSIDE_AVAILABILITY_ZONE": "us-east-1b", "PORTSIDE_CPU": "2048",
        "PORTSIDE_MEMORY": "1996", "PORTSIDE_ENDPOINT": "http://127.0.0.1:4600",
        "PORTSIDE_CLUSTER": "prod", "PORTSIDE_REGION": "us-east-1",
    }
    seen = json.loads(out.read_text())
    assert {k: seen.get(k) for k in expected} == expected


def test_a_background_process_does_not_hold_the_command(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    launcher = CommandLauncher(timeout=20)
    launcher.launch(_request(f"sleep 300 & echo $! > {pid_file}; echo started >&2"))
    pid = int(pid_file.read_text())
    assert start_ticks(pid) is not None
    launcher.terminate(_request(terminate=f"kill {pid}"))
    until(lambda: start_ticks(pid) is None)


def test_failures_say_why() -> None:
    launcher = CommandLauncher(timeout=30)  # a shell on a loaded machine can take a while
    with pytest.raises(LaunchError, match=r"exited with code 3: the pool is empty$"):
        launcher.launch(_request("echo trying >&2; echo 'the pool is empty' >&2; exit 3"))
    with pytest.raises(LaunchError, match=r"did not finish within"):
        CommandLauncher(timeout=0.5).launch(_request("sleep 5"))
    with pytest.raises(LaunchError, match=r"has no launch command"):
        launcher.launch(_request(None))
    launcher.terminate(_request("true", None))  # no terminate command: nothing to run


def test_local_agent_is_the_instance(tmp_path: Path) -> None:
    launcher = LocalLauncher(tmp_path, driver="process", keys=("AKIDOPS", "s3cret-key"))
    req = _request()
    req = LaunchRequest(req.group, req.instance, SPEC, "prod",
                        f"http://127.0.0.1:{free_port()}", "us-east-1")
    launcher.launch(req)
    state = tmp_path / "instances" / req.instance.instance_id
    try:
        identity = json.loads((state / "agent.json").read_text())
        assert identity["instance_id"] == req.instance.instance_id  # its ec2InstanceId
        pid = json.loads((state / "agent.pid").read_text())["pid"]
        assert launcher.tracks(req.instance.instance_id)
        assert launcher.exited(req.instance.instance_id) is None
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        for flag, value in (("--cpu", "2048"), ("--memory", "1996"), ("--az", "us-east-1b"),
                            ("--instance-type", "t3.small"), ("--cluster", "prod"),
                            ("--attribute", f"portside.instance-id={req.instance.instance_id}")):
            assert cmdline[cmdline.index(flag.encode()) + 1] == value.encode()
        # The server's key pair reaches the agent in its environment, not its command line.
        assert b"s3cret-key" not in b" ".join(cmdline)
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert b"PORTSIDE_AGENT_SECRET_KEY=s3cret-key" in environ
        assert b"PORTSIDE_AGENT_ACCESS_KEY=AKIDOPS" in environ

        # A second launcher (a restarted control plane) takes the running agent over.
        again = LocalLauncher(tmp_path, driver="process")
        again.launch(req)
        assert json.loads((state / "agent.pid").read_text())["pid"] == pid

        again.terminate(req)
        assert start_ticks(pid) is None and not state.exists()
        code = until(lambda: launcher.exited(req.instance.instance_id))
        assert code is not None and code.code is not None
    finally:
        launcher.close()

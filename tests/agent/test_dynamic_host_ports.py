"""``ECS_DYNAMIC_HOST_PORT_RANGE``: where bridge tasks' dynamic host ports come from.

The real Docker path is tests/agent/test_docker_tasks.py (its binding must fall in the
range tests/conftest.py gives every agent, which is not Docker's own), and the process
driver's tests/agent/test_process_tasks.py; here the parsing, the allocator and the
agent's refusal of a malformed range.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from portside.agent.drivers.docker_spec import create_args
from portside.agent.payload import ContainerSpec, PortMapping, TaskSpec
from portside.agent.ports import EPHEMERAL_RANGE, RANGE_VARIABLE, PortAllocator, dynamic_range


def test_the_range_is_the_variable_else_the_ephemeral_range() -> None:
    assert dynamic_range({}) == EPHEMERAL_RANGE
    assert dynamic_range({RANGE_VARIABLE: " 26000-26100 "}) == (26000, 26100)
    assert dynamic_range({RANGE_VARIABLE: "7000-7000"}) == (7000, 7000)


@pytest.mark.parametrize("raw", ["26000", "26100-26000", "0-10", "1-70000", "a-b", "-5-9", "1-2-3"])
def test_a_malformed_range_says_how_to_write_one(raw: str) -> None:
    with pytest.raises(ValueError, match="LOW-HIGH"):
        dynamic_range({RANGE_VARIABLE: raw})


def test_the_allocator_hands_out_ports_of_the_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RANGE_VARIABLE, "26990-26999")
    ports = PortAllocator(seed=1)
    got = set()
    for _ in range(5):
        port = ports.allocate()
        got.add(port)
        assert 26990 <= port <= 26999
    assert len(got) == 5  # never the same port twice


def test_docker_is_asked_for_a_port_of_the_range(monkeypatch: pytest.MonkeyPatch) -> None:
    task = TaskSpec(task_arn="arn:aws:ecs:us-east-1:000000000000:task/default/abc")
    web = ContainerSpec(name="web", image="busybox", port_mappings=(
        PortMapping(80), PortMapping(81, host_port=8081)))
    monkeypatch.delenv(RANGE_VARIABLE, raising=False)
    _, host = create_args(task, web, {}, "i-1", None)
    assert host["port_bindings"] == {"80/tcp": None, "81/tcp": 8081}  # Docker's own range
    monkeypatch.setenv(RANGE_VARIABLE, "26000-26099")
    _, host = create_args(task, web, {}, "i-1", None)
    assert host["port_bindings"] == {"80/tcp": "26000-26099", "81/tcp": 8081}


def test_the_agent_refuses_a_malformed_range_before_it_registers() -> None:
    env = {**os.environ, RANGE_VARIABLE: "60999-32768"}
    out = subprocess.run(
        [sys.executable, "-m", "portside.cli.main", "agent", "--endpoint", "http://127.0.0.1:9",
         "--cluster", "c"], capture_output=True, text=True, env=env, timeout=60,
    )
    assert out.returncode == 2
    assert f"{RANGE_VARIABLE}='60999-32768' is not a port range" in out.stderr

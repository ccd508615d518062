"""Tasks sharing the host's loopback (process driver) never share their aliases' /24.

Each task's aliases bind ``127.A.B.N:port`` with ``A.B`` first taken from a hash of
its ARN; two tasks of one agent hashing alike, or a /24 whose addresses another agent
holds, would leave the second proxy unable to bind and its task failing to start.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from pathlib import Path

from portside.agent.payload import TaskSpec
from portside.agent.service_connect import ServiceConnect
from portside.agent.service_connect_config import alias_addresses, alias_bases

SECTION = {"outbound": [{"dnsName": "api", "port": 8080, "upstream": "api"},
                        {"dnsName": "db", "port": 5432, "upstream": "db"}]}


def task(n: int) -> TaskSpec:
    return TaskSpec(task_arn=f"arn:aws:ecs:us-east-1:000000000000:task/default/{n:032x}")


def two_alike() -> tuple[TaskSpec, TaskSpec]:
    """Two tasks whose ARNs hash to the same first /24."""
    seen: dict[str, TaskSpec] = {}
    for n in itertools.count():
        t = task(n)
        first = next(alias_bases(t.task_arn))
        if first in seen:
            return seen[first], t
        seen[first] = t
    raise AssertionError("unreachable")


def test_two_tasks_hashing_alike_get_different_bases(tmp_path: Path) -> None:
    a, b = two_alike()
    sc = ServiceConnect(tmp_path, "process")
    base_a, base_b = sc._alias_base(a, SECTION), sc._alias_base(b, SECTION)
    assert base_a == next(alias_bases(a.task_arn))
    assert base_b != base_a
    assert set(alias_addresses(SECTION, a.task_arn, private=False, base=base_a).values()).isdisjoint(
        alias_addresses(SECTION, b.task_arn, private=False, base=base_b).values())


def test_a_base_whose_address_is_held_elsewhere_is_passed_over(tmp_path: Path) -> None:
    t = task(1)
    first = next(alias_bases(t.task_arn))
    held = alias_addresses(SECTION, t.task_arn, private=False, base=first)["db"]
    with socket.socket() as other:  # another agent's proxy holds db's address and port
        other.bind((held, 5432))
        other.listen()
        base = ServiceConnect(tmp_path, "process")._alias_base(t, SECTION)
    assert base != first


def test_a_restarted_agent_keeps_the_task_in_its_base_and_a_stopped_task_frees_it(
    tmp_path: Path,
) -> None:
    a, b = two_alike()
    sc = ServiceConnect(tmp_path, "process")
    sc._alias_base(a, SECTION)
    base_b = sc._alias_base(b, SECTION)
    again = ServiceConnect(tmp_path, "process")  # the agent restarted: b comes back first
    assert again._alias_base(b, SECTION) == base_b
    assert again._alias_base(a, SECTION) != base_b
    fresh = ServiceConnect(tmp_path / "other", "process")
    fresh._alias_base(a, SECTION)
    asyncio.run(fresh.stop(a.task_arn, a.task_id))
    assert fresh._alias_base(b, SECTION) == next(alias_bases(b.task_arn))

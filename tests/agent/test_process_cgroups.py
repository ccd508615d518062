"""The process driver's task cgroups (drivers/cgroups.py), on this machine's real cgroups.

Runs where the agent may create cgroups (root, a writable cgroup filesystem)
and is skipped elsewhere — cgroups are not a CI-required service. The driver's
fallback without them is checked against a directory that is no cgroup
filesystem.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

import pytest

from portside.agent.drivers.cgroups import BASE, Cgroups, cpu_weight, detect
from portside.agent.drivers.process import ProcessDriver
from tests.agent.rig import Rig, payload
from tests.helpers import until

pytestmark = pytest.mark.slow

BUSY = ["sh", "-c", "while :; do :; done"]


@pytest.fixture
def cgroups() -> Cgroups:
    found = detect(BASE)
    if isinstance(found, str):
        pytest.skip(f"no writable cgroups here: {found}")
    return found


def rig(tmp_path: Path, base: Path | None = BASE) -> Rig:
    return Rig(tmp_path / "agent", ProcessDriver(tmp_path / "agent", cgroups=base))


def _setting(cg: Cgroups, task_id: str, v2: str, v1: str) -> str:
    d = cg.cpu_root / task_id
    if cg.version == 1 and v1.startswith("memory."):
        assert cg.memory_root is not None
        d = cg.memory_root / task_id
    return (d / (v2 if cg.version == 2 else v1)).read_text().strip()


def _throttled(cg: Cgroups, task_id: str) -> int:
    stat = dict(line.split() for line in (cg.cpu_root / task_id / "cpu.stat").read_text().splitlines())
    return int(stat.get("nr_throttled", 0))


def test_task_cpu_is_a_quota_and_task_memory_a_limit(tmp_path: Path, cgroups: Cgroups) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            # 102 units: a tenth of a CPU, less than a busy loop wants on any machine
            p = payload([{"name": "spin", "command": BUSY, "stopTimeout": 1}], cpu="102", memory="64")
            task_id = p["taskArn"].rsplit("/", 1)[-1]
            await r.run(p)
            await r.status(p["taskArn"], "RUNNING")
            pid = r.e.managers[p["taskArn"]].containers["spin"].runtime.pid  # type: ignore[union-attr]
            assert f"/portside/{task_id}" in Path(f"/proc/{pid}/cgroup").read_text()
            quota = _setting(cgroups, task_id, "cpu.max", "cpu.cfs_quota_us")
            assert quota == ("9960 100000" if cgroups.version == 2 else "9960")
            if cgroups.memory_root is not None:
                limit = _setting(cgroups, task_id, "memory.max", "memory.limit_in_bytes")
                assert limit == str(64 * 1024 * 1024)
            # the kernel holds the loop to its quota
            await r.until(lambda: _throttled(cgroups, task_id) > 0, what="the task is throttled")

            await r.run({**p, "desiredStatus": "STOPPED"})
            await r.status(p["taskArn"], "STOPPED")
            until(lambda: not (cgroups.cpu_root / task_id).exists())  # removed with the task

    asyncio.run(main())


def test_container_cpu_units_are_a_share_not_a_cap(tmp_path: Path, cgroups: Cgroups) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            p = payload([{"name": "a", "cpu": 256, "command": ["sleep", "300"], "stopTimeout": 1},
                         {"name": "b", "cpu": 512, "command": ["sleep", "300"], "stopTimeout": 1}])
            task_id = p["taskArn"].rsplit("/", 1)[-1]
            await r.run(p)
            await r.status(p["taskArn"], "RUNNING")
            share = _setting(cgroups, task_id, "cpu.weight", "cpu.shares")
            assert share == str(cpu_weight(768) if cgroups.version == 2 else 768)
            quota = _setting(cgroups, task_id, "cpu.max", "cpu.cfs_quota_us")
            assert quota in ("max 100000", "-1")  # no cap, as Docker's CpuShares

    asyncio.run(main())


def test_without_cgroups_the_driver_says_so_and_runs_tasks_uncapped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_cgroups = tmp_path / "not-a-cgroup-fs"
    not_cgroups.mkdir()

    async def main() -> None:
        async with rig(tmp_path, base=not_cgroups) as r:
            p = payload([{"name": "job", "command": ["sh", "-c", "cat /proc/self/cgroup"]}],
                        cpu="256")
            await r.run(p)
            final = await r.status(p["taskArn"], "STOPPED")
            assert final["containers"][0]["exitCode"] == 0
        out = (tmp_path / "agent" / "processes" / p["taskArn"].rsplit("/", 1)[-1] / "job.stdout")
        assert "/portside/" not in out.read_text()

    with caplog.at_level(logging.INFO, logger="portside.agent.process"):
        asyncio.run(main())
    assert any(m.startswith("no task cgroups (no cgroup v2 or v1 cpu controller under")
               and "cpu counts for placement only" in m for m in caplog.messages)


def test_prune_removes_abandoned_task_cgroups_and_spares_busy_ones(cgroups: Cgroups) -> None:
    import subprocess
    import uuid

    from portside.agent.drivers.cgroups import Limits

    abandoned, busy = f"test-{uuid.uuid4().hex}", f"test-{uuid.uuid4().hex}"
    cgroups.create(abandoned, Limits(cpu_shares=64))  # its agent was killed: nobody removes it
    (procs,) = cgroups.create(busy, Limits(cpu_shares=64))
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        Path(procs).write_text(str(sleeper.pid))
        # Both aged an hour, and pruned with an age guard, as the agent prunes: another
        # test's agent may have just made an empty cgroup its task's process is about to
        # join, and a prune of everything empty would take it away from under that task.
        aged = time.time() - 3600
        for root in cgroups.roots:
            for name in (abandoned, busy):
                if (root / name).exists():
                    os.utime(root / name, (aged, aged))
        cgroups.prune(aged + 60)
        assert not (cgroups.cpu_root / abandoned).exists()
        assert (cgroups.cpu_root / busy).exists()  # a process is still in it
    finally:
        sleeper.kill()
        sleeper.wait()
        until(lambda: not Path(procs).read_text().strip())
        cgroups.remove(busy)
    assert not (cgroups.cpu_root / busy).exists()

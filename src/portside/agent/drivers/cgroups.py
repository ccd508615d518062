"""CPU and memory limits for process-driver tasks, through a cgroup per task.

Docker's driver hands a task's limits to the engine; the process driver has
no engine, so where the agent may create cgroups it makes one per task and
every container process of the task joins it (the shim's child writes itself
into ``cgroup.procs`` before it execs, so nothing the container forks escapes):

    cgroup v2  /sys/fs/cgroup/portside/<task-id>/          cpu.max, cpu.weight, memory.max
    cgroup v1  /sys/fs/cgroup/cpu/portside/<task-id>/      cpu.cfs_quota_us, cpu.shares
               /sys/fs/cgroup/memory/portside/<task-id>/   memory.limit_in_bytes

CPU follows the ECS agent's task cgroups (``BuildLinuxResourceSpec``): a
task-level ``cpu`` is a hard cap, a quota of ``cpu / 1024`` CPUs per 100 ms
period (``cpu: 256`` -> ``cpu.max = "25000 100000"``); without one the
containers' ``cpu`` units, summed, are the task's share of contended CPU
(``cpu.shares``, or its v2 ``cpu.weight``) and cap nothing — as Docker's
CpuShares do. Memory: the task-level ``memory``, else the sum of its
containers' hard limits when every container has one (each process also keeps
its RLIMIT_AS). A task with none of these gets no cgroup.

Where no cgroup can be made (no cgroup filesystem, or not writable: not root,
a read-only container mount, v2 without the cpu controller delegated) the
driver says why once in its log and keeps its fallback: ``memory`` is
enforced as RLIMIT_AS alone and ``cpu`` counts for placement only.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from portside.agent.drivers.docker_spec import MIN_CPU_SHARES  # Docker's and the kernel's
from portside.agent.payload import TaskSpec

BASE = Path("/sys/fs/cgroup")
NAME = "portside"
PERIOD_US = 100_000
MIN_QUOTA_US = 1_000  # the kernel refuses smaller quotas
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    cpu_units: int = 0  # a hard cap (task cpu); 0: none
    cpu_shares: int = 0  # a relative share (container cpu, summed); 0: the default
    memory_mib: int = 0  # 0: no memory limit


def task_limits(task: TaskSpec) -> Limits:
    """The task's cgroup settings (see the module docstring)."""
    shares = 0 if task.cpu else sum(c.cpu for c in task.containers)
    memory = task.memory or 0
    if not memory and task.containers and all(c.memory for c in task.containers):
        memory = sum(c.memory or 0 for c in task.containers)
    return Limits(task.cpu or 0, max(shares, MIN_CPU_SHARES) if shares else 0, memory)


def cpu_quota(units: int) -> int:
    """Microseconds of CPU per 100 ms period for ``units`` (1024 = one CPU)."""
    return max(MIN_QUOTA_US, units * PERIOD_US // 1024)


def cpu_weight(shares: int) -> int:
    """cgroup v2's weight (1-10000) for v1 shares (2-262144), as runc converts them."""
    return 1 + (min(shares, 262_144) - 2) * 9999 // 262_142


@dataclass(frozen=True, slots=True)
class Cgroups:
    """A writable cgroup tree for tasks: v2's one root, or v1's cpu and memory roots."""

    version: int
    cpu_root: Path
    memory_root: Path | None  # v1 without a memory hierarchy: cpu only

    @property
    def roots(self) -> list[Path]:
        """The distinct roots, cpu first (v2 and cpu-only v1 have one)."""
        if self.memory_root in (None, self.cpu_root):
            return [self.cpu_root]
        return [self.cpu_root, self.memory_root]

    def describe(self) -> str:
        return f"cgroup v{self.version} at {', '.join(map(str, self.roots))}"

    def create(self, task_id: str, limits: Limits) -> list[str]:
        """Make the task's cgroup(s) with ``limits``; the ``cgroup.procs`` files to join."""
        if limits == Limits():
            return []
        if self.version == 2:
            d = self.cpu_root / task_id
            d.mkdir(exist_ok=True)
            if limits.cpu_units:
                (d / "cpu.max").write_text(f"{cpu_quota(limits.cpu_units)} {PERIOD_US}")
            if limits.cpu_shares:
                (d / "cpu.weight").write_text(str(cpu_weight(limits.cpu_shares)))
            if limits.memory_mib:
                (d / "memory.max").write_text(str(limits.memory_mib * MIB))
            return [str(d / "cgroup.procs")]
        procs = []
        if limits.cpu_units or limits.cpu_shares:
            d = self.cpu_root / task_id
            d.mkdir(exist_ok=True)
            if limits.cpu_units:
                (d / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (d / "cpu.cfs_quota_us").write_text(str(cpu_quota(limits.cpu_units)))
            if limits.cpu_shares:
                (d / "cpu.shares").write_text(str(limits.cpu_shares))
            procs.append(str(d / "cgroup.procs"))
        if limits.memory_mib and self.memory_root is not None:
            d = self.memory_root / task_id
            d.mkdir(exist_ok=True)
            (d / "memory.limit_in_bytes").write_text(str(limits.memory_mib * MIB))
            procs.append(str(d / "cgroup.procs"))
        return procs

    def remove(self, task_id: str) -> None:
        """Remove the task's cgroups (the kernel refuses while a process is still in one)."""
        for root in self.roots:
            with contextlib.suppress(OSError):
                (root / task_id).rmdir()

    def prune(self, before: float) -> None:
        """Remove task cgroups made before ``before`` (epoch s) that no process is in any more.

        A task's cgroups go with it (:meth:`remove`), but not when its agent was
        killed and its processes with it. The kernel refuses to remove a cgroup
        that still has a process; the age spares one another agent on this
        machine has just made for a process about to join it.
        """
        for root in self.roots:
            for d in root.iterdir():
                with contextlib.suppress(OSError):
                    if d.is_dir() and d.stat().st_mtime < before:
                        d.rmdir()


def detect(base: Path = BASE) -> Cgroups | str:
    """The task cgroup tree under ``base``, set up; or why there is none."""
    try:
        if (base / "cgroup.controllers").exists():
            return _v2(base)
        if (base / "cpu" / "cpu.cfs_quota_us").exists():
            return _v1(base)
    except OSError as exc:
        return f"cannot set up cgroups under {base}: {exc}"
    return f"no cgroup v2 or v1 cpu controller under {base}"


def _v2(base: Path) -> Cgroups | str:
    available = (base / "cgroup.controllers").read_text().split()
    if not {"cpu", "memory"} <= set(available):
        return f"cgroup v2 at {base} does not offer the cpu and memory controllers"
    root = base / NAME
    _enable(base)
    root.mkdir(exist_ok=True)
    _enable(root)
    return Cgroups(2, root, root)


def _enable(d: Path) -> None:
    enabled = (d / "cgroup.subtree_control").read_text().split()
    if not {"cpu", "memory"} <= set(enabled):
        (d / "cgroup.subtree_control").write_text("+cpu +memory")


def _v1(base: Path) -> Cgroups:
    cpu = base / "cpu" / NAME
    cpu.mkdir(exist_ok=True)
    memory: Path | None = None
    if (base / "memory" / "memory.limit_in_bytes").exists():
        memory = base / "memory" / NAME
        memory.mkdir(exist_ok=True)
    return Cgroups(1, cpu, memory)

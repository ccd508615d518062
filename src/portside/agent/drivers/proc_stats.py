"""Docker-format stats for a host process group, read from /proc.

The metadata endpoint's ``/stats`` answers with what ``docker stats`` returns
(``cpu_stats``, ``precpu_stats``, ``memory_stats``, ``pids_stats``, ``read``,
``preread``, ``networks``), so a tool written against ECS reads process-driver
tasks the same way. Figures cover every process in the container's process
group: CPU time from ``/proc/PID/stat`` (utime + stime, in nanoseconds),
memory from ``VmRSS``; ``system_cpu_usage`` comes from ``/proc/stat``. The
previous sample is kept per container, so ``precpu_stats`` is the sample
before, as Docker's is.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")
_NS = 1_000_000_000


def group_pids(pgid: int) -> list[int]:
    pids: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields and int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


def _stat_fields(pid: int) -> list[bytes] | None:
    """/proc/PID/stat after the command name: fields[0] is the state, fields[2] the pgid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data.rsplit(b")", 1)[1].split()


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _system_cpu_ns() -> int:
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    return sum(int(p) for p in parts[:8]) * _NS // _TICK


def sample(pgid: int, memory_limit: int | None) -> dict[str, Any]:
    """One stats sample (without ``precpu_stats``)."""
    user = kernel = rss = 0
    pids = group_pids(pgid)
    for pid in pids:
        fields = _stat_fields(pid)
        if not fields:
            continue
        user += int(fields[11])
        kernel += int(fields[12])
        rss += _rss_bytes(pid)
    total = (user + kernel) * _NS // _TICK
    online = os.cpu_count() or 1
    return {
        "read": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "pids_stats": {"current": len(pids)},
        "cpu_stats": {
            "cpu_usage": {
                "total_usage": total,
                "usage_in_kernelmode": kernel * _NS // _TICK,
                "usage_in_usermode": user * _NS // _TICK,
            },
            "system_cpu_usage": _system_cpu_ns(),
            "online_cpus": online,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        },
        "memory_stats": {
            "usage": rss,
            "limit": memory_limit or _host_memory(),
            "stats": {"rss": rss},
        },
        "blkio_stats": {},
        "networks": {},
    }


def with_previous(current: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(current)
    out["preread"] = previous["read"] if previous else "0001-01-01T00:00:00Z"
    out["precpu_stats"] = previous["cpu_stats"] if previous else {
        "cpu_usage": {"total_usage": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }
    return out


def _host_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0

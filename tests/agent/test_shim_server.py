"""The shim server: shims forked from a warm process behave as shims spawned directly.

Real processes throughout: the server (drivers/shim_server.py, ``shim.py
--serve``) forks each shim, which runs the container process exactly as a
directly spawned shim does — its environment, output files, limits, session
and exit code — and when the server is gone the agent spawns shims directly
and starts a new server next time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from portside.agent.drivers.process_spawn import Launch, ProcessFile, spawn
from portside.agent.drivers.shim_server import ShimServer


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat fields after the command name: state, ppid, pgrp, session, …"""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _alive(pid: int) -> bool:
    try:
        return _stat(pid)[0] not in ("Z", "X")
    except OSError:
        return False


async def _until(check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def _launch(*argv: str, **kw: Any) -> Launch:
    return Launch(argv=list(argv), env={"PATH": "/usr/bin:/bin", "GREETING": "hi"}, **kw)


def test_a_forked_shim_runs_the_process_as_a_spawned_one_does(tmp_path: Path) -> None:
    async def main() -> None:
        server = ShimServer()
        try:
            pf = ProcessFile(tmp_path / "t1", "web")
            script = "echo out; echo err >&2; exec sleep 60"
            launch = _launch("sh", "-c", script, rlimits=[("RLIMIT_NOFILE", 64, 64)])
            doc = await spawn(launch, pf, server)
            pid, shim = doc["pid"], doc["shim_pid"]
            assert server._pid is not None and shim != server._pid
            # until the child has exec'd, /proc shows the forked shim's own environment
            await _until(lambda: Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
                         in (b"sh", b"sleep"))
            env = dict(
                kv.split("=", 1)
                for kv in Path(f"/proc/{pid}/environ").read_text().split("\0")
                if kv
            )
            assert env["GREETING"] == "hi" and env["PATH"] == "/usr/bin:/bin"
            assert set(env) <= {"GREETING", "PATH", "PWD"}  # nothing of the agent's own
            ppid, pgrp, session = _stat(pid)[1:4]
            assert (int(ppid), int(pgrp)) == (shim, pid)  # the shim's child, its own group
            assert int(_stat(shim)[3]) == int(session) == shim  # the shim leads the session
            assert int(_stat(shim)[1]) == server._pid
            limits = Path(f"/proc/{pid}/limits").read_text()
            assert any(
                line.startswith("Max open files") and " 64 " in line for line in limits.splitlines()
            )
            await _until(lambda: pf.stdout_path.read_text() == "out\n")
            assert pf.stderr_path.read_text() == "err\n"

            os.killpg(pid, signal.SIGTERM)
            await _until(lambda: pf.status() is not None)
            assert (pf.status() or {})["exit_code"] == 143
            await _until(lambda: not _alive(shim))  # reaped: no zombie left behind
        finally:
            server.close()

    asyncio.run(main())


def test_an_exec_failure_is_reported_by_a_forked_shim(tmp_path: Path) -> None:
    from portside.agent.drivers.base import ContainerError

    async def main() -> None:
        server = ShimServer()
        try:
            with pytest.raises(ContainerError) as err:
                await spawn(_launch("/no/such/binary"), ProcessFile(tmp_path / "t2", "web"), server)
            assert "No such file or directory" in str(err.value)
        finally:
            server.close()

    asyncio.run(main())


def test_without_its_server_the_agent_spawns_directly_then_starts_a_new_one(tmp_path: Path) -> None:
    async def main() -> None:
        server = ShimServer()
        try:
            first = await spawn(_launch("sleep", "60"), ProcessFile(tmp_path / "a", "web"), server)
            old = server._pid
            assert old is not None
            os.kill(old, signal.SIGKILL)
            await _until(lambda: not _alive(old))
            # the dead server is noticed on use: this shim is spawned directly by the agent
            second = await spawn(_launch("sleep", "60"), ProcessFile(tmp_path / "b", "web"), server)
            assert int(_stat(second["shim_pid"])[1]) == os.getpid()
            third = await spawn(_launch("sleep", "60"), ProcessFile(tmp_path / "c", "web"), server)
            assert server._pid not in (None, old)
            assert int(_stat(third["shim_pid"])[1]) == server._pid
            assert _alive(first["pid"])  # shims outlive the server that forked them
            for doc in (first, second, third):
                os.killpg(doc["pid"], signal.SIGKILL)
            await _until(lambda: not _alive(second["shim_pid"]) or _reaped(second["shim_pid"]))
        finally:
            server.close()
        assert server._pid is None

    asyncio.run(main())


def _reaped(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return True


def test_a_cancelled_start_leaves_no_process(tmp_path: Path) -> None:
    marker = f"{time.time_ns() % 10**9}.5"

    def running() -> list[int]:
        out = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if (proc / "cmdline").read_bytes().split(b"\0")[:2] == [
                        b"sleep",
                        marker.encode(),
                    ]:
                        out.append(int(proc.name))
                except OSError:
                    continue
        return out

    async def main() -> None:
        server = ShimServer()
        try:
            for i, delay in enumerate((0.0, 0.001, 0.01)):
                started = asyncio.ensure_future(
                    spawn(_launch("sleep", marker), ProcessFile(tmp_path / str(i), "web"), server)
                )
                await asyncio.sleep(delay)
                started.cancel()
                try:
                    doc = await started
                except asyncio.CancelledError:
                    continue
                os.killpg(doc["pid"], signal.SIGKILL)  # finished before the cancel: ours to stop
            # the cancelled starts finish in the background (a shim may appear only now)
            # and then stop what they started
            await asyncio.sleep(1.0)
            await _until(lambda: not [p for p in running() if _alive(p)])
        finally:
            server.close()

    asyncio.run(main())


def test_the_server_exits_with_its_agent(tmp_path: Path) -> None:
    async def main() -> None:
        server = ShimServer()
        doc = await spawn(_launch("sleep", "60"), ProcessFile(tmp_path / "x", "web"), server)
        pid = server._pid
        assert pid is not None
        server.close()
        await _until(lambda: not _alive(pid))
        assert _alive(doc["pid"])
        os.killpg(doc["pid"], signal.SIGKILL)

    asyncio.run(main())

"""Starting a container process under its shim, and the files that describe it.

Per container, in ``STATE_DIR/processes/<task-id>/``:

    <name>.json    the pid file: ids, ports, and once started the shim's and the
                   process's pid with their start times (/proc/PID/stat field 22)
    <name>.status  written by the shim when the process exits: its exit code
    <name>.stdout, <name>.stderr   the process's output

A pid alone may be reused after a reboot or a long uptime; a pid with its start
time names one process, so :func:`is_alive` checks both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portside.agent.drivers.base import ContainerError
from portside.agent.drivers.shim_server import ShimServer, ShimServerError
from portside.agent.health import PROBE_TIMED_OUT
from portside.agent.payload import HealthCheckSpec

log = logging.getLogger("portside.agent.process")
SHIM = str(Path(__file__).with_name("shim.py"))
READY_FD = 3
READY_TIMEOUT = 15.0


@dataclass
class ProcessFile:
    dir: Path
    name: str

    @property
    def pid_path(self) -> Path:
        return self.dir / f"{self.name}.json"

    @property
    def status_path(self) -> Path:
        return self.dir / f"{self.name}.status"

    @property
    def stdout_path(self) -> Path:
        return self.dir / f"{self.name}.stdout"

    @property
    def stderr_path(self) -> Path:
        return self.dir / f"{self.name}.stderr"

    def read(self) -> dict[str, Any] | None:
        return _read_json(self.pid_path)

    def status(self) -> dict[str, Any] | None:
        return _read_json(self.status_path)

    def write(self, doc: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.pid_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, self.pid_path)

    def remove(self) -> None:
        for p in (self.pid_path, self.status_path):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def is_alive(pid: Any, ticks: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    now = start_ticks(pid)
    return now is not None and (not ticks or now == ticks)


@dataclass
class Launch:
    """Everything needed to start one container process (kept until it starts)."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None = None
    rlimits: list[tuple[str, int, int]] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)  # cgroup.procs files to join
    health: HealthCheckSpec | None = None
    memory: int | None = None

    async def probe(self, argv: tuple[str, ...], timeout: float) -> tuple[int, str]:
        """Run a health-check command with the container's environment."""
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            return PROBE_TIMED_OUT, f"Health check exceeded timeout ({timeout:g}s)"
        return int(proc.returncode or 0), out.decode(errors="replace")


async def spawn(launch: Launch, pf: ProcessFile, server: ShimServer | None = None) -> dict[str, Any]:
    """Start the shim and wait for it to report the exec; return the pid-file fields.

    The shim starts in a new session with stdin from /dev/null, stdout and
    stderr to the log files, and the write end of the ready pipe as fd 3;
    every other descriptor of the agent is close-on-exec. With a ``server``
    it is forked by the shim server (drivers/shim_server.py: a millisecond
    instead of an interpreter start); without one, or when the server fails,
    ``posix_spawn`` starts it, and the agent reaps it itself (see
    ProcessDriver._watch) — no ``Popen`` object outlives it.

    A spawn cancelled midway (the task was told to stop while starting)
    finishes in the background, then kills the process it started: nothing
    would record it, so nothing else would ever stop it.
    """
    started = asyncio.ensure_future(_spawn(launch, pf, server))
    try:
        return await asyncio.shield(started)
    except asyncio.CancelledError:
        started.add_done_callback(_kill_unrecorded)
        raise


def _kill_unrecorded(started: asyncio.Future[dict[str, Any]]) -> None:
    if started.cancelled() or started.exception() is not None:
        return
    doc = started.result()
    log.info("stopping process %s: its start was cancelled", doc["pid"])
    with contextlib.suppress(OSError):
        os.killpg(int(doc["pid"]), signal.SIGKILL)
    asyncio.get_running_loop().call_later(1.0, reap, int(doc["shim_pid"]))


async def _spawn(launch: Launch, pf: ProcessFile, server: ShimServer | None) -> dict[str, Any]:
    pf.dir.mkdir(parents=True, exist_ok=True)
    cwd = launch.cwd or str(pf.dir)
    launch.cwd = cwd
    cfg = {
        "argv": launch.argv,
        "cwd": cwd,
        "status": str(pf.status_path),
        "rlimits": launch.rlimits,
        "cgroups": launch.cgroups,
        "ready_fd": READY_FD,
    }
    read_fd, write_fd = os.pipe()
    fds = [write_fd]
    try:
        fds.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
        fds.append(os.open(pf.stdout_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644))
        fds.append(os.open(pf.stderr_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644))
        pid = await _start_shim(cfg, launch.env, [fds[1], fds[2], fds[3], write_fd], server)
    except OSError as exc:
        os.close(read_fd)
        raise ContainerError("CannotStartContainerError", f"cannot run the process shim: {exc}") from exc
    finally:
        for fd in fds:
            os.close(fd)
    try:
        line = await _read_line(read_fd, READY_TIMEOUT)
    finally:
        os.close(read_fd)
    shim_ticks = start_ticks(pid)
    doc = json.loads(line) if line.strip() else None
    if not isinstance(doc, dict) or "exec_error" in doc or "pid" not in doc:
        await asyncio.get_running_loop().run_in_executor(None, _reap_blocking, pid)
        detail = doc.get("exec_error") if isinstance(doc, dict) else None
        raise ContainerError(
            "CannotStartContainerError",
            f"{detail or 'the process shim failed'}: {launch.argv[0]!r}",
        )
    return {"shim_pid": pid, "shim_ticks": shim_ticks, "pid": doc["pid"], "ticks": doc["ticks"]}


async def _start_shim(
    cfg: dict[str, Any], env: dict[str, str], fds: list[int], server: ShimServer | None
) -> int:
    """The new shim's pid: forked by ``server`` when it can, else spawned directly."""
    if server is not None:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, server.fork_shim, cfg, env, fds)
        except ShimServerError as exc:
            log.warning("%s; spawning the shim directly", exc)
    actions = [
        (os.POSIX_SPAWN_DUP2, fds[0], 0),
        (os.POSIX_SPAWN_DUP2, fds[1], 1),
        (os.POSIX_SPAWN_DUP2, fds[2], 2),
        (os.POSIX_SPAWN_DUP2, fds[3], READY_FD),
    ]
    return os.posix_spawn(
        sys.executable,
        [sys.executable, "-I", "-S", SHIM, json.dumps(cfg)],
        env,
        file_actions=actions,
        setsid=True,
    )


def reap(pid: int) -> None:
    """Collect an exited shim if it is our child (an adopted one is init's to reap)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _reap_blocking(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


async def _read_line(fd: int, timeout: float) -> str:
    """Everything written to ``fd`` until its writer closes it (or ``timeout`` passes)."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    done: asyncio.Future[None] = loop.create_future()
    buf = bytearray()

    def readable() -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        if chunk:
            buf.extend(chunk)
            if b"\n" not in chunk:
                return
        if not done.done():
            done.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await asyncio.wait_for(done, timeout)
    except TimeoutError:
        pass
    finally:
        loop.remove_reader(fd)
    return buf.decode(errors="replace")

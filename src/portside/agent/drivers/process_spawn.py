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
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portside.agent.drivers.base import ContainerError
from portside.agent.health import PROBE_TIMED_OUT
from portside.agent.payload import HealthCheckSpec

SHIM = str(Path(__file__).with_name("shim.py"))
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


async def spawn(launch: Launch, pf: ProcessFile) -> tuple[dict[str, Any], subprocess.Popen[bytes]]:
    """Start the shim and wait for it to report the exec: (pid-file fields, the shim)."""
    pf.dir.mkdir(parents=True, exist_ok=True)
    cwd = launch.cwd or str(pf.dir)
    launch.cwd = cwd
    read_fd, write_fd = os.pipe()
    cfg = {
        "argv": launch.argv,
        "cwd": cwd,
        "status": str(pf.status_path),
        "rlimits": launch.rlimits,
        "ready_fd": write_fd,
    }
    try:
        with open(pf.stdout_path, "ab") as out, open(pf.stderr_path, "ab") as err:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", SHIM, json.dumps(cfg)],
                env=launch.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                pass_fds=(write_fd,),
            )
    except OSError as exc:
        os.close(read_fd)
        raise ContainerError("CannotStartContainerError", f"cannot run the process shim: {exc}") from exc
    finally:
        os.close(write_fd)
    try:
        line = await _read_line(read_fd, READY_TIMEOUT)
    finally:
        os.close(read_fd)
    shim_ticks = start_ticks(proc.pid)
    doc = json.loads(line) if line.strip() else None
    if not isinstance(doc, dict) or "exec_error" in doc or "pid" not in doc:
        await asyncio.get_running_loop().run_in_executor(None, _wait_quietly, proc)
        detail = (doc or {}).get("exec_error") if isinstance(doc, dict) else None
        raise ContainerError(
            "CannotStartContainerError",
            f"{detail or 'the process shim failed'}: {launch.argv[0]!r}",
        )
    fields = {"shim_pid": proc.pid, "shim_ticks": shim_ticks, "pid": doc["pid"], "ticks": doc["ticks"]}
    return fields, proc


def _wait_quietly(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


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

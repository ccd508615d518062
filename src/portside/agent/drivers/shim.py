"""The process driver's shim: parent of one container process, keeper of its exit code.

Run as ``python -I -S shim.py CONFIG_JSON`` (standalone: it imports nothing
from portside, so it starts in a few milliseconds). CONFIG_JSON holds::

    {"argv": [...], "cwd": "..." | null, "status": "/path/name.status",
     "rlimits": [["RLIMIT_AS", soft, hard], ...], "cgroups": ["/.../cgroup.procs", ...],
     "ready_fd": N}

The shim forks the container process into its own process group (the agent
signals that group: SIGTERM, then SIGKILL), moves the child into the task's
cgroups and applies the resource limits in the child only, and execs the command with the environment it was given. It tells
the agent the outcome on ``ready_fd`` — ``{"pid": P, "ticks": T}`` once the
exec succeeded (T is the process start time from /proc, which with P names
the process unambiguously), or ``{"exec_error": "..."}`` — then waits for the
child and writes ``{"pid": P, "ticks": T, "exit_code": C}`` to the status file
(C is 128+N for a process killed by signal N, as Docker reports it) and exits
with C. The shim survives an agent restart — it runs in its own session — so
a new agent reads the exit code from the status file rather than losing it.
The shim ignores SIGTERM/SIGINT/SIGHUP (with handlers, which exec resets, so
the child keeps the default dispositions).

Run as ``python -I -S shim.py --serve`` it is the agent's shim server
(drivers/shim_server.py, after multiprocessing's forkserver): starting a
Python interpreter costs tens of milliseconds of CPU, forking a warm one
about one. It reads requests from the Unix socket on fd 3 — a JSON message
``{"config": CONFIG, "env": {...}}`` carrying four descriptors (stdin,
stdout, stderr and the ready pipe) — and forks a shim for each: the child
starts its own session, takes the descriptors as 0-2 and ``ready_fd``, takes
``env`` as its environment and goes on exactly as a shim started directly.
The server answers ``{"pid": SHIM_PID}``, lets the kernel reap its shims
(SIGCHLD ignored; the agent watches them through pidfds), and exits when the
agent closes the socket. Shims outlive it as they outlive the agent.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time


def _ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return int(data.rsplit(b")", 1)[1].split()[19])


def _write(path: str, doc: dict[str, object]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)


def _child(cfg: dict[str, object], err_w: int) -> None:
    try:
        os.setpgid(0, 0)
        for procs in cfg.get("cgroups") or []:  # type: ignore[attr-defined]
            with open(str(procs), "w") as f:
                f.write("0")  # this process; what it forks stays in the cgroup
        import resource

        for name, soft, hard in cfg.get("rlimits") or []:  # type: ignore[attr-defined]
            resource.setrlimit(getattr(resource, name), (int(soft), int(hard)))
        cwd = cfg.get("cwd")
        if cwd:
            os.chdir(str(cwd))
        argv = [str(a) for a in cfg["argv"]]  # type: ignore[attr-defined]
        os.execvp(argv[0], argv)
    except BaseException as exc:
        msg = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        try:
            os.write(err_w, f"{type(exc).__name__}: {msg}".encode())
        finally:
            os._exit(127)


def main() -> int:
    if sys.argv[1:] == ["--serve"]:
        return serve(3)
    return shim(json.loads(sys.argv[1]))


def serve(fd: int) -> int:
    """The shim server: fork a shim per request on the socket ``fd`` until it closes."""
    import resource  # noqa: F401  (imported once here, not in every forked shim)
    import socket

    sock = socket.socket(fileno=fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the shims
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 1 << 20, 4)
        except OSError:
            return 1
        if not msg:
            return 0  # the agent is gone
        try:
            request = json.loads(msg)
            if len(fds) != 4:
                raise ValueError(f"expected 4 descriptors, got {len(fds)}")
            pid = os.fork()
            if pid == 0:
                code = 127
                try:
                    sock.close()
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    os.setsid()
                    cfg = request["config"]
                    for target, received in zip((0, 1, 2, int(cfg["ready_fd"])), fds, strict=True):
                        os.dup2(received, target)
                    for received in fds:
                        if received > 3:
                            os.close(received)
                    os.environ.clear()
                    os.environ.update(request["env"])
                    code = shim(cfg)
                finally:
                    os._exit(code)
            reply: dict[str, object] = {"pid": pid}
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        for received in fds:
            os.close(received)
        try:
            sock.send(json.dumps(reply).encode())
        except OSError:
            return 1


def shim(cfg: dict[str, object]) -> int:
    """Fork and exec the container process, report it on ``ready_fd``, wait, record its exit."""
    ready_fd = int(cfg["ready_fd"])  # type: ignore[call-overload]
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)
    pid = os.fork()
    if pid == 0:
        os.close(err_r)
        os.close(ready_fd)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        _child(cfg, err_w)
    os.close(err_w)
    with contextlib.suppress(OSError):  # the child did it already, or is gone
        os.setpgid(pid, pid)
    error = b""
    while chunk := os.read(err_r, 4096):
        error += chunk
    os.close(err_r)
    try:
        ticks = _ticks(pid)
    except (OSError, IndexError, ValueError):
        ticks = 0
    first: dict[str, object] = {"pid": pid, "ticks": ticks}
    if error:
        first = {"pid": pid, "exec_error": error.decode(errors="replace")}
    try:
        os.write(ready_fd, (json.dumps(first) + "\n").encode())
        os.close(ready_fd)
    except OSError:
        pass  # the agent is gone; it will read the status file
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        code = 128 - code
    now = time.time()
    finished = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
    done: dict[str, object] = {"pid": pid, "ticks": ticks, "exit_code": code, "finished_at": finished}
    if error:
        done["exec_error"] = error.decode(errors="replace")
    with contextlib.suppress(OSError):  # the task's directory is gone: nobody waits for it
        _write(str(cfg["status"]), done)
    return code & 0xFF


if __name__ == "__main__":
    sys.exit(main())

"""Starting shims fast: one warm shim process that forks a shim per container.

Every process-driver container runs under a shim (drivers/shim.py). Started
with ``posix_spawn`` each shim is a new Python interpreter: some 30-60 ms of
CPU before the container process even starts, which was most of the CPU a
service launch cost on a small machine. After multiprocessing's forkserver,
the agent starts ``shim.py --serve`` once (its own session, so terminal
signals pass it by) and asks it over a Unix ``SOCK_SEQPACKET`` socket to fork
each shim: the request is the shim's JSON config and environment, with the
four descriptors the shim needs (stdin, stdout, stderr, the ready pipe)
passed along (SCM_RIGHTS); the answer is the new shim's pid. Everything after
that — the ready line, the pid file, the status file, adoption by a
restarted agent — is what it was, so a shim forked by the server and one
spawned directly are indistinguishable.

The server is the agent's child and exits when the agent closes the socket
(or dies). When it cannot be started or fails mid-request, the caller falls
back to spawning the shim directly (:func:`process_spawn.spawn`), and the
next request starts a new server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("portside.agent.shim_server")

SHIM = str(Path(__file__).with_name("shim.py"))
SERVER_FD = 3
MAX_REQUEST = 1 << 20
TIMEOUT = 15.0
"""Seconds to wait for the server's answer before giving up on it (and starting another)."""


class ShimServerError(RuntimeError):
    """The shim server could not fork a shim (the caller spawns it directly instead)."""


class ShimServer:
    """The agent's end of the shim server; thread-safe, blocking (run it in a worker thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._pid: int | None = None

    def fork_shim(
        self, config: Mapping[str, Any], env: Mapping[str, str], fds: Sequence[int]
    ) -> int:
        """Fork a shim running ``config`` with ``env`` and ``fds`` as stdin, stdout, stderr, ready."""
        message = json.dumps({"config": dict(config), "env": dict(env)}).encode()
        if len(message) > MAX_REQUEST:
            raise ShimServerError("the request is too large for the shim server")
        with self._lock:
            sock = self._sock or self._start()
            try:
                socket.send_fds(sock, [message], list(fds))
                reply = sock.recv(4096)
            except OSError as exc:
                self._stop()
                raise ShimServerError(f"the shim server failed: {exc}") from exc
            if not reply:
                self._stop()
                raise ShimServerError("the shim server exited")
        doc = json.loads(reply)
        if "pid" not in doc:
            raise ShimServerError(str(doc.get("error") or "the shim server refused the request"))
        return int(doc["pid"])

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        if theirs.fileno() == SERVER_FD:  # dup2 onto itself would keep close-on-exec
            theirs.set_inheritable(True)
        try:
            devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            try:
                self._pid = os.posix_spawn(
                    sys.executable,
                    [sys.executable, "-I", "-S", SHIM, "--serve"],
                    dict(os.environ),
                    file_actions=[
                        (os.POSIX_SPAWN_DUP2, devnull, 0),
                        (os.POSIX_SPAWN_DUP2, theirs.fileno(), SERVER_FD),
                    ],
                    setsid=True,
                )
            finally:
                os.close(devnull)
        except OSError as exc:
            ours.close()
            raise ShimServerError(f"cannot start the shim server: {exc}") from exc
        finally:
            theirs.close()
        ours.set_inheritable(False)
        ours.settimeout(TIMEOUT)
        self._sock = ours
        log.info("shim server started (pid %d)", self._pid)
        return ours

    def _stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._pid is not None:
            pid, self._pid = self._pid, None
            # it exits on EOF; reap it in the background so a stuck one never blocks us
            threading.Thread(target=_reap, args=(pid,), daemon=True).start()


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)

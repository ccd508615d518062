"""A listening socket bound inside another network namespace (Linux).

One proxy can serve the containers of a Docker bridge-mode task, each of which
has a network namespace of its own: the proxy stays in the host's namespace,
where every endpoint is reachable, and only its listening sockets live in the
containers' namespaces. A socket keeps the namespace it was created in, so the
calling thread enters the target namespace (``setns``), creates and binds the
socket, and returns to its own — a few system calls, on the event loop's
thread (``setns`` changes the calling thread only). Python 3.11 has no
``os.setns``: it is called through ctypes.
"""

from __future__ import annotations

import ctypes
import os
import socket

CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def listening_socket(netns: str, address: str, port: int) -> socket.socket:
    """A TCP socket bound to ``address:port`` in the namespace at path ``netns``
    (``/proc/PID/ns/net``); the caller listens on it. Needs CAP_SYS_ADMIN."""
    target = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target)
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            _setns(own)  # the socket stays in the target namespace
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock
    finally:
        os.close(target)
        os.close(own)

"""The pause image: the process that owns an awsvpc task's network namespace.

ECS starts a "pause" container per awsvpc task; the task's containers join its
network namespace (``--network container:<pause>``), so they share one address
and reach each other on localhost. No registry is reachable from the machines
portside targets, so the agent makes the image itself: a root filesystem with a
single static executable, ``/pause``, imported with ``docker import``.

The executable is a hand-assembled ELF file of ~130 bytes that blocks in a
system call forever:

    x86-64:   loop: mov eax, 34 (pause); syscall; jmp loop
    aarch64:  loop: x0..x3 = 0; x8 = 73 (ppoll); svc 0; b loop

As PID 1 of its container it has no signal handlers, so SIGTERM is ignored and
the agent removes it with SIGKILL (``docker rm -f``), which is all it needs.
"""

from __future__ import annotations

import io
import platform
import struct
import tarfile

PAUSE_IMAGE = "portside/pause:1"

_BASE = 0x400000
_CODE = {
    # machine id, code
    "x86_64": (0x3E, bytes.fromhex("b822000000" "0f05" "ebf7")),
    "aarch64": (
        0xB7,
        b"".join(
            struct.pack("<I", word)
            for word in (
                0xD2800000,  # mov x0, #0
                0xD2800001,  # mov x1, #0
                0xD2800002,  # mov x2, #0
                0xD2800003,  # mov x3, #0
                0xD2800928,  # mov x8, #73  (ppoll)
                0xD4000001,  # svc #0
                0x17FFFFFA,  # b loop (-6 instructions)
            )
        ),
    ),
}
_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}


class UnsupportedArchitecture(RuntimeError):
    """No pause executable for this CPU architecture."""


def pause_executable(machine: str | None = None) -> bytes:
    """A static ELF64 executable that sleeps forever, for ``machine`` (default: this host)."""
    arch = (machine or platform.machine()).lower()
    arch = _ALIASES.get(arch, arch)
    if arch not in _CODE:
        raise UnsupportedArchitecture(f"no pause executable for {arch}; use another network mode")
    e_machine, code = _CODE[arch]
    ehdr_size, phdr_size = 64, 56
    entry = _BASE + ehdr_size + phdr_size
    size = ehdr_size + phdr_size + len(code)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little endian, SysV
    ehdr = ident + struct.pack(
        "<HHIQQQIHHHHHH", 2, e_machine, 1, entry, ehdr_size, 0, 0, ehdr_size, phdr_size, 1, 0, 0, 0
    )
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, _BASE, _BASE, size, size, 0x1000)  # PT_LOAD, R+X
    return ehdr + phdr + code


def pause_rootfs(machine: str | None = None) -> bytes:
    """A tar of the pause image's root filesystem: just ``/pause``."""
    binary = pause_executable(machine)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("pause")
        info.size = len(binary)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(binary))
    return out.getvalue()

"""Test images built locally: no registry is reachable from the test machines.

``portside-test/busybox:latest`` is an empty root with Debian's static busybox
(``/bin/busybox``, from the ``busybox-static`` package) and a symlink per applet
(sh, httpd, nc, sleep, …), imported with ``docker import``. A container from it
starts in about 0.3 s. Busybox ``wget`` segfaults in such an image (static NSS):
use ``nc`` to talk HTTP, and ``httpd -h DIR`` (with CGI under ``DIR/cgi-bin``)
to serve it.

:func:`ensure_busybox_image` is idempotent and safe to call from parallel test
workers (a file lock serialises the build).
"""

from __future__ import annotations

import fcntl
import io
import subprocess
import tarfile
import time
from pathlib import Path

BUSYBOX_IMAGE = "portside-test/busybox:latest"
BUSYBOX_BINARY = Path("/bin/busybox")
_LOCK = Path("/tmp/portside-test-images.lock")


class ImageUnavailable(RuntimeError):
    """The image cannot be built here (no Docker, or no static busybox)."""


def ensure_busybox_image(name: str = BUSYBOX_IMAGE) -> str:
    """Build ``name`` from the host's static busybox unless Docker already has it."""
    import docker

    client = docker.from_env(timeout=60)
    try:
        if _has_image(client, name):
            return name
        with open(_LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not _has_image(client, name):
                repository, _, tag = name.rpartition(":")
                client.api.import_image_from_data(
                    busybox_rootfs(),
                    repository=repository,
                    tag=tag,
                    changes=['CMD ["sh"]', "ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin"],
                )
                _wait_for(client, name)
        return name
    finally:
        client.close()


def busybox_rootfs() -> bytes:
    """A tar of the image's root: /bin/busybox, one symlink per applet, /tmp, /etc."""
    if not BUSYBOX_BINARY.exists():
        raise ImageUnavailable(f"{BUSYBOX_BINARY} is missing: apt-get install busybox-static")
    applets = subprocess.run(
        [str(BUSYBOX_BINARY), "--list"], capture_output=True, text=True, check=True, timeout=10
    ).stdout.split()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "tmp", "www", "var", "root"):
            _add_dir(tar, d, 0o1777 if d == "tmp" else 0o755)
        tar.add(str(BUSYBOX_BINARY), arcname="bin/busybox")
        for applet in applets:
            if applet == "busybox":
                continue
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        _add_file(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
        _add_file(tar, "etc/group", b"root:x:0:\nnogroup:x:65534:\n")
        _add_file(tar, "www/index.html", b"portside busybox\n")
    return out.getvalue()


def _add_dir(tar: tarfile.TarFile, name: str, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _has_image(client: object, name: str) -> bool:
    import docker.errors

    try:
        client.images.get(name)  # type: ignore[attr-defined]
    except docker.errors.ImageNotFound:
        return False
    return True


def _wait_for(client: object, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not _has_image(client, name):
        if time.monotonic() > deadline:
            raise ImageUnavailable(f"docker import of {name} did not produce the image")
        time.sleep(0.1)

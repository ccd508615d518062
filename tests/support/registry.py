"""A pull-only Docker Registry (HTTP API v2) serving one image, for tests.

No registry is reachable from the test machines, yet "the image is pulled when
absent" should be tested with a real ``docker pull``. :class:`Registry` serves
one image on ``127.0.0.1:<free port>`` over plain HTTP — Docker treats
127.0.0.0/8 registries as insecure, so no TLS nor daemon configuration is
needed — and records every request so a test can show what was fetched::

    image = image_from_docker(ensure_busybox_image())
    with Registry(image, "busybox", "v1") as registry:
        ...  # docker pull 127.0.0.1:PORT/busybox:v1
        assert registry.count("GET", "blobs") == 2

:func:`image_from_docker` builds the image from ``docker save`` of a local
image. Its config gets a unique label and its layers a unique gzip header, so
the engine owns neither the image (same config digest: nothing would be
fetched) nor a record of the blob (same compressed digest: the layer would be
skipped): every pull fetches the manifest, the config and each layer.

Only what a pull uses is implemented: ``/v2/``, manifests by tag or digest,
and blobs, with GET and HEAD. The manifest is Docker's schema 2.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import secrets
import tarfile
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_V1 = "application/vnd.docker.container.image.v1+json"
LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
LABEL = "io.portside.test-registry"


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "size": len(self.data), "digest": self.digest}


@dataclass(frozen=True)
class Image:
    """An image as a registry holds it: a manifest naming a config and layers."""

    config: Blob
    layers: tuple[Blob, ...]

    @property
    def manifest(self) -> bytes:
        doc = {"schemaVersion": 2, "mediaType": MANIFEST_V2, "config": self.config.descriptor(),
               "layers": [layer.descriptor() for layer in self.layers]}
        return json.dumps(doc, indent=2).encode()

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()

    @property
    def blobs(self) -> dict[str, Blob]:
        return {b.digest: b for b in (self.config, *self.layers)}


def image_from_docker(name: str) -> Image:
    """``docker save`` of ``name``, made unique (see the module docstring)."""
    import docker

    client = docker.from_env(timeout=60)
    try:
        saved = b"".join(client.api.get_image(name))
    finally:
        client.close()
    nonce = secrets.randbits(31)
    with tarfile.open(fileobj=io.BytesIO(saved)) as tar:
        (entry,) = json.loads(_member(tar, "manifest.json"))
        config = json.loads(_member(tar, entry["Config"]))
        layers = [_member(tar, path) for path in entry["Layers"]]
    config["config"]["Labels"] = {**(config["config"].get("Labels") or {}), LABEL: str(nonce)}
    return Image(
        config=Blob(CONFIG_V1, json.dumps(config, separators=(",", ":")).encode()),
        # diff_ids name the uncompressed tars and stay valid; the gzip mtime makes the blob new
        layers=tuple(Blob(LAYER_GZIP, gzip.compress(layer, mtime=nonce)) for layer in layers),
    )


def _member(tar: tarfile.TarFile, path: str) -> bytes:
    f = tar.extractfile(path)
    if f is None:
        raise ValueError(f"{path} is not a file in the saved image")
    return f.read()


@dataclass
class Registry:
    """Serves ``image`` as ``repository:tag`` (and by digest) from a background thread."""

    image: Image
    repository: str
    tag: str
    requests: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None

    @property
    def reference(self) -> str:
        """The name to pull: ``127.0.0.1:PORT/REPOSITORY:TAG``."""
        return f"127.0.0.1:{self.port}/{self.repository}:{self.tag}"

    def count(self, method: str, kind: str) -> int:
        """Requests made with ``method`` for ``kind`` ("manifests" or "blobs")."""
        return sum(1 for m, path in self.requests if m == method and f"/{kind}/" in path)

    def __enter__(self) -> Registry:
        loop = self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="test-registry", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), loop).result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._thread is not None and self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/v2/", self._base)
        app.router.add_get("/v2/{name:.+}/manifests/{reference}", self._manifest)
        app.router.add_get("/v2/{name:.+}/blobs/{digest}", self._blob)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def _base(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        return web.json_response({}, headers=_API_VERSION)

    async def _manifest(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        name, reference = request.match_info["name"], request.match_info["reference"]
        if name != self.repository:
            return _error(404, "NAME_UNKNOWN", name)
        if reference not in (self.tag, self.image.digest):
            return _error(404, "MANIFEST_UNKNOWN", reference)
        return web.Response(body=self.image.manifest, content_type=MANIFEST_V2,
                            headers={**_API_VERSION, "Docker-Content-Digest": self.image.digest})

    async def _blob(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        if request.match_info["name"] != self.repository:
            return _error(404, "NAME_UNKNOWN", request.match_info["name"])
        blob = self.image.blobs.get(request.match_info["digest"])
        if blob is None:
            return _error(404, "BLOB_UNKNOWN", request.match_info["digest"])
        return web.Response(body=blob.data, content_type="application/octet-stream",
                            headers={**_API_VERSION, "Docker-Content-Digest": blob.digest})


_API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


def _error(status: int, code: str, detail: str) -> web.Response:
    body = {"errors": [{"code": code, "message": code.lower().replace("_", " "), "detail": detail}]}
    return web.json_response(body, status=status, headers=_API_VERSION)

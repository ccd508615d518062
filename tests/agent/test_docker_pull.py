"""The Docker driver pulls an image the engine does not have, from a real registry.

The registry is tests/support/registry.py on 127.0.0.1 (plain HTTP, which
Docker allows for loopback registries), serving the locally built busybox
under a unique tag; the agent's pull is an ordinary ``docker pull``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.e2e import cluster, needs_docker, until
from tests.helpers import unique
from tests.support.images import ensure_busybox_image
from tests.support.registry import Image, Registry, image_from_docker

pytestmark = [pytest.mark.slow, pytest.mark.docker]


@pytest.fixture(scope="module")
def image() -> Image:
    needs_docker()
    return image_from_docker(ensure_busybox_image())


@pytest.fixture
def docker_api() -> Iterator[Any]:
    import docker

    client = docker.from_env(timeout=30)
    yield client
    client.close()


def has_image(docker_api: Any, name: str) -> bool:
    import docker.errors

    try:
        docker_api.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def remove_image(docker_api: Any, name: str) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.ImageNotFound):
        docker_api.images.remove(name, force=True)


def test_an_absent_image_is_pulled_from_the_registry(
    tmp_path: Path, image: Image, docker_api: Any
) -> None:
    with Registry(image, "busybox", unique("pull")) as registry:
        name = registry.reference
        remove_image(docker_api, name)
        assert not has_image(docker_api, name)
        try:
            with cluster(tmp_path) as c:
                c.agent("docker")
                arn = c.run_task(c.task_definition([{"name": "app", "image": name, "memory": 32,
                                                     "command": ["sleep", "300"], "stopTimeout": 1}]))
                task = c.wait(arn, "RUNNING")

                assert has_image(docker_api, name)
                pulled = docker_api.images.get(name)
                assert f"127.0.0.1:{registry.port}/busybox@{image.digest}" in pulled.attrs["RepoDigests"]
                runtime_id = task["containers"][0]["runtimeId"]
                assert docker_api.containers.get(runtime_id).image.id == pulled.id
                assert registry.count("GET", "manifests") >= 1
                fetched = {path.rsplit("/", 1)[1] for m, path in registry.requests
                           if m == "GET" and "/blobs/" in path}
                assert fetched == set(image.blobs), registry.requests
                assert task["pullStartedAt"] <= task["pullStoppedAt"]

                c.ecs.stop_task(cluster=c.name, task=arn)
                c.wait(arn, "STOPPED")
                until(lambda: not docker_api.containers.list(
                    all=True, filters={"label": f"com.amazonaws.ecs.task-arn={arn}"}), 60,
                    "the container is removed", c)
        finally:
            remove_image(docker_api, name)
        assert not has_image(docker_api, name)

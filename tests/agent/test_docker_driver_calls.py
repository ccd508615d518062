"""The Docker driver's launch path against a real engine: few calls, no twins.

A second create for the same task and container (a retry after a timeout, or a
restart before the agent saved the id) adopts the first container through
Docker's name conflict; an image seen present is not inspected again by every
task, and one removed meanwhile is pulled again by create.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from portside.agent.drivers.base import ContainerError, TaskNetwork
from portside.agent.drivers.docker import DockerDriver
from portside.agent.payload import parse_task
from tests.agent.rig import payload

pytestmark = [pytest.mark.docker]
BRIDGE = TaskNetwork("bridge", metadata_host="172.17.0.1")


def _labelled(client: Any, task_arn: str) -> list[Any]:
    return list(client.containers.list(
        all=True, filters={"label": f"com.amazonaws.ecs.task-arn={task_arn}"}))


async def _driver() -> DockerDriver:
    driver = DockerDriver("i-calls-test")
    await driver.open(lambda event: None)
    return driver


def test_create_twice_adopts_the_first_container(busybox: str, docker_client: Any) -> None:
    task = parse_task(payload([{"name": "web", "image": busybox, "command": ["sleep", "60"]}]))
    (spec,) = task.containers

    async def main() -> None:
        driver = await _driver()
        try:
            first = await driver.create(task, spec, BRIDGE, {})
            again = await driver.create(task, spec, BRIDGE, {})
            assert again.runtime_id == first.runtime_id
            assert first.docker_name.startswith("ecs-rig-1-web-")
            assert first.task_arn == task.task_arn and first.name == "web"
            started = await driver.start(first)
            assert started.state == "running" and started.pid
        finally:
            for c in _labelled(docker_client, task.task_arn):
                c.remove(force=True)
            await driver.close()

    asyncio.run(main())
    assert _labelled(docker_client, task.task_arn) == []


def test_concurrent_pulls_share_one_inspect(busybox: str, docker_client: Any) -> None:
    task = parse_task(payload([{"name": "web", "image": busybox}]))
    (spec,) = task.containers

    async def main() -> None:
        driver = await _driver()
        calls: list[str] = []
        inspect = driver.api.inspect_image

        def counted(name: str) -> Any:
            calls.append(name)
            return inspect(name)

        try:
            driver._client.api.inspect_image = counted
            ids = await asyncio.gather(*(driver.pull(spec) for _ in range(10)))
            assert len(set(ids)) == 1 and ids[0] == docker_client.images.get(busybox).id
            await driver.pull(spec)
            assert calls == [busybox]
        finally:
            await driver.close()

    asyncio.run(main())


def test_create_pulls_again_an_image_removed_since(busybox: str, docker_client: Any) -> None:
    tag = "portside-test/busybox:calls-test"
    docker_client.images.get(busybox).tag(tag)
    task = parse_task(payload([{"name": "web", "image": tag, "command": ["sleep", "60"]}]))
    (spec,) = task.containers

    async def main() -> None:
        driver = await _driver()
        try:
            assert await driver.pull(spec)
            docker_client.images.remove(tag)
            # Cached as present; create hears "No such image", pulls (no registry here)
            # and reports the pull failure as ECS would.
            with pytest.raises(ContainerError) as err:
                await driver.create(task, spec, BRIDGE, {})
            assert err.value.kind == "CannotPullContainerError"
        finally:
            for c in _labelled(docker_client, task.task_arn):
                c.remove(force=True)
            await driver.close()

    asyncio.run(main())

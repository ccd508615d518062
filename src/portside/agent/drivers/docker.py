"""The Docker driver: ECS containers as Docker containers, through the Docker SDK.

Every engine call runs in a worker thread with a deadline (the SDK's socket
timeout, and ``asyncio.wait_for`` on top), after amazon-ecs-agent's
docker_client.go: a wedged engine delays a task, it never hangs the agent.

Containers carry ECS's labels (``com.amazonaws.ecs.task-arn``,
``…container-name``, ``…cluster``, ``…task-definition-family``/``-version``)
and portside's ``io.portside.instance-id``, which is how a restarted agent
finds — and only its own — containers again, and how the event stream is
filtered.

Network modes:

- ``bridge``: Docker's default bridge; a hostPort of 0 or none gets a dynamic
  host port from the kernel's ephemeral range (32768-60999).
- ``host`` and ``none``: as Docker does them.
- ``awsvpc``: a per-task pause container on the portside-managed user bridge
  network ``portside-awsvpc`` (its own subnet, 10.213.0.0/16 by default) owns
  the task's network namespace and address; the task's containers join it.
  The address is the task's ENI attachment (``privateIPv4Address``).

The metadata endpoint is reached from containers through the gateway of the
network they sit on (docker0's 172.17.0.1, or ``portside-awsvpc``'s gateway),
and from ``host`` containers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from portside.agent.drivers.base import (
    ContainerError,
    Emit,
    RuntimeContainer,
    TaskNetwork,
)
from portside.agent.drivers.docker_events import EventWatcher
from portside.agent.drivers.docker_spec import LABEL_CONTAINER as LABEL_NAME
from portside.agent.drivers.docker_spec import (
    LABEL_INSTANCE,
    LABEL_ROLE,
    LABEL_TASK,
    PAUSE_CONTAINER,
    create_args,
    docker_name,
    labels,
    runtime_container,
)
from portside.agent.drivers.pause import PAUSE_IMAGE, pause_rootfs
from portside.agent.payload import ContainerSpec, TaskSpec

log = logging.getLogger("portside.agent.docker")
T = TypeVar("T")

AWSVPC_NETWORK = "portside-awsvpc"
AWSVPC_SUBNET = "10.213.0.0/16"
CALL_TIMEOUT = 60.0
IMAGE_CACHE_SECONDS = 10.0  # how long an image found present is taken as still present


class DockerDriver:
    name = "docker"
    pulls_images = True

    def __init__(
        self,
        instance_id: str,
        *,
        awsvpc_subnet: str = AWSVPC_SUBNET,
        timeout: float = CALL_TIMEOUT,
        base_url: str | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.awsvpc_subnet = awsvpc_subnet
        self.timeout = timeout
        self.base_url = base_url
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="docker")
        self._client: Any = None
        self._events: EventWatcher | None = None
        self._version = ""
        self._bridge_gateway = "172.17.0.1"
        self._awsvpc_gateway = ""
        # Image name -> (monotonic time seen, image id); lookups in flight, shared.
        self._images: dict[str, tuple[float, str]] = {}
        self._image_lookups: dict[str, asyncio.Future[str | None]] = {}

    # -- plumbing ---------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any, timeout: float | None = None, **kw: Any) -> T:
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._pool, functools.partial(fn, *args, **kw))
        return await asyncio.wait_for(fut, timeout or self.timeout)

    @property
    def api(self) -> Any:
        return self._client.api

    async def open(self, emit: Emit) -> None:
        import docker

        def connect() -> Any:
            if self.base_url:
                return docker.DockerClient(base_url=self.base_url, timeout=int(self.timeout), max_pool_size=32)
            return docker.from_env(timeout=int(self.timeout), max_pool_size=32)

        self._client = await self._call(connect)
        self._version = str((await self._call(self.api.version)).get("Version", ""))
        await self._ensure_pause_image()
        self._awsvpc_gateway = await self._ensure_awsvpc_network()
        self._bridge_gateway = await self._bridge_gateway_address()
        self._events = EventWatcher(self._client, self.instance_id, emit, asyncio.get_running_loop())
        await self._call(self._events.start)

    async def close(self) -> None:
        if self._events is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._events.close)
        if self._client is not None:
            self._client.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def version(self) -> str:
        return self._version

    def attributes(self) -> list[tuple[str, str | None]]:
        return [
            ("ecs.capability.docker-remote-api.1.17", None),
            ("ecs.capability.docker-remote-api.1.44", None),
            ("com.amazonaws.ecs.capability.docker-remote-api.1.17", None),
            ("ecs.capability.task-eni", None),
            ("ecs.capability.container-health-check", None),
            ("ecs.capability.container-ordering", None),
            ("ecs.capability.task-cpu-mem-limit", None),
            ("ecs.capability.full-sync", None),
            ("ecs.capability.execution-role-awslogs", None),
        ]

    def metadata_addresses(self) -> list[str]:
        return [a for a in ("127.0.0.1", self._bridge_gateway, self._awsvpc_gateway) if a]

    # -- setup ------------------------------------------------------------

    async def _ensure_pause_image(self) -> None:
        import docker.errors

        try:
            await self._call(self.api.inspect_image, PAUSE_IMAGE)
            return
        except docker.errors.ImageNotFound:
            pass
        repo, _, tag = PAUSE_IMAGE.rpartition(":")
        await self._call(
            self.api.import_image_from_data, pause_rootfs(), repository=repo, tag=tag,
            changes=['CMD ["/pause"]'],
        )

    async def _ensure_awsvpc_network(self) -> str:
        import docker.errors
        from docker.types import IPAMConfig, IPAMPool

        async def find() -> dict[str, Any] | None:
            for n in await self._call(self.api.networks, names=[AWSVPC_NETWORK]):
                if n.get("Name") == AWSVPC_NETWORK:
                    return dict(n)
            return None

        net = await find()
        if net is None:
            try:
                await self._call(
                    self.api.create_network, AWSVPC_NETWORK, driver="bridge", check_duplicate=True,
                    ipam=IPAMConfig(pool_configs=[
                        IPAMPool(subnet=self.awsvpc_subnet, gateway=_first_host(self.awsvpc_subnet))
                    ]),
                    labels={"io.portside.network": "awsvpc"},
                )
            except docker.errors.APIError as exc:  # another agent made it meanwhile
                log.info("creating %s: %s", AWSVPC_NETWORK, exc)
            net = await find()
        if net is None:
            raise RuntimeError(f"cannot create the Docker network {AWSVPC_NETWORK}")
        net = dict(await self._call(self.api.inspect_network, net["Id"]))
        subnets = [c.get("Subnet") for c in (net.get("IPAM") or {}).get("Config") or () if c.get("Subnet")]
        if subnets:
            self.awsvpc_subnet = str(subnets[0])
        return _gateway(net) or (_first_host(subnets[0]) if subnets else "")

    async def _bridge_gateway_address(self) -> str:
        try:
            net = await self._call(self.api.inspect_network, "bridge")
        except Exception:
            return self._bridge_gateway
        return _gateway(net) or self._bridge_gateway

    # -- adoption ---------------------------------------------------------

    async def existing(self) -> dict[str, list[RuntimeContainer]]:
        found: dict[str, list[RuntimeContainer]] = {}
        for summary in await self._call(
            self.api.containers, all=True, filters={"label": f"{LABEL_INSTANCE}={self.instance_id}"}
        ):
            labels_ = summary.get("Labels") or {}
            if labels_.get(LABEL_ROLE) == "pause" or not labels_.get(LABEL_TASK):
                continue
            rc = await self.inspect_id(str(summary["Id"]))
            if rc is not None:
                found.setdefault(rc.task_arn, []).append(rc)
        return found

    async def inspect_id(self, runtime_id: str) -> RuntimeContainer | None:
        import docker.errors

        try:
            attrs = await self._call(self.api.inspect_container, runtime_id)
        except docker.errors.NotFound:
            return None
        return runtime_container(attrs)

    async def _find(self, task_arn: str, name: str, role: str | None = None) -> list[dict[str, Any]]:
        want = [f"{LABEL_INSTANCE}={self.instance_id}", f"{LABEL_TASK}={task_arn}", f"{LABEL_NAME}={name}"]
        if role:
            want.append(f"{LABEL_ROLE}={role}")
        return list(await self._call(self.api.containers, all=True, filters={"label": want}))

    # -- network ----------------------------------------------------------

    async def setup_network(self, task: TaskSpec) -> TaskNetwork:
        mode = task.network_mode
        if mode == "host":
            return TaskNetwork(mode, metadata_host="127.0.0.1")
        if mode == "none":
            return TaskNetwork(mode, metadata_host="127.0.0.1")
        if mode != "awsvpc":
            return TaskNetwork("bridge", metadata_host=self._bridge_gateway)
        pause_id = await self._pause_container(task)
        attrs = await self._call(self.api.inspect_container, pause_id)
        net = ((attrs.get("NetworkSettings") or {}).get("Networks") or {}).get(AWSVPC_NETWORK) or {}
        prefix = net.get("IPPrefixLen")
        address = net.get("IPAddress") or None
        return TaskNetwork(
            "awsvpc",
            metadata_host=net.get("Gateway") or self._awsvpc_gateway,
            address=address,
            subnet_cidr=self.awsvpc_subnet if not prefix else _cidr(address, prefix),
            gateway=net.get("Gateway") or self._awsvpc_gateway,
            mac_address=net.get("MacAddress") or None,
            sandbox_id=pause_id,
            sandbox_pid=(attrs.get("State") or {}).get("Pid") or None,
        )

    async def _pause_container(self, task: TaskSpec) -> str:
        for summary in await self._find(task.task_arn, PAUSE_CONTAINER, role="pause"):
            cid = str(summary["Id"])
            if summary.get("State") == "running":
                return cid
            await self._remove_id(cid)
        extra_hosts = {h: ip for c in task.containers for h, ip in c.extra_hosts}
        hostname = next((c.hostname for c in task.containers if c.hostname), None)
        host_config = self.api.create_host_config(
            network_mode=AWSVPC_NETWORK, extra_hosts=extra_hosts or None
        )
        created = await self._call(
            self.api.create_container,
            PAUSE_IMAGE,
            name=docker_name(task, "internalecspause", secrets.token_hex(10)),
            labels={**labels(task, PAUSE_CONTAINER, self.instance_id), LABEL_ROLE: "pause"},
            hostname=hostname,
            host_config=host_config,
            detach=True,
        )
        cid = str(created["Id"])
        try:
            await self._call(self.api.start, cid)
        except Exception as exc:
            await self._remove_id(cid)
            raise ContainerError("CannotStartContainerError", f"task network: {_explain(exc)}") from exc
        return cid

    async def teardown_network(self, task: TaskSpec) -> None:
        if task.network_mode != "awsvpc":
            return
        for summary in await self._find(task.task_arn, PAUSE_CONTAINER, role="pause"):
            await self._remove_id(str(summary["Id"]))

    # -- containers -------------------------------------------------------

    async def pull(self, container: ContainerSpec) -> str | None:
        """The image's id, pulled first when the engine does not have it.

        Tasks launched together mostly share an image: one inspect answers them
        all (concurrent lookups of one name share a call), and an image seen
        present is not asked about again for IMAGE_CACHE_SECONDS. Should it
        vanish meanwhile, :meth:`create` hears ``No such image``, forgets it and
        pulls again.
        """
        import docker.errors
        from docker.utils import parse_repository_tag

        image = container.image
        cached = self._images.get(image)
        if cached is not None and time.monotonic() - cached[0] < IMAGE_CACHE_SECONDS:
            return cached[1]
        try:
            found = await self._image_id(image)
        except docker.errors.APIError as exc:
            raise ContainerError("CannotPullContainerError", _explain(exc)) from exc
        if found is not None:
            return found
        repo, tag = parse_repository_tag(image)

        def pull() -> None:
            for line in self.api.pull(repo, tag=tag or "latest", stream=True, decode=True):
                if isinstance(line, dict) and line.get("error"):
                    raise docker.errors.APIError(str(line["error"]))

        try:
            await self._call(pull, timeout=max(self.timeout, 600))
            return self._seen(image, str((await self._call(self.api.inspect_image, image))["Id"]))
        except docker.errors.DockerException as exc:
            raise ContainerError("CannotPullContainerError", _explain(exc)) from exc

    async def _image_id(self, image: str) -> str | None:
        """inspect_image, one call for every concurrent caller; None when absent."""
        shared = self._image_lookups.get(image)
        if shared is not None:
            return await asyncio.shield(shared)
        fut: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._image_lookups[image] = fut
        try:
            image_id = await self._inspect_image(image)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            fut.set_result(image_id)
            return image_id
        finally:
            del self._image_lookups[image]

    async def _inspect_image(self, image: str) -> str | None:
        import docker.errors

        try:
            return self._seen(image, str((await self._call(self.api.inspect_image, image))["Id"]))
        except docker.errors.ImageNotFound:
            return None

    def _seen(self, image: str, image_id: str) -> str:
        self._images[image] = (time.monotonic(), image_id)
        return image_id

    async def create(
        self, task: TaskSpec, container: ContainerSpec, network: TaskNetwork, env: Mapping[str, str]
    ) -> RuntimeContainer:
        """Create the container, or find the one an earlier attempt created.

        The name's suffix is derived from the task ARN and container name, so a
        second attempt (after a timeout, or a restart between create and the
        agent saving the id) meets Docker's name conflict and adopts that
        container instead of making a twin. The created container is described
        from what was sent; :meth:`start` inspects it once it runs.
        """
        import docker.errors

        config, host = create_args(task, container, env, self.instance_id, network.sandbox_id)
        name = docker_name(task, container.name, _suffix(task.task_arn, container.name))
        for attempt in (1, 2):
            try:
                created = await self._call(
                    self.api.create_container, name=name,
                    host_config=self.api.create_host_config(**host), **config,
                )
                break
            except docker.errors.ImageNotFound as exc:  # removed since pull() saw it
                self._images.pop(container.image, None)
                if attempt == 2:
                    raise ContainerError("CannotCreateContainerError", _explain(exc)) from exc
                await self.pull(container)
            except docker.errors.APIError as exc:
                if exc.status_code == 409:  # the name is taken: by our earlier attempt
                    rc = await self.inspect_id(name)
                    if rc is not None and rc.task_arn == task.task_arn:
                        return rc
                raise ContainerError("CannotCreateContainerError", _explain(exc)) from exc
            except docker.errors.DockerException as exc:
                raise ContainerError("CannotCreateContainerError", _explain(exc)) from exc
        return RuntimeContainer(
            task_arn=task.task_arn,
            name=container.name,
            runtime_id=str(created["Id"]),
            docker_name=name,
            image=container.image,
            labels=dict(config.get("labels") or {}),
        )

    async def start(self, rc: RuntimeContainer) -> RuntimeContainer:
        import docker.errors

        try:
            await self._call(self.api.start, rc.runtime_id)
        except docker.errors.DockerException as exc:
            raise ContainerError("CannotStartContainerError", _explain(exc)) from exc
        return await self.inspect_id(rc.runtime_id) or rc

    async def inspect(self, rc: RuntimeContainer) -> RuntimeContainer | None:
        return await self.inspect_id(rc.runtime_id)

    async def stop(self, rc: RuntimeContainer, timeout: float) -> None:
        import docker.errors

        seconds = max(0, round(timeout))
        try:
            await self._call(
                self.api.stop, rc.runtime_id, seconds, timeout=seconds + self.timeout
            )
        except docker.errors.NotFound:
            return
        except (docker.errors.APIError, TimeoutError) as exc:
            log.warning("stopping %s: %s; killing it", rc.docker_name or rc.runtime_id, exc)
            with contextlib.suppress(docker.errors.APIError):
                await self._call(self.api.kill, rc.runtime_id)

    async def remove(self, rc: RuntimeContainer) -> None:
        await self._remove_id(rc.runtime_id)

    async def _remove_id(self, runtime_id: str) -> None:
        import docker.errors

        try:
            await self._call(self.api.remove_container, runtime_id, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if "already in progress" not in str(exc):
                raise

    async def stats(self, rc: RuntimeContainer) -> dict[str, Any] | None:
        import docker.errors

        try:
            return dict(await self._call(self.api.stats, rc.runtime_id, stream=False, timeout=30))
        except docker.errors.NotFound:
            return None


def _suffix(task_arn: str, container_name: str) -> str:
    """20 hex digits, like ECS's random suffix, but the same on every attempt."""
    return hashlib.sha256(f"{task_arn}/{container_name}".encode()).hexdigest()[:20]


def _gateway(net: Mapping[str, Any]) -> str | None:
    for cfg in (net.get("IPAM") or {}).get("Config") or ():
        if cfg.get("Gateway"):
            return str(cfg["Gateway"])
    return None


def _first_host(cidr: str) -> str:
    import ipaddress

    return str(next(ipaddress.ip_network(cidr, strict=False).hosts()))


def _cidr(address: str | None, prefix: int) -> str | None:
    if not address:
        return None
    import ipaddress

    return str(ipaddress.ip_interface(f"{address}/{prefix}").network)


def _explain(exc: BaseException) -> str:
    """Docker's own words for a failure, as ECS quotes them ("Error response from daemon: …")."""
    explanation = getattr(exc, "explanation", None)
    if explanation:
        text = explanation.decode() if isinstance(explanation, bytes) else str(explanation)
        return f"Error response from daemon: {text}"
    return str(exc) or type(exc).__name__


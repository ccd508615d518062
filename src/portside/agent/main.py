"""Run a node agent: open the driver, register, serve metadata, hold the session.

The order matters for a restart: the driver opens first (so no container
event is missed), the metadata server comes up on the port saved in the state
dir (adopted containers keep their metadata URIs), the agent registers with
its saved containerInstanceArn, the engine collects what the earlier run left,
and only then does the session start delivering manifests. On SIGINT/SIGTERM
the agent stops managing tasks but leaves them running: a restarted agent
adopts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from portside.agent.drivers.base import Driver
from portside.agent.ecs_client import Credentials, EcsClient, EcsError
from portside.agent.engine import Engine
from portside.agent.metadata import MetadataServer
from portside.agent.registration import MachineSpec, cluster_arn_of, register_params
from portside.agent.reporter import Reporter
from portside.agent.session import Outbox, Session
from portside.agent.state import AgentIdentity, StateDir
from portside.agent.task_protection import TaskProtection

log = logging.getLogger("portside.agent")


@dataclass
class AgentConfig:
    endpoint: str
    cluster: str = "default"
    driver: str = "auto"  # docker | process | auto
    state_dir: Path = field(default_factory=lambda: Path("~/.local/share/portside/agent").expanduser())
    region: str = "us-east-1"
    availability_zone: str = "us-east-1a"
    instance_type: str = "t3.medium"
    cpu: int | None = None
    memory: int | None = None
    attributes: tuple[tuple[str, str | None], ...] = ()
    access_key: str = "test"
    secret_key: str = "test"
    metadata_port: int | None = None
    awsvpc_subnet: str = "10.213.0.0/16"
    heartbeat_interval: float = 10.0


@dataclass
class RunningAgent:
    """What a started agent is, for its ready callback."""

    container_instance_arn: str
    cluster_arn: str
    driver: str
    metadata_port: int
    instance_id: str
    engine: Engine
    session: Session
    extra: dict[str, Any] = field(default_factory=dict)


def docker_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception:
        return False
    return True


def make_driver(config: AgentConfig, identity: AgentIdentity) -> Driver:
    kind = config.driver
    if kind == "auto":
        kind = "docker" if docker_available() else "process"
    if kind == "docker":
        from portside.agent.drivers.docker import DockerDriver

        return DockerDriver(identity.instance_id, awsvpc_subnet=config.awsvpc_subnet)
    if kind == "process":
        from portside.agent.drivers.process import ProcessDriver

        return ProcessDriver(config.state_dir)
    raise ValueError(f"unknown driver {config.driver!r}: use docker or process")


async def register(
    client: EcsClient, config: AgentConfig, identity: AgentIdentity, driver: Driver, stop: asyncio.Event
) -> str:
    """RegisterContainerInstance (as the saved instance when there is one); retried until it works."""
    spec = MachineSpec(
        cluster=config.cluster, region=config.region, availability_zone=config.availability_zone,
        instance_type=config.instance_type, instance_id=identity.instance_id,
        cpu=config.cpu, memory=config.memory, attributes=config.attributes,
    )
    saved = identity.container_instance_arn if identity.cluster == config.cluster else None
    backoff = 1.0
    while True:
        params = register_params(
            spec, driver_version=driver.version(), driver_attributes=driver.attributes(),
            extra_ports=[identity.metadata_port] if identity.metadata_port else [],
            container_instance_arn=saved,
        )
        try:
            out = await client.call("RegisterContainerInstance", params, bootstrap=True)
            return str(out["containerInstance"]["containerInstanceArn"])
        except EcsError as exc:
            if saved and not exc.retryable:
                log.warning("cannot re-register as %s (%s); registering anew", saved, exc)
                saved = None
                continue
            if exc.code == "ClusterNotFoundException" and config.cluster == "default":
                # like the ECS agent: the default cluster is made on first use
                await client.call("CreateCluster", {"clusterName": "default"}, bootstrap=True)
                continue
            if not exc.retryable and exc.code != "ClusterNotFoundException":
                raise
            log.warning("registration failed (%s); retrying in %.0fs", exc, backoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff)
        if stop.is_set():
            raise asyncio.CancelledError
        backoff = min(backoff * 2, 30.0)


async def run_agent(
    config: AgentConfig,
    stop: asyncio.Event,
    ready: Callable[[RunningAgent], None] | None = None,
) -> None:
    state = StateDir(config.state_dir)
    state.prepare()
    identity = state.load_identity()
    driver = make_driver(config, identity)
    engine: Engine | None = None

    def on_event(event: Any) -> None:
        if engine is not None:
            engine.on_runtime_event(event)

    def on_engine(made: Engine) -> None:
        nonlocal engine
        engine = made

    metadata = MetadataServer(lambda token: engine.resolve(token) if engine else None, driver)
    try:
        await driver.open(on_event)
        metadata_port = await start_metadata(metadata, driver, identity.metadata_port or 0, config.metadata_port)
        identity.metadata_port = metadata_port
        state.save_identity(identity)
        await _serve(config, state, identity, driver, metadata, metadata_port, stop, ready, on_engine)
    finally:
        await metadata.stop()
        await driver.close()


async def _serve(
    config: AgentConfig,
    state: StateDir,
    identity: AgentIdentity,
    driver: Driver,
    metadata: MetadataServer,
    metadata_port: int,
    stop: asyncio.Event,
    ready: Callable[[RunningAgent], None] | None,
    on_engine: Callable[[Engine], None],
) -> None:
    engine: Engine | None = None
    async with aiohttp.ClientSession() as http:
        client = EcsClient(config.endpoint, config.region, Credentials(config.access_key, config.secret_key), http)
        outbox = Outbox()
        reporter: Reporter | None = None
        try:
            arn = await register(client, config, identity, driver, stop)
            cluster_arn = cluster_arn_of(arn, config.cluster)
            identity.container_instance_arn, identity.cluster = arn, config.cluster
            state.save_identity(identity)
            reporter = Reporter(client, cluster_arn)
            metadata.protection = TaskProtection(client, cluster_arn)
            engine = Engine(
                driver, reporter, state, outbox, metadata_secret=identity.metadata_secret,
                metadata_port=metadata_port, region=config.region,
            )
            on_engine(engine)
            await engine.open()
            session = Session(
                client, outbox, cluster_arn=cluster_arn, instance_arn=arn,
                on_manifest=engine.apply_manifest, running_tasks=engine.running_tasks,
                heartbeat_interval=config.heartbeat_interval, proxy_stats=engine.connect.stats,
            )
            log.info("registered as %s (driver %s, metadata port %d)", arn, driver.name, metadata_port)
            if ready is not None:
                ready(RunningAgent(arn, cluster_arn, driver.name, metadata_port, identity.instance_id, engine, session))
            await session.run(stop)
        finally:
            if engine is not None:
                await engine.shutdown()
            if reporter is not None:
                await reporter.flush(5)
                await reporter.close()


async def start_metadata(server: MetadataServer, driver: Driver, saved: int, wanted: int | None) -> int:
    addresses = driver.metadata_addresses()
    port = wanted if wanted is not None else saved
    try:
        return await server.start(addresses, port)
    except OSError as exc:
        if port == 0:
            raise
        log.warning("metadata port %d is taken (%s): adopted containers' metadata URIs go stale", port, exc)
        await server.stop()
        return await server.start(addresses, 0)


def run(config: AgentConfig, ready: Callable[[RunningAgent], None] | None = None) -> None:
    """Run until SIGINT or SIGTERM (the ``portside agent`` command)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_agent(config, stop, ready)

    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(main())

"""The ``portside agent`` command: run a node agent against a control plane."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from portside.config import DEFAULT_DATA_DIR


def _attribute(value: str) -> tuple[str, str | None]:
    name, sep, val = value.partition("=")
    if not name:
        raise click.BadParameter(f"{value!r}: use NAME or NAME=VALUE")
    return name, (val if sep else None)


EPILOG = """\b
Drivers:
  docker   tasks are Docker containers (labels com.amazonaws.ecs.*); awsvpc
           tasks get an address on the portside-awsvpc network
  process  tasks are host processes (entryPoint + command); each gets
           PORT, PORTSIDE_PORT_<containerPort>, PORTSIDE_ADDRESS and
           PORTSIDE_NETWORK_MODE in its environment; memory is enforced
           as RLIMIT_AS, and where the agent may write cgroups each task
           gets one (task cpu as a quota, memory as a limit); elsewhere
           cpu counts for placement only
Every container gets ECS_CONTAINER_METADATA_URI_V4 (task metadata v4).
Killing the agent leaves its tasks running; started again with the same
--state-dir it re-registers as the same instance and adopts them.
"""


@click.command(epilog=EPILOG)
@click.option("--endpoint", required=True, help="The control plane's URL (http://127.0.0.1:4600).")
@click.option("--cluster", default="default", show_default=True, help="Cluster to join.")
@click.option(
    "--driver",
    type=click.Choice(["auto", "docker", "process"]),
    default="auto",
    show_default=True,
    help="Run tasks as Docker containers or host processes (auto: docker when an engine answers).",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the agent keeps its identity and task records [DATA_DIR/agent-CLUSTER].",
)
@click.option("--region", default="us-east-1", show_default=True)
@click.option("--az", "availability_zone", default=None, help="Availability zone [REGION + 'a'].")
@click.option("--instance-type", default="t3.medium", show_default=True)
@click.option("--cpu", type=int, default=None, help="CPU units to offer [1024 per core].")
@click.option("--memory", type=int, default=None, help="MiB to offer [the machine's memory].")
@click.option("--attribute", "attributes", multiple=True, help="Custom attribute NAME[=VALUE] (repeatable).")
@click.option("--access-key", default="test", show_default=True, envvar="PORTSIDE_AGENT_ACCESS_KEY",
              help="Bootstrap key for registration (or PORTSIDE_AGENT_ACCESS_KEY).")
@click.option("--secret-key", default="test", show_default=True, envvar="PORTSIDE_AGENT_SECRET_KEY",
              help="Its secret (or PORTSIDE_AGENT_SECRET_KEY, kept out of the process list).")
@click.option("--metadata-port", type=int, default=None, help="Task metadata endpoint port [saved, else any].")
@click.option("--awsvpc-subnet", default="10.213.0.0/16", show_default=True, help="Docker awsvpc network subnet.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def agent(
    endpoint: str,
    cluster: str,
    driver: str,
    state_dir: str | None,
    region: str,
    availability_zone: str | None,
    instance_type: str,
    cpu: int | None,
    memory: int | None,
    attributes: tuple[str, ...],
    access_key: str,
    secret_key: str,
    metadata_port: int | None,
    awsvpc_subnet: str,
    verbose: bool,
) -> None:
    """Register this machine as a container instance and run the tasks placed on it."""
    from portside.agent.main import AgentConfig, RunningAgent, run
    from portside.agent.ports import dynamic_range

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    try:
        parsed = tuple(_attribute(a) for a in attributes)
        dynamic_range()
    except (click.BadParameter, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    config = AgentConfig(
        endpoint=endpoint,
        cluster=cluster,
        driver=driver,
        state_dir=Path(state_dir).expanduser() if state_dir else DEFAULT_DATA_DIR / f"agent-{cluster}",
        region=region,
        availability_zone=availability_zone or f"{region}a",
        instance_type=instance_type,
        cpu=cpu,
        memory=memory,
        attributes=parsed,
        access_key=access_key,
        secret_key=secret_key,
        metadata_port=metadata_port,
        awsvpc_subnet=awsvpc_subnet,
    )

    def ready(running: RunningAgent) -> None:
        click.echo(f"portside agent registered as {running.container_instance_arn}")
        click.echo(f"  cluster:  {running.cluster_arn}")
        click.echo(f"  driver:   {running.driver}")
        click.echo(f"  instance: {running.instance_id}")
        click.echo(f"  metadata: port {running.metadata_port}")
        click.echo(f"  state:    {config.state_dir}")
        sys.stdout.flush()

    from portside.agent.session import InstanceDeregistered

    try:
        run(config, ready)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except InstanceDeregistered as exc:
        click.echo(
            f"portside agent: {exc}; exiting (its tasks keep running; start the agent again to "
            "register as a new container instance)",
            err=True,
        )
        sys.exit(5)

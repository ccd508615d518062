"""The ``portside`` command."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from portside import __version__
from portside.cli.agent import agent as agent_command
from portside.cli.capacity import capacity as capacity_command
from portside.cli.inspect import explain, status
from portside.cli.simulate import simulate as simulate_command
from portside.cli.top import top as top_command
from portside.config import (
    DEFAULT_ACCOUNT,
    DEFAULT_DATA_DIR,
    DEFAULT_DNS_PORT,
    DEFAULT_HOST,
    DEFAULT_PORT,
    ConfigError,
    Settings,
    load_credentials,
)


@click.group()
@click.version_option(__version__, prog_name="portside")
def cli() -> None:
    """portside: the Amazon ECS API on machines you own."""


@cli.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="API port.")
@click.option(
    "--data-dir",
    default=str(DEFAULT_DATA_DIR),
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the SQLite database lives.",
)
@click.option("--account-id", default=DEFAULT_ACCOUNT, show_default=True, help="Account in every ARN.")
@click.option(
    "--credentials",
    type=click.Path(dir_okay=False),
    help="AWS credentials file whose key pairs are accepted (required off loopback).",
)
@click.option(
    "--dns-port",
    default=DEFAULT_DNS_PORT,
    show_default=True,
    type=int,
    help="Port of the DNS server for Cloud Map DNS namespaces (UDP and TCP; 53 needs root).",
)
@click.option("--no-dns", is_flag=True, help="Do not start the DNS server.")
@click.option(
    "--dns-upstream",
    "dns_upstreams",
    multiple=True,
    metavar="HOST[:PORT]",
    help="Resolver to forward names outside the Cloud Map zones to (repeatable, tried in "
    "order); without one they are REFUSED.",
)
@click.option("--instances", default=1, show_default=True, type=click.IntRange(0, 64),
              help="Local agents to start in the cluster 'default' (0: none).")
@click.option("--no-agent", is_flag=True, help="Start no local agent (same as --instances 0).")
@click.option("--azs", default="a", show_default=True,
              help="Availability zones for the local agents, round-robin (a,b,c or full names).")
@click.option("--cpu", type=int, default=None, help="CPU units each local agent offers.")
@click.option("--memory", type=int, default=None, help="MiB each local agent offers.")
@click.option("--driver", type=click.Choice(["auto", "docker", "process"]), default="auto",
              show_default=True, help="How local agents run tasks (auto: docker if it answers).")
@click.option("--region", default="us-east-1", show_default=True, help="Region of the local agents.")
@click.option("--no-fargate", is_flag=True,
              help="Start no Fargate pool (FARGATE tasks then fail: no capacity).")
def up(
    host: str,
    port: int,
    data_dir: str,
    account_id: str,
    credentials: str | None,
    dns_port: int,
    no_dns: bool,
    dns_upstreams: tuple[str, ...],
    instances: int,
    no_agent: bool,
    azs: str,
    cpu: int | None,
    memory: int | None,
    driver: str,
    region: str,
    no_fargate: bool,
) -> None:
    """Start the control plane (SQLite by default; PORTSIDE_DATABASE_URL for PostgreSQL)."""
    from portside.runtime.control_plane import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        settings = Settings(
            host=host,
            port=port,
            data_dir=Path(data_dir).expanduser(),
            account_id=account_id,
            credentials=load_credentials(credentials) if credentials else {},
            database_url=os.environ.get("PORTSIDE_DATABASE_URL") or None,
            dns_host=host,
            dns_port=None if no_dns else dns_port,
            dns_upstreams=tuple(dns_upstreams),
        )
        settings.validate()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None

    from portside.runtime.local_agents import (
        LocalAgents,
        docker_answers,
        ensure_default_cluster,
        zone_names,
    )

    count = 0 if no_agent else instances
    why = f" (--driver {driver})"
    if count and driver == "auto":
        driver = "docker" if docker_answers() else "process"
        why = " (a Docker engine answers)" if driver == "docker" else " (no Docker engine answers)"
    # the agents register with the file's first key pair: the dev pair is refused then
    first = settings.agent_keys
    agents = LocalAgents(settings.local_endpoint, Path(settings.data_dir), driver,
                         region, first)  # fmt: skip

    def ready(app: Any) -> None:
        store = settings.database_url or str(Path(settings.data_dir) / "portside.db")
        keys = settings.accepted_keys()
        click.echo(f"portside {__version__} listening on {settings.endpoint}")
        click.echo(f"  store:    {_redact(store)}")
        click.echo(f"  account:  {settings.account_id}")
        if settings.dns_port is not None:
            dns_port = app.extras.get("dns_port", settings.dns_port)
            click.echo(f"  dns:      {settings.dns_host}:{dns_port} (UDP and TCP)")
            if settings.dns_upstreams:
                click.echo(f"  dns forwards other names to: {', '.join(settings.dns_upstreams)}")
        if settings.credentials:
            click.echo(f"  credentials: {len(keys)} key pair(s) from {credentials}")
        else:
            click.echo("  credentials (dev, loopback only): access key 'test', secret 'test'")
        key_id, secret = (first[0], "...") if first else ("test", "test")
        click.echo(
            f"  try: AWS_ACCESS_KEY_ID={key_id} AWS_SECRET_ACCESS_KEY={secret} "
            f"AWS_DEFAULT_REGION={region} aws --endpoint-url {agents.endpoint} ecs list-clusters"
        )
        if first:  # a secret is never printed: the user fills it in
            click.echo(f"       (... = the secret of {key_id} in {credentials})")
        if count:
            ensure_default_cluster(app, region)
            zones = zone_names(azs, region)
            logs = agents.start(count, zones, cpu, memory)
            if not no_fargate:
                agents.start_fargate_pool(zones[0])
            click.echo(f"  agents:   {count} local agent(s), driver {driver}{why}, "
                       f"zones {', '.join(zones)}; logs in {Path(logs[0]).parent.parent}")
            if not no_fargate:
                click.echo("  fargate:  a Fargate pool with this machine's capacity (--no-fargate: none)")
        sys.stdout.flush()

    from portside.store.lock import StoreLocked

    try:
        run(settings, ready)
    except StoreLocked as exc:  # another server owns this database: refused, nothing written
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {settings.endpoint}: {exc.strerror}. "
            "Is another portside running? Choose another --port."
        ) from None
    finally:
        agents.stop()


cli.add_command(agent_command)
cli.add_command(status)
cli.add_command(explain)
cli.add_command(simulate_command)
cli.add_command(capacity_command)
cli.add_command(top_command)


def _redact(url: str) -> str:
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

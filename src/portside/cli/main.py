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
from portside.cli.inspect import explain, status
from portside.cli.simulate import simulate as simulate_command
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
def up(
    host: str,
    port: int,
    data_dir: str,
    account_id: str,
    credentials: str | None,
    dns_port: int,
    no_dns: bool,
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
        )
        settings.validate()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None

    def ready(app: Any) -> None:
        store = settings.database_url or str(Path(settings.data_dir) / "portside.db")
        keys = settings.accepted_keys()
        click.echo(f"portside {__version__} listening on {settings.endpoint}")
        click.echo(f"  store:    {_redact(store)}")
        click.echo(f"  account:  {settings.account_id}")
        if settings.dns_port is not None:
            dns_port = app.extras.get("dns_port", settings.dns_port)
            click.echo(f"  dns:      {settings.dns_host}:{dns_port} (UDP and TCP)")
        if settings.credentials:
            click.echo(f"  credentials: {len(keys)} key pair(s) from {credentials}")
        else:
            click.echo("  credentials (dev, loopback only): access key 'test', secret 'test'")
        click.echo(
            f"  try: AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 "
            f"aws --endpoint-url {settings.endpoint} ecs list-clusters"
        )
        sys.stdout.flush()

    try:
        run(settings, ready)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {settings.endpoint}: {exc.strerror}. "
            "Is another portside running? Choose another --port."
        ) from None


cli.add_command(agent_command)
cli.add_command(status)
cli.add_command(explain)
cli.add_command(simulate_command)


def _redact(url: str) -> str:
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

"""Server settings: where to listen, where to keep state, whom to trust."""

from __future__ import annotations

import configparser
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from portside.store.store import sqlite_url

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4600
DEFAULT_DNS_PORT = 4653
DEFAULT_ACCOUNT = "000000000000"
DEFAULT_DATA_DIR = Path(os.environ.get("PORTSIDE_DATA_DIR", "~/.local/share/portside")).expanduser()
DEV_CREDENTIALS = {"test": "test"}


class ConfigError(ValueError):
    """The settings cannot start a server; the message says how to fix them."""


@dataclass
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = DEFAULT_DATA_DIR
    account_id: str = DEFAULT_ACCOUNT
    credentials: dict[str, str] = field(default_factory=dict)
    database_url: str | None = None
    max_body_bytes: int = 1 << 20
    dns_host: str = DEFAULT_HOST
    dns_port: int | None = DEFAULT_DNS_PORT  # None: no DNS server; 0: any free port
    dns_upstreams: tuple[str, ...] = ()  # HOST[:PORT] resolvers for names outside the zones
    agent_heartbeat_timeout: float = field(  # s without a heartbeat: agentConnected false
        default_factory=lambda: float(os.environ.get("PORTSIDE_AGENT_HEARTBEAT_TIMEOUT", "30")))
    agent_credential_ttl: float = field(  # s a per-instance agent key pair stays valid
        default_factory=lambda: float(os.environ.get("PORTSIDE_AGENT_CREDENTIAL_TTL", "43200")))
    service_connect_cert_validity: float = field(  # s a Service Connect certificate is valid
        default_factory=lambda: float(  # (at most 7 days; rotated after 5/7 of it)
            os.environ.get("PORTSIDE_SERVICE_CONNECT_CERT_VALIDITY", "604800")))

    @property
    def store_url(self) -> str:
        return self.database_url or sqlite_url(self.data_dir)

    @property
    def endpoint(self) -> str:
        return self._url(self.host)

    @property
    def local_endpoint(self) -> str:
        """The URL a process on this machine reaches the server at: a wildcard address
        (``0.0.0.0``, ``::``) is where it listens, not where to connect."""
        return self._url("127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host)

    def _url(self, host: str) -> str:
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def agent_keys(self) -> tuple[str, str] | None:
        """The key pair local agents register with: the credentials file's first
        (None without one: the agents' default, the dev pair)."""
        return next(iter(self.credentials.items())) if self.credentials else None

    def accepted_keys(self) -> dict[str, str]:
        """The key pairs a request may be signed with.

        The dev pair (``test``/``test``) is accepted only when the server listens
        on loopback; anywhere else, configured credentials are required.
        """
        if self.credentials:
            return dict(self.credentials)
        if is_loopback(self.host):
            return dict(DEV_CREDENTIALS)
        raise ConfigError(
            f"portside refuses to listen on {self.host} with the dev credentials: "
            "pass --credentials FILE (an AWS credentials file with "
            "aws_access_key_id / aws_secret_access_key per profile)."
        )

    def validate(self) -> None:
        if not (self.account_id.isdigit() and len(self.account_id) == 12):
            raise ConfigError(f"--account-id must be 12 digits, got {self.account_id!r}")
        self.accepted_keys()
        for upstream in self.dns_upstreams:
            check_upstream(upstream)


def check_upstream(text: str) -> None:
    """Refuse a ``--dns-upstream`` that is not HOST, HOST:PORT or [V6]:PORT."""
    from portside.dns.forward import Upstream

    try:
        Upstream.parse(text)
    except ValueError as exc:
        raise ConfigError(f"--dns-upstream {text!r}: {exc}") from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_credentials(path: str | os.PathLike[str]) -> dict[str, str]:
    """Key pairs from an AWS-style credentials file (every profile is accepted)."""
    parser = configparser.ConfigParser()
    try:
        with open(path) as f:
            parser.read_file(f)
    except OSError as exc:
        raise ConfigError(f"cannot read credentials file {path}: {exc.strerror}") from None
    except configparser.Error as exc:
        raise ConfigError(f"credentials file {path} is not an INI file: {exc}") from None
    keys: dict[str, str] = {}
    for name in parser.sections():
        section = parser[name]
        key, secret = section.get("aws_access_key_id"), section.get("aws_secret_access_key")
        if not key or not secret:
            raise ConfigError(
                f"profile [{name}] in {path} needs aws_access_key_id and aws_secret_access_key"
            )
        keys[key] = secret
    if not keys:
        raise ConfigError(f"credentials file {path} holds no profiles")
    return keys

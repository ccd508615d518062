"""Per-instance agent credentials: the key pair an agent signs its calls with.

The control plane issues each container instance its own key pair when the
instance's agent opens a session, persists it (so it survives a restart of the
control plane), and rotates it before it expires: a new pair is issued once
less than a third of the lifetime is left, and the previous pair stays valid
until its own expiration, so calls signed just before the rotation still pass.

A request signed with an agent key acts for that instance only: it may report
state for the tasks placed on it and open that instance's session.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from portside.store.store import Store

KEY_PREFIX = "ASIA"  # AWS's prefix for temporary access keys
_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True, slots=True)
class AgentCredential:
    KIND: ClassVar[str] = "agent_credential"

    access_key_id: str
    secret_access_key: str
    container_instance_arn: str
    issued_at: datetime
    expiration: datetime

    @property
    def key(self) -> str:
        return self.access_key_id

    @property
    def parent(self) -> str | None:
        return self.container_instance_arn

    def valid(self, now: datetime) -> bool:
        return now < self.expiration


def new_credential(instance_arn: str, now: datetime, lifetime: timedelta) -> AgentCredential:
    """A fresh random key pair for one instance, valid for ``lifetime``."""
    return AgentCredential(
        access_key_id=KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(16)),
        secret_access_key=secrets.token_urlsafe(30),
        container_instance_arn=instance_arn,
        issued_at=now,
        expiration=now + lifetime,
    )


def credentials_of(store: Store, instance_arn: str) -> list[AgentCredential]:
    """An instance's key pairs, the one that expires last first."""
    found = store.children(AgentCredential.KIND, instance_arn).values()
    return sorted(found, key=lambda c: c.expiration, reverse=True)


def current(store: Store, instance_arn: str, now: datetime) -> AgentCredential | None:
    """The newest pair of an instance that is still valid, if any."""
    for cred in credentials_of(store, instance_arn):
        if cred.valid(now):
            return cred
    return None


def needs_rotation(cred: AgentCredential | None, now: datetime, lifetime: timedelta) -> bool:
    """Issue a new pair when there is none or less than a third of the lifetime is left."""
    return cred is None or cred.expiration - now < lifetime / 3


def owner(store: Store, access_key: str) -> str | None:
    """The container instance ARN an agent key belongs to, or None for any other key."""
    cred = store.get(AgentCredential.KIND, access_key)
    return cred.container_instance_arn if isinstance(cred, AgentCredential) else None


def expired(creds: Iterable[AgentCredential], now: datetime) -> list[AgentCredential]:
    return [c for c in creds if not c.valid(now)]

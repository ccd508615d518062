"""The certificate authority of Service Connect TLS, as it is persisted.

One per control plane, created the first time a task needs a certificate and
kept in the store (key and certificate as PEM), so a restarted control plane —
or another one on the same PostgreSQL database — keeps signing with the same
authority and every proxy keeps trusting it. It stands in for the AWS Private
CA a service's ``tls.issuerCertificateAuthority.awsPcaAuthorityArn`` names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

AUTHORITY_KEY = "service-connect"


@dataclass(frozen=True, slots=True)
class ServiceConnectAuthority:
    KIND: ClassVar[str] = "service_connect_authority"

    name: str
    cert_pem: str
    key_pem: str
    created_at: datetime

    @property
    def key(self) -> str:
        return self.name

    @property
    def parent(self) -> str | None:
        return None

"""Service Connect TLS on the control plane: the authority, and a certificate per task.

ECS signs Service Connect certificates with the AWS Private CA a service's
``tls.issuerCertificateAuthority`` names; portside signs them with its own
authority (:class:`~portside.proxy.tls.CertificateAuthority`), created on first
use and persisted in the store (domain/ecs/service_connect_authority.py), so a
restart keeps it and every proxy keeps trusting it.

Each task whose ``serviceConnect`` section has a ``tls`` entry (it serves a
TLS port, or calls one) gets its own certificate: the task's service as the
subject, its TLS discovery names as subject alternative names (the name a
caller's proxy checks), valid 7 days (shorter with the server setting
``PORTSIDE_SERVICE_CONNECT_CERT_VALIDITY``, seconds), good for server and client auth. The
session attaches the certificate, its key and the authority's certificate to
the section just before a manifest goes out (:meth:`Certificates.attach`), and
keeps them in memory so the same manifest compares equal and is not re-sent.
A certificate 5/7 through its lifetime (5 days) is due:
:meth:`Certificates.due` names the instances to wake, and the next manifest
carries a new one; the agent rewrites the task's PEM files and its proxy loads
them for new handshakes without dropping a connection (proxy/tls.py).
A restarted control plane issues new certificates on the first manifest.

The private key travels in the manifest, over the same authenticated session
that already carries the instance's secret access key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from portside.domain.ecs.service_connect_authority import (
    AUTHORITY_KEY,
    ServiceConnectAuthority,
)
from portside.proxy.tls import MAX_VALIDITY, CertificateAuthority, Issued, rotation_due_at
from portside.store.store import Store

CA_NAME = "portside Service Connect CA"


@dataclass(frozen=True, slots=True)
class _Entry:
    want: tuple[str, tuple[str, ...]]
    issued: Issued
    instance_arn: str


class Certificates:
    """The authority and the certificate each task's proxy currently holds."""

    def __init__(self, store: Store, validity: timedelta = MAX_VALIDITY) -> None:
        self.store = store
        self.validity = min(validity, MAX_VALIDITY) if validity.total_seconds() > 0 else MAX_VALIDITY
        self._ca: CertificateAuthority | None = None
        self._issued: dict[str, _Entry] = {}

    def authority(self, now: datetime) -> CertificateAuthority:
        if self._ca is None:
            found = self.store.get(ServiceConnectAuthority.KIND, AUTHORITY_KEY)
            if isinstance(found, ServiceConnectAuthority):
                self._ca = CertificateAuthority.load(found.cert_pem.encode(),
                                                     found.key_pem.encode())
            else:
                ca = CertificateAuthority.create(CA_NAME, now)
                self.store.commit([ServiceConnectAuthority(
                    AUTHORITY_KEY, ca.cert_pem.decode(), ca.key_pem.decode(), now)])
                self._ca = ca
        return self._ca

    def attach(self, instance_arn: str, tasks: list[dict[str, Any]], now: datetime) -> None:
        """Fill in the PEMs of every ``serviceConnect.tls`` entry of an instance's manifest."""
        seen: set[str] = set()
        for task in tasks:
            section = task.get("serviceConnect")
            tls = section.get("tls") if isinstance(section, dict) else None
            if not isinstance(tls, dict) or section is None:
                continue
            arn = str(task["taskArn"])
            seen.add(arn)
            want = (str(tls["identity"]), tuple(str(n) for n in tls.get("names") or ()))
            entry = self._issued.get(arn)
            if entry is None or entry.want != want or rotation_due_at(entry.issued, now):
                ca = self.authority(now)
                issued = ca.issue(want[0], now, names=want[1], validity=self.validity)
                entry = self._issued[arn] = _Entry(want, issued, instance_arn)
            section["tls"] = {
                **tls,
                "certificateAuthority": self.authority(now).cert_pem.decode(),
                "certificate": entry.issued.cert_pem.decode(),
                "privateKey": entry.issued.key_pem.decode(),
                "notAfter": int(entry.issued.not_after.timestamp()),
            }
        for arn, entry in list(self._issued.items()):
            if entry.instance_arn == instance_arn and arn not in seen:
                del self._issued[arn]  # the task left the instance's manifest

    def due(self, now: datetime) -> set[str]:
        """The instances holding a certificate that is due for rotation."""
        return {e.instance_arn for e in self._issued.values() if rotation_due_at(e.issued, now)}

"""mTLS between proxies: a portside certificate authority and contexts that follow rotation.

:class:`CertificateAuthority` (EC P-256, the ``cryptography`` library) issues
short-lived certificates for a service name: valid :data:`MAX_VALIDITY` (7 days)
at most, due for rotation after 5/7 of its lifetime (:data:`ROTATE_AFTER`, 5 days,
for a full-length one), so a certificate is replaced two days before it expires. Each carries the service's DNS name
as its subject alternative name and is good for both TLS server and client auth.

:class:`TlsContexts` builds one ``ssl.SSLContext`` per :class:`TlsConfig` (server
side for inbound listeners, client side for upstreams) and, when the PEM files
change, loads the new chain into the same context: handshakes from then on use
the new certificate, established connections keep theirs (OpenSSL copies the
certificate into each connection), so rotation drops nothing. A new CA file is
added to the trust store (the old CA stays trusted until the proxy restarts,
which is what a CA roll-over needs). Both sides require a certificate signed by
the configured CA; the client also checks the server's name.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from portside.proxy.config import TlsConfig

MAX_VALIDITY = dt.timedelta(days=7)
ROTATE_AFTER = dt.timedelta(days=5)
CA_VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class Issued:
    cert_pem: bytes
    key_pem: bytes
    not_before: dt.datetime
    not_after: dt.datetime
    serial: int

    def write(self, cert_file: str, key_file: str) -> None:
        """Write key then certificate, each atomically, so a reader never sees half a file."""
        write_atomic(key_file, self.key_pem, 0o600)
        write_atomic(cert_file, self.cert_pem, 0o644)


class CertificateAuthority:
    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.cert = cert
        self._key = key

    @classmethod
    def create(
        cls, name: str, now: dt.datetime, validity: dt.timedelta = CA_VALIDITY
    ) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        return cls(cert, key)

    @classmethod
    def load(cls, cert_pem: bytes, key_pem: bytes) -> CertificateAuthority:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the CA key must be an EC key")
        return cls(x509.load_pem_x509_certificate(cert_pem), key)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def issue(
        self,
        service: str,
        now: dt.datetime,
        *,
        validity: dt.timedelta = MAX_VALIDITY,
        names: tuple[str, ...] = (),
    ) -> Issued:
        """A certificate for ``service`` (and ``names``), valid from ``now`` for ``validity``."""
        if validity > MAX_VALIDITY or validity <= dt.timedelta(0):
            raise ValueError(f"validity must be positive and at most {MAX_VALIDITY}")
        key = ec.generate_private_key(ec.SECP256R1())
        not_after = min(now + validity, self.cert.not_valid_after_utc)
        serial = x509.random_serial_number()
        sans = [x509.DNSName(n) for n in dict.fromkeys((service, *names))]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, service)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return Issued(
            cert.public_bytes(serialization.Encoding.PEM), key_pem, now, not_after, serial
        )


def rotation_due(cert_pem: bytes, now: dt.datetime) -> bool:
    """True once :data:`ROTATE_AFTER` of :data:`MAX_VALIDITY` (5/7) of its lifetime passed."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    return _due(cert.not_valid_before_utc, cert.not_valid_after_utc, now)


def rotation_due_at(issued: Issued, now: dt.datetime) -> bool:
    """:func:`rotation_due` for a certificate this process issued (no parsing)."""
    return _due(issued.not_before, issued.not_after, now)


def _due(start: dt.datetime, end: dt.datetime, now: dt.datetime) -> bool:
    """Due after 5/7 of the lifetime: 5 days into a 7-day certificate, two days early."""
    return now >= start + (end - start) * (ROTATE_AFTER / MAX_VALIDITY)


def server_context(config: TlsConfig) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    _load(ctx, config)
    return ctx


def client_context(config: TlsConfig) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname by default
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    _load(ctx, config)
    return ctx


def _load(ctx: ssl.SSLContext, config: TlsConfig) -> None:
    ctx.load_verify_locations(cafile=config.ca_file)
    ctx.load_cert_chain(config.cert_file, config.key_file)


def _reload(ctx: ssl.SSLContext, config: TlsConfig) -> None:
    """Load a consistent snapshot of the files, checked on a scratch context first.

    Loading a certificate whose key does not match leaves an OpenSSL context with no
    key at all, so the pair is copied, verified, and only then loaded into ``ctx``.
    """
    with tempfile.TemporaryDirectory(prefix="portside-tls-") as tmp:
        copies = []
        for name, path in (
            ("ca", config.ca_file),
            ("cert", config.cert_file),
            ("key", config.key_file),
        ):
            copy = os.path.join(tmp, name)
            shutil.copyfile(path, copy)
            copies.append(copy)
        snapshot = TlsConfig(*copies)
        _load(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), snapshot)
        _load(ctx, snapshot)


class TlsContexts:
    """One context per (config, side), reloaded in place when its files change."""

    def __init__(self) -> None:
        self._contexts: dict[tuple[TlsConfig, bool], tuple[ssl.SSLContext, tuple[object, ...]]] = {}

    def server(self, config: TlsConfig) -> ssl.SSLContext:
        return self._get(config, True)

    def client(self, config: TlsConfig) -> ssl.SSLContext:
        return self._get(config, False)

    def _get(self, config: TlsConfig, server: bool) -> ssl.SSLContext:
        entry = self._contexts.get((config, server))
        if entry is None:
            ctx = server_context(config) if server else client_context(config)
            entry = self._contexts[(config, server)] = (ctx, _stamp(config))
        return entry[0]

    def refresh(self) -> int:
        """Reload contexts whose files changed; returns how many were reloaded."""
        reloaded = 0
        for (config, server), (ctx, stamp) in list(self._contexts.items()):
            now = _stamp(config)
            if now != stamp:
                try:
                    _reload(ctx, config)
                except (OSError, ssl.SSLError):
                    continue  # mid-rotation (key and cert disagree): try again next time
                self._contexts[(config, server)] = (ctx, now)
                reloaded += 1
        return reloaded

    def retain(self, configs: set[TlsConfig]) -> None:
        for key in list(self._contexts):
            if key[0] not in configs:
                del self._contexts[key]


def _stamp(config: TlsConfig) -> tuple[object, ...]:
    out: list[object] = []
    for path in (config.ca_file, config.cert_file, config.key_file):
        try:
            st = os.stat(path)
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            out.append(None)
    return tuple(out)


def write_atomic(path: str, data: bytes, mode: int) -> None:
    """Replace ``path`` with ``data`` (mode ``mode``) so no reader sees half a file."""
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)

"""Service Connect TLS on the control plane: a persisted authority, a certificate per task,
rotation after 5 days; and the ``portside:`` policy tags."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from portside.domain.ecs.service_connect_policy import check_policy_tags, policies
from portside.domain.ecs.tags import Tag, parse_tags
from portside.domain.errors import InvalidParameterException
from portside.domain.kinds import KINDS
from portside.runtime.service_connect_tls import Certificates
from portside.store.store import Store, sqlite_url

NOW = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)
TASK = "arn:aws:ecs:us-east-1:000000000000:task/default/aaaa"
OTHER = "arn:aws:ecs:us-east-1:000000000000:task/default/bbbb"
INSTANCE = "arn:aws:ecs:us-east-1:000000000000:container-instance/default/i1"


def _manifest(*tasks: tuple[str, str, list[str]]) -> list[dict[str, Any]]:
    return [{"taskArn": arn, "serviceConnect": {"namespace": "ns", "tls": {
        "identity": identity, "names": names}}} for arn, identity, names in tasks]


def _tls(tasks: list[dict[str, Any]], arn: str) -> dict[str, Any]:
    tls: dict[str, Any] = next(t for t in tasks if t["taskArn"] == arn)["serviceConnect"]["tls"]
    return tls


def test_each_task_gets_a_short_lived_certificate_from_a_persisted_authority(
    tmp_path: Path,
) -> None:
    store = Store(sqlite_url(tmp_path), KINDS)
    certs = Certificates(store)
    tasks = _manifest((TASK, "api", ["api"]), (OTHER, "client", []))
    certs.attach(INSTANCE, tasks, NOW)
    api = _tls(tasks, TASK)
    ca = x509.load_pem_x509_certificate(api["certificateAuthority"].encode())
    cert = x509.load_pem_x509_certificate(api["certificate"].encode())
    cert.verify_directly_issued_by(ca)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= dt.timedelta(days=7)
    assert api["notAfter"] == int(cert.not_valid_after_utc.timestamp())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["api"]  # the name callers check
    assert "PRIVATE KEY" in api["privateKey"]
    assert _tls(tasks, OTHER)["certificate"] != api["certificate"]  # one per task

    # The same manifest again is the same document: nothing is re-sent.
    again = _manifest((TASK, "api", ["api"]), (OTHER, "client", []))
    certs.attach(INSTANCE, again, NOW + dt.timedelta(days=4))
    assert again == tasks
    assert certs.due(NOW + dt.timedelta(days=4, hours=23)) == set()

    # After 5 days the certificate is due; the next manifest carries a new one.
    later = NOW + dt.timedelta(days=5)
    assert certs.due(later) == {INSTANCE}
    rotated = _manifest((TASK, "api", ["api"]))
    certs.attach(INSTANCE, rotated, later)
    new = x509.load_pem_x509_certificate(_tls(rotated, TASK)["certificate"].encode())
    assert new.serial_number != cert.serial_number
    assert new.not_valid_before_utc == later
    new.verify_directly_issued_by(ca)
    assert certs.due(later) == set()  # OTHER left the manifest: forgotten

    # A restarted control plane (a new store on the same database) keeps the authority.
    store.close()
    reopened = Certificates(Store(sqlite_url(tmp_path), KINDS))
    after_restart = _manifest((TASK, "api", ["api"]))
    reopened.attach(INSTANCE, after_restart, later)
    assert _tls(after_restart, TASK)["certificateAuthority"] == api["certificateAuthority"]


def test_policy_tags_are_checked_and_become_upstream_settings() -> None:
    tags = parse_tags([
        {"key": "portside:outlier.consecutive5xx", "value": "3"},
        {"key": "portside:outlier.baseEjectionSeconds", "value": "2.5"},
        {"key": "portside:outlier.enabled", "value": "true"},
        {"key": "portside:retry.maxRetries", "value": "0"},
        {"key": "portside:loadBalancing", "value": "least_request"},
        {"key": "portside:owner", "value": "anything"},  # not a policy: left alone
        {"key": "team", "value": "a"},
    ])
    assert policies(tags) == {
        "outlier": {"consecutive5xx": 3, "baseEjectionSeconds": 2.5, "enabled": True},
        "retry": {"maxRetries": 0},
        "loadBalancing": "least_request",
    }
    for key, value, message in [
        ("portside:outlier.consecutive5xx", "five", "expected an integer"),
        ("portside:outlier.consecutive5xx", "0", "between 1 and 1000"),
        ("portside:retry.maxRetries", "11", "between 0 and 10"),
        ("portside:outlier.enabled", "yes", "true or false"),
        ("portside:retry.backoff", "1", "Unknown Service Connect policy tag"),
        ("portside:outlier.typo", "1", r"known: .*portside:outlier\.enabled"),
        ("portside:loadBalancing", "random", "round_robin, least_request"),
    ]:
        with pytest.raises(InvalidParameterException, match=message):
            check_policy_tags([Tag(key, value)])

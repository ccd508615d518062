"""Instance attributes: what RegisterInstance accepts, and what a service's records require.

Reserved attributes (``AWS_…``) carry what DNS answers need; any other key is a
custom attribute, at most 30 of them, and all keys and values together at most
5,000 characters. The service decides which reserved attributes are required:

    A record            AWS_INSTANCE_IPV4          (unless AWS_ALIAS_DNS_NAME)
    AAAA record         AWS_INSTANCE_IPV6          (unless AWS_ALIAS_DNS_NAME)
    SRV record          AWS_INSTANCE_PORT and AWS_INSTANCE_IPV4 or AWS_INSTANCE_IPV6
    CNAME record        AWS_INSTANCE_CNAME
    HealthCheckConfig   AWS_INSTANCE_PORT
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from portside.domain.servicediscovery.errors import InvalidInput
from portside.domain.servicediscovery.model import (
    AAAA,
    CNAME,
    HEALTHY,
    SRV,
    UNHEALTHY,
    WEIGHTED,
    A,
)
from portside.domain.servicediscovery.namespace import Namespace
from portside.domain.servicediscovery.service import Service

ALIAS_DNS_NAME = "AWS_ALIAS_DNS_NAME"
EC2_INSTANCE_ID = "AWS_EC2_INSTANCE_ID"
INIT_HEALTH_STATUS = "AWS_INIT_HEALTH_STATUS"
INSTANCE_CNAME = "AWS_INSTANCE_CNAME"
INSTANCE_IPV4 = "AWS_INSTANCE_IPV4"
INSTANCE_IPV6 = "AWS_INSTANCE_IPV6"
INSTANCE_PORT = "AWS_INSTANCE_PORT"
RESERVED = frozenset(
    {ALIAS_DNS_NAME, EC2_INSTANCE_ID, INIT_HEALTH_STATUS, INSTANCE_CNAME, INSTANCE_IPV4,
     INSTANCE_IPV6, INSTANCE_PORT}
)
MAX_CUSTOM = 30
MAX_TOTAL_CHARS = 5000

_KEY = re.compile(r"^[!-~]{1,255}$")
_VALUE = re.compile(r"^([!-~][ \t!-~]*)?[!-~]?$")
_INSTANCE_ID = re.compile(r"^[0-9a-zA-Z_/:.@-]{1,64}$")
_HOSTNAME = re.compile(r"^(?=.{1,255}$)[A-Za-z0-9_*]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_-]{1,63})*\.?$")


def check_instance_id(instance_id: str) -> None:
    if not _INSTANCE_ID.match(instance_id):
        raise InvalidInput(
            f"{instance_id!r} is not a valid instance ID: up to 64 letters, digits and _/:.@-"
        )


def _check_values(attrs: Mapping[str, str]) -> None:
    for key, value in attrs.items():
        if not _KEY.match(key) or not _VALUE.match(value) or len(value) > 1024:
            raise InvalidInput(f"The attribute {key!r} has an invalid key or value.")
    if sum(len(k) + len(v) for k, v in attrs.items()) > MAX_TOTAL_CHARS:
        raise InvalidInput(
            f"The attributes of an instance total at most {MAX_TOTAL_CHARS} characters."
        )
    custom = [k for k in attrs if k not in RESERVED]
    if len(custom) > MAX_CUSTOM:
        raise InvalidInput(f"An instance can have at most {MAX_CUSTOM} custom attributes.")
    if INSTANCE_IPV4 in attrs:
        try:
            ipaddress.IPv4Address(attrs[INSTANCE_IPV4])
        except ValueError:
            raise InvalidInput(f"{INSTANCE_IPV4} must be an IPv4 address.") from None
    if INSTANCE_IPV6 in attrs:
        try:
            ipaddress.IPv6Address(attrs[INSTANCE_IPV6])
        except ValueError:
            raise InvalidInput(f"{INSTANCE_IPV6} must be an IPv6 address.") from None
    if INSTANCE_PORT in attrs:
        port = attrs[INSTANCE_PORT]
        if not port.isdigit() or not 0 <= int(port) <= 65535:
            raise InvalidInput(f"{INSTANCE_PORT} must be a port number, 0 to 65535.")
    if INIT_HEALTH_STATUS in attrs and attrs[INIT_HEALTH_STATUS] not in (HEALTHY, UNHEALTHY):
        raise InvalidInput(f"{INIT_HEALTH_STATUS} takes HEALTHY or UNHEALTHY.")
    for name in (INSTANCE_CNAME, ALIAS_DNS_NAME):
        if name in attrs and not _HOSTNAME.match(attrs[name]):
            raise InvalidInput(f"{name} must be a domain name.")


def _require(attrs: Mapping[str, str], key: str, why: str) -> None:
    if key not in attrs:
        raise InvalidInput(f"{key} is required: {why}.")


def check_attributes(attrs: Mapping[str, str], service: Service, namespace: Namespace) -> None:
    """InvalidInput unless ``attrs`` are well formed and give what ``service`` needs."""
    _check_values(attrs)
    dns = service.dns_config
    alias = ALIAS_DNS_NAME in attrs
    if alias:
        if dns is None or not (dns.has(A) or dns.has(AAAA)) or dns.routing_policy != WEIGHTED:
            raise InvalidInput(
                f"{ALIAS_DNS_NAME} needs a service with an A or AAAA record and WEIGHTED routing."
            )
        if any(k.startswith("AWS_INSTANCE_") for k in attrs):
            raise InvalidInput(f"{ALIAS_DNS_NAME} cannot be combined with AWS_INSTANCE_ attributes.")
    if EC2_INSTANCE_ID in attrs:
        if namespace.is_dns:
            raise InvalidInput(f"{EC2_INSTANCE_ID} is for instances in HTTP namespaces only.")
        if set(attrs) & RESERVED - {EC2_INSTANCE_ID, INIT_HEALTH_STATUS}:
            raise InvalidInput(
                f"With {EC2_INSTANCE_ID}, the only other reserved attribute allowed is "
                f"{INIT_HEALTH_STATUS}."
            )
    if dns is not None and not alias:
        if dns.has(A):
            _require(attrs, INSTANCE_IPV4, "the service has an A record")
        if dns.has(AAAA):
            _require(attrs, INSTANCE_IPV6, "the service has an AAAA record")
        if dns.has(SRV):
            _require(attrs, INSTANCE_PORT, "the service has an SRV record")
            if INSTANCE_IPV4 not in attrs and INSTANCE_IPV6 not in attrs:
                raise InvalidInput(
                    f"{INSTANCE_IPV4} or {INSTANCE_IPV6} is required: the service has an SRV record."
                )
        if dns.has(CNAME):
            _require(attrs, INSTANCE_CNAME, "the service has a CNAME record")
    if service.health_check_config is not None and not alias:
        _require(attrs, INSTANCE_PORT, "the service has a Route 53 health check")

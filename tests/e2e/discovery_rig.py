"""What the Cloud Map end-to-end tests share: a private DNS zone with one SRV service."""

from __future__ import annotations

from typing import Any

from tests.helpers import unique


def srv_registry(sd: Any, ttl: int) -> tuple[str, dict[str, Any]]:
    """A new private DNS namespace and its service ``web`` (SRV records, ECS-driven health):
    the zone's name and the service, whose ``Arn`` goes in an ECS serviceRegistries entry."""
    zone = f"{unique('z')}.local"
    op = sd.create_private_dns_namespace(Name=zone, Vpc="vpc-1")["OperationId"]
    ns_id = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    reg = sd.create_service(Name="web", NamespaceId=ns_id, HealthCheckCustomConfig={},
                            DnsConfig={"DnsRecords": [{"Type": "SRV", "TTL": ttl}]})["Service"]
    return zone, reg

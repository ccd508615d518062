"""Cloud Map errors carry the extra members their shapes name, in both protocols.

botocore's model gives NamespaceAlreadyExists a NamespaceId and
CreatorRequestId, DuplicateRequest a DuplicateOperationId,
ServiceAlreadyExists a ServiceId, ServiceArn and CreatorRequestId, and
TooManyTagsException a ResourceName; a client finds them beside ``Error`` in
the parsed response.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.contract.test_servicediscovery_wire import Sandbox, wait_operation
from tests.helpers import unique


def _raised(call: Any, **kw: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as err:
        call(**kw)
    return dict(err.value.response)


def test_namespace_already_exists_names_the_namespace_and_its_token(
    sd: Any, box: Sandbox
) -> None:
    name, token = unique("ns"), unique("req")
    ns_id = box.namespace("http", name=name, CreatorRequestId=token)
    got = _raised(sd.create_http_namespace, Name=name, CreatorRequestId=unique("other"))
    assert got["Error"]["Code"] == "NamespaceAlreadyExists"
    assert got["NamespaceId"] == ns_id
    assert got["CreatorRequestId"] == token


def test_duplicate_request_names_the_operation_that_used_the_token(
    sd: Any, box: Sandbox
) -> None:
    token = unique("req")
    op_id = sd.create_http_namespace(Name=unique("ns"), CreatorRequestId=token)["OperationId"]
    box.namespaces.append(wait_operation(sd, op_id)["Targets"]["NAMESPACE"])
    got = _raised(sd.create_http_namespace, Name=unique("ns"), CreatorRequestId=token)
    assert got["Error"]["Code"] == "DuplicateRequest"
    assert got["DuplicateOperationId"] == op_id


def test_service_already_exists_names_the_service(sd: Any, box: Sandbox) -> None:
    ns_id = box.namespace("http")
    token = unique("req")
    svc = box.service(ns_id, name="api", CreatorRequestId=token)
    got = _raised(sd.create_service, Name="api", NamespaceId=ns_id,
                  CreatorRequestId=unique("other"))
    assert got["Error"]["Code"] == "ServiceAlreadyExists"
    assert got["ServiceId"] == svc["Id"]
    assert got["ServiceArn"] == svc["Arn"]
    assert got["CreatorRequestId"] == token


def test_too_many_tags_names_the_resource(sd: Any, box: Sandbox) -> None:
    arn = sd.get_namespace(Id=box.namespace("http"))["Namespace"]["Arn"]
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    got = _raised(sd.tag_resource, ResourceARN=arn, Tags=tags)
    assert got["Error"]["Code"] == "TooManyTagsException"
    assert got["ResourceName"] == arn

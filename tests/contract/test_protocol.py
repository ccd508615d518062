"""The front door: signatures, envelopes, malformed input."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.helpers import Server, client

TARGET = "AmazonEC2ContainerServiceV20141113"


def _signed(server: Server, op: str, body: bytes, secret: str = "test") -> urllib.request.Request:
    req = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=body,
        headers={"X-Amz-Target": f"{TARGET}.{op}", "Content-Type": "application/x-amz-json-1.1"},
    )
    SigV4Auth(Credentials("test", secret), "ecs", "us-east-1").add_auth(req)
    return urllib.request.Request(
        req.url, data=body, headers=dict(req.headers.items()), method="POST"
    )


def _send(req: urllib.request.Request) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_wrong_secret_is_403_invalid_signature(server: Server) -> None:
    bad = client(server.endpoint, secret="wrong")
    with pytest.raises(ClientError) as err:
        bad.list_clusters()
    assert err.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_key_is_403_unrecognized_client(server: Server) -> None:
    bad = client(server.endpoint, key="AKIDUNKNOWN")
    with pytest.raises(ClientError) as err:
        bad.list_clusters()
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unsigned_request_is_refused(server: Server) -> None:
    req = urllib.request.Request(
        server.endpoint + "/",
        data=b"{}",
        headers={"X-Amz-Target": f"{TARGET}.ListClusters"},
        method="POST",
    )
    status, body = _send(req)
    assert status == 403
    assert body["__type"] == "MissingAuthenticationTokenException"


def test_presigned_url_is_accepted(server: Server) -> None:
    req = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        headers={"X-Amz-Target": f"{TARGET}.ListClusters"},
    )
    SigV4QueryAuth(Credentials("test", "test"), "ecs", "us-east-1", expires=60).add_auth(req)
    status, body = _send(
        urllib.request.Request(req.url, data=b"", headers=dict(req.headers.items()), method="POST")
    )
    assert status == 200, body
    assert "clusterArns" in body


def test_tampered_presigned_url_is_refused(server: Server) -> None:
    req = AWSRequest(
        method="POST", url=server.endpoint + "/", headers={"X-Amz-Target": f"{TARGET}.ListClusters"}
    )
    SigV4QueryAuth(Credentials("test", "test"), "ecs", "us-east-1", expires=60).add_auth(req)
    url = req.url.replace("X-Amz-Expires=60", "X-Amz-Expires=6000")
    status, body = _send(
        urllib.request.Request(url, data=b"", headers=dict(req.headers.items()), method="POST")
    )
    assert status == 403
    assert body["__type"] == "InvalidSignatureException"


def test_malformed_json_is_400_and_server_keeps_serving(server: Server, ecs: Any) -> None:
    status, body = _send(_signed(server, "CreateCluster", b'{"clusterName": '))
    assert status == 400
    assert body["__type"] == "SerializationException"
    assert ecs.list_clusters()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_wrong_type_is_400(server: Server) -> None:
    status, body = _send(_signed(server, "CreateCluster", b'{"clusterName": 5}'))
    assert status == 400
    assert body["__type"] == "SerializationException"
    assert "clusterName" in body["message"]


def test_unknown_field_is_400(server: Server) -> None:
    status, body = _send(_signed(server, "ListClusters", b'{"bogus": 1}'))
    assert status == 400
    assert body["__type"] == "InvalidParameterException"
    assert "bogus" in body["message"]


def test_missing_required_is_400(server: Server) -> None:
    status, body = _send(_signed(server, "DeleteCluster", b"{}"))
    assert status == 400
    assert body["__type"] == "InvalidParameterException"
    assert "cluster" in body["message"]


def test_body_that_is_not_an_object_is_400(server: Server) -> None:
    status, body = _send(_signed(server, "ListClusters", b"[1, 2]"))
    assert status == 400
    assert body["__type"] == "SerializationException"


def test_unknown_operation_is_aws_shaped(server: Server) -> None:
    status, body = _send(_signed(server, "LaunchRockets", b"{}"))
    assert status == 400
    assert body["__type"] == "UnknownOperationException"


def test_unknown_service_target(server: Server) -> None:
    req = _signed(server, "ListClusters", b"{}")
    req.add_header("X-Amz-Target", "DynamoDB_20120810.ListTables")
    status, body = _send(req)
    assert status == 400
    assert body["__type"] == "UnknownServiceException"


def test_oversized_body_is_413(server: Server, ecs: Any) -> None:
    big = json.dumps({"clusterName": "x" * (2 << 20)}).encode()
    status, body = _send(_signed(server, "CreateCluster", big))
    assert status == 413
    assert body["__type"] == "RequestEntityTooLargeException"
    assert ecs.list_clusters()["ResponseMetadata"]["HTTPStatusCode"] == 200

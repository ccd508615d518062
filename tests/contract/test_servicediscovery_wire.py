"""Cloud Map over both wire protocols, and the helpers the other Cloud Map tests share.

botocore's servicediscovery model lists both smithy-rpc-v2-cbor and awsJson1.1;
which one a client sends depends on the SDK (botocore itself prefers json).
``sd_client(server, protocol)`` builds a boto3 client whose model is pinned to
one protocol, and checks every request it sends really uses that protocol on
the wire (path and headers for CBOR, X-Amz-Target for JSON, and the body).

DiscoverInstances carries the endpoint host prefix ``data-``; against a local
endpoint the client must not inject it (``inject_host_prefix=False``, or
``AWS_DISABLE_HOST_PREFIX_INJECTION=true`` for the AWS CLI).
"""

from __future__ import annotations

import contextlib
import copy
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import cbor2
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers import REGION, Server, unique

CBOR = "smithy-rpc-v2-cbor"
JSON = "json"
PROTOCOLS = (CBOR, JSON)
TARGET = "Route53AutoNaming_v20170314"

_clients: dict[tuple[str, str, str], Any] = {}


def _check_wire(protocol: str, request: Any) -> None:
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else v
               for k, v in request.headers.items()}
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    if protocol == CBOR:
        path = request.url.split("://", 1)[1].split("/", 1)[1]
        assert path.startswith(f"service/{TARGET}/operation/"), request.url
        assert headers.get("smithy-protocol") == "rpc-v2-cbor"
        assert "x-amz-target" not in headers
        if body:
            assert headers.get("content-type") == "application/cbor"
            assert isinstance(cbor2.loads(body), dict)
    else:
        assert headers.get("x-amz-target", "").startswith(f"{TARGET}."), headers
        assert headers.get("content-type") == "application/x-amz-json-1.1"
        assert isinstance(json.loads(body or b"{}"), dict)


def sd_client(server: Server, protocol: str, region: str = REGION) -> Any:
    """A boto3 servicediscovery client that speaks only ``protocol``."""
    key = (server.endpoint, protocol, region)
    if key in _clients:
        return _clients[key]
    session = botocore.session.Session()
    loader = session.get_component("data_loader")
    load = loader.load_service_model

    def pinned(service_name: str, type_name: str, api_version: str | None = None) -> Any:
        model = load(service_name, type_name, api_version)
        if service_name == "servicediscovery" and type_name == "service-2":
            model = copy.deepcopy(model)
            model["metadata"]["protocol"] = protocol
            model["metadata"]["protocols"] = [protocol]
        return model

    loader.load_service_model = pinned
    sd = boto3.Session(botocore_session=session).client(
        "servicediscovery",
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, inject_host_prefix=False),
    )
    assert sd.meta.service_model.protocol == protocol
    sd.meta.events.register("before-send", lambda request, **_: _check_wire(protocol, request))
    _clients[key] = sd
    return sd


def error_code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def wait_operation(sd: Any, operation_id: str) -> dict[str, Any]:
    """GetOperation until the operation is SUCCESS or FAIL, as a Cloud Map client does."""
    deadline = time.monotonic() + 10
    while True:
        op: dict[str, Any] = sd.get_operation(OperationId=operation_id)["Operation"]
        if op["Status"] in ("SUCCESS", "FAIL") or time.monotonic() > deadline:
            return op
        time.sleep(0.05)


class Sandbox:
    """Namespaces and services made for one test, removed again afterwards."""

    def __init__(self, sd: Any):
        self.sd = sd
        self.namespaces: list[str] = []

    def namespace(self, kind: str = "http", name: str | None = None, **kw: Any) -> str:
        name = name or unique("ns")
        if kind == "http":
            op = self.sd.create_http_namespace(Name=name, **kw)
        elif kind == "private":
            op = self.sd.create_private_dns_namespace(
                Name=f"{name}.internal", Vpc=kw.pop("Vpc", "vpc-0a1b2c3d"), **kw
            )
        else:
            op = self.sd.create_public_dns_namespace(Name=f"{name}.example.com", **kw)
        done = wait_operation(self.sd, op["OperationId"])
        assert done["Status"] == "SUCCESS", done
        ns_id = str(done["Targets"]["NAMESPACE"])
        self.namespaces.append(ns_id)
        return ns_id

    def service(self, namespace_id: str, name: str | None = None, **kw: Any) -> dict[str, Any]:
        out: dict[str, Any] = self.sd.create_service(
            Name=name or unique("svc"), NamespaceId=namespace_id, **kw
        )["Service"]
        return out

    def dns_service(
        self, records: tuple[str, ...] = ("A",), kind: str = "private", **kw: Any
    ) -> dict[str, Any]:
        ns = self.namespace(kind)
        config = {"DnsRecords": [{"Type": t, "TTL": 30} for t in records]}
        config.update(kw.pop("DnsConfig", {}))
        return self.service(ns, DnsConfig=config, **kw)

    def close(self) -> None:
        for ns in self.namespaces:
            services = self.sd.list_services(
                Filters=[{"Name": "NAMESPACE_ID", "Values": [ns], "Condition": "EQ"}]
            )["Services"]
            for svc in services:
                pages = self.sd.get_paginator("list_instances").paginate(ServiceId=svc["Id"])
                for inst in [i for page in pages for i in page["Instances"]]:
                    self.sd.deregister_instance(ServiceId=svc["Id"], InstanceId=inst["Id"])
                self.sd.delete_service(Id=svc["Id"])
            try:
                self.sd.delete_namespace(Id=ns)
            except ClientError as err:
                if err.response["Error"]["Code"] != "NamespaceNotFound":
                    raise


@contextlib.contextmanager
def sandbox(sd: Any) -> Iterator[Sandbox]:
    box = Sandbox(sd)
    try:
        yield box
    finally:
        box.close()


# -- the wire ----------------------------------------------------------------


def test_each_client_speaks_its_protocol(server: Server) -> None:
    seen: list[Any] = []
    for protocol in PROTOCOLS:
        sd = sd_client(server, protocol)
        handler = lambda request, **_: seen.append(request)  # noqa: E731
        sd.meta.events.register("before-send", handler)
        try:
            assert "Namespaces" in sd.list_namespaces()
        finally:
            sd.meta.events.unregister("before-send", handler)
    cbor_req, json_req = seen
    assert cbor_req.url.endswith(f"/service/{TARGET}/operation/ListNamespaces")
    assert json_req.headers["X-Amz-Target"] == f"{TARGET}.ListNamespaces".encode()


def test_responses_decode_in_both_protocols(server: Server) -> None:
    results = []
    for protocol in PROTOCOLS:
        sd = sd_client(server, protocol)
        with sandbox(sd) as box:
            ns = box.namespace("http", Description="wire")
            got = sd.get_namespace(Id=ns)["Namespace"]
            results.append(got)
            assert got["CreateDate"].tzinfo is not None
            assert got["ServiceCount"] == 0
            assert got["Properties"]["HttpProperties"]["HttpName"] == got["Name"]
    cbor_ns, json_ns = results
    assert abs((cbor_ns["CreateDate"] - json_ns["CreateDate"]).total_seconds()) < 60


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_errors_come_in_each_protocols_envelope(server: Server, protocol: str) -> None:
    sd = sd_client(server, protocol)
    with pytest.raises(ClientError) as err:
        sd.get_service(Id="srv-doesnotexist0000")
    assert error_code(err) == "ServiceNotFound"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "srv-doesnotexist0000" in err.value.response["Error"]["Message"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_model_violations_are_invalid_input(server: Server, protocol: str) -> None:
    sd = sd_client(server, protocol)
    with pytest.raises(ClientError) as err:
        sd.list_namespaces(MaxResults=101)
    assert error_code(err) == "InvalidInput"
    with pytest.raises(ClientError) as err:
        sd.list_namespaces(NextToken="not-a-token!")
    assert error_code(err) == "InvalidInput"


def test_stock_boto3_client_works(server: Server) -> None:
    """A client built the ordinary way (botocore picks the protocol) works too."""
    sd = server.client("servicediscovery")
    assert "Namespaces" in sd.list_namespaces()


def test_aws_cli(server: Server) -> None:
    """The AWS CLI (each command costs seconds, so boto3 does the bookkeeping)."""
    name = unique("cli")
    env = {**server.cli_env(), "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}
    aws = [str(Path(sys.executable).with_name("aws")), "--endpoint-url", server.endpoint,
           "--output", "json", "servicediscovery"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*aws, *args], capture_output=True, text=True, env=env,
                              timeout=60, check=False)

    made = run("create-http-namespace", "--name", name)
    assert made.returncode == 0, made.stderr
    sd = sd_client(server, JSON)
    ns = wait_operation(sd, json.loads(made.stdout)["OperationId"])["Targets"]["NAMESPACE"]
    box = Sandbox(sd)
    box.namespaces.append(ns)
    try:
        svc = box.service(ns, name="api")["Id"]
        reg = run("register-instance", "--service-id", svc, "--instance-id", "i-1",
                  "--attributes", "AWS_INSTANCE_IPV4=10.1.2.3,AWS_INSTANCE_PORT=8080")
        assert reg.returncode == 0, reg.stderr
        found = run("discover-instances", "--namespace-name", name, "--service-name", "api")
        assert found.returncode == 0, found.stderr
        (inst,) = json.loads(found.stdout)["Instances"]
        assert inst["InstanceId"] == "i-1"
        assert inst["Attributes"]["AWS_INSTANCE_PORT"] == "8080"
        missing = run("get-instance", "--service-id", svc, "--instance-id", "nope")
        assert missing.returncode != 0 and "InstanceNotFound" in missing.stderr
    finally:
        box.close()

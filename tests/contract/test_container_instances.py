"""Container instances and their attributes through boto3 and the AWS CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers import Server, unique

RESERVED = {"22", "2375", "2376", "51678", "51679"}


def identity(zone: str = "us-east-1a", kind: str = "m5.large", instance_id: str = "") -> str:
    return json.dumps(
        {
            "instanceId": instance_id or f"i-{unique('x')[-10:]}0000000",
            "availabilityZone": zone,
            "instanceType": kind,
            "imageId": "ami-0123456789abcdef0",
            "architecture": "x86_64",
            "region": "us-east-1",
        }
    )


def resources(cpu: int = 2048, memory: int = 7680, ports: tuple[str, ...] = ()) -> list[Any]:
    return [
        {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
        {"name": "PORTS", "type": "STRINGSET", "stringSetValue": list(ports)},
        {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
    ]


def register(ecs: Any, cluster: str, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "cluster": cluster,
        "instanceIdentityDocument": identity(),
        "totalResources": resources(),
        "versionInfo": {"agentVersion": "1.51.0", "dockerVersion": "20.10.25"},
    }
    args.update(kw)
    return dict(ecs.register_container_instance(**args)["containerInstance"])


def by_name(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {i["name"]: i for i in items}


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


@pytest.fixture
def cluster(ecs: Any) -> str:
    name = unique("ci")
    ecs.create_cluster(clusterName=name)
    return name


def test_register_describes_the_host(ecs: Any, cluster: str) -> None:
    ci = register(
        ecs, cluster,
        instanceIdentityDocument=identity("us-east-1b", "g4dn.xlarge", "i-0123456789abcdef0"),
        totalResources=resources(4096, 15000, ("8080",)),
        attributes=[{"name": "stack", "value": "prod"}],
        platformDevices=[{"id": "GPU-a", "type": "GPU"}, {"id": "GPU-b", "type": "GPU"}],
        tags=[{"key": "team", "value": "infra"}],
    )  # fmt: skip
    arn = ci["containerInstanceArn"]
    assert arn.startswith(f"arn:aws:ecs:us-east-1:000000000000:container-instance/{cluster}/")
    assert len(arn.rsplit("/", 1)[1]) == 32
    assert ci["ec2InstanceId"] == "i-0123456789abcdef0"
    assert ci["status"] == "ACTIVE" and ci["agentConnected"] is True
    assert ci["versionInfo"]["agentVersion"] == "1.51.0"
    registered = by_name(ci["registeredResources"])
    assert registered["CPU"]["integerValue"] == 4096
    assert registered["MEMORY"]["integerValue"] == 15000
    assert set(registered["PORTS"]["stringSetValue"]) == RESERVED | {"8080"}
    assert registered["GPU"]["stringSetValue"] == ["GPU-a", "GPU-b"]
    assert ci["remainingResources"] == ci["registeredResources"]
    assert ci["runningTasksCount"] == 0 and ci["pendingTasksCount"] == 0
    attrs = {a["name"]: a.get("value") for a in ci["attributes"]}
    assert attrs["ecs.availability-zone"] == "us-east-1b"
    assert attrs["ecs.instance-type"] == "g4dn.xlarge"
    assert attrs["ecs.os-type"] == "linux"
    assert attrs["ecs.cpu-architecture"] == "x86_64"
    assert attrs["stack"] == "prod"
    assert any(name.startswith("ecs.capability.") for name in attrs)
    assert ci["tags"] == [{"key": "team", "value": "infra"}]


def test_describe_includes_and_missing(ecs: Any, cluster: str) -> None:
    ci = register(ecs, cluster, tags=[{"key": "k", "value": "v"}])
    ident = ci["containerInstanceArn"].rsplit("/", 1)[1]
    out = ecs.describe_container_instances(cluster=cluster, containerInstances=[ident, "nope"])
    (plain,) = out["containerInstances"]
    assert "tags" not in plain and "healthStatus" not in plain
    assert out["failures"] == [
        {"arn": f"arn:aws:ecs:us-east-1:000000000000:container-instance/{cluster}/nope",
         "reason": "MISSING"}
    ]  # fmt: skip
    full = ecs.describe_container_instances(
        cluster=cluster, containerInstances=[ident], include=["TAGS", "CONTAINER_INSTANCE_HEALTH"]
    )["containerInstances"][0]
    assert full["tags"] == [{"key": "k", "value": "v"}]
    assert "overallStatus" in full["healthStatus"]


def test_list_filters_with_the_query_language(ecs: Any, cluster: str) -> None:
    a = register(ecs, cluster, instanceIdentityDocument=identity("us-east-1a", "t2.small"))
    b = register(ecs, cluster, instanceIdentityDocument=identity("us-east-1b", "m5.large"))
    c = register(ecs, cluster, instanceIdentityDocument=identity("us-east-1c", "t2.medium"))
    arns = [x["containerInstanceArn"] for x in (a, b, c)]

    def listed(expr: str) -> list[str]:
        return list(
            ecs.list_container_instances(cluster=cluster, filter=expr)["containerInstanceArns"]
        )

    assert listed("attribute:ecs.instance-type =~ t2.*") == [arns[0], arns[2]]
    assert listed("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]") == arns[:2]
    assert listed("not(attribute:ecs.instance-type == m5.large) and runningTasksCount == 0") == [
        arns[0], arns[2]
    ]  # fmt: skip
    assert listed(f"ec2InstanceId == {b['ec2InstanceId']}") == [arns[1]]
    assert listed("agentVersion >= 1.9.0 && agentConnected == true") == arns
    assert listed("registeredAt > 2018-06-18T22:28:28Z") == arns
    assert listed("attribute:stack exists") == []

    with pytest.raises(ClientError) as exc:
        listed("attribute:ecs.instance-type ~= t2.*")
    code, message = error(exc)
    assert code == "InvalidParameterException"
    assert "position 29" in message

    pages = ecs.get_paginator("list_container_instances").paginate(
        cluster=cluster, PaginationConfig={"PageSize": 2}
    )
    assert [arn for page in pages for arn in page["containerInstanceArns"]] == arns


def test_draining_and_state_failures(ecs: Any, cluster: str) -> None:
    ci = register(ecs, cluster)
    arn = ci["containerInstanceArn"]
    out = ecs.update_container_instances_state(
        cluster=cluster, containerInstances=[arn, "missing"], status="DRAINING"
    )
    assert out["containerInstances"][0]["status"] == "DRAINING"
    assert out["failures"][0]["reason"] == "MISSING"
    assert ecs.list_container_instances(cluster=cluster, status="DRAINING")[
        "containerInstanceArns"
    ] == [arn]
    assert (
        ecs.list_container_instances(cluster=cluster, status="ACTIVE")["containerInstanceArns"]
        == []
    )
    with pytest.raises(ClientError) as exc:
        ecs.update_container_instances_state(
            cluster=cluster, containerInstances=[arn], status="REGISTERING"
        )
    assert error(exc)[0] == "InvalidParameterException"
    back = ecs.update_container_instances_state(
        cluster=cluster, containerInstances=[arn], status="ACTIVE"
    )["containerInstances"][0]
    assert back["status"] == "ACTIVE" and back["version"] > ci["version"]


def test_attributes_put_list_delete(ecs: Any, cluster: str) -> None:
    ci = register(ecs, cluster)
    arn = ci["containerInstanceArn"]
    ident = arn.rsplit("/", 1)[1]
    put = ecs.put_attributes(
        cluster=cluster,
        attributes=[
            {"name": "stack", "value": "prod", "targetId": arn},
            {"name": "team", "value": "a b@c:d", "targetType": "container-instance",
             "targetId": ident},
        ],
    )["attributes"]  # fmt: skip
    assert {a["name"] for a in put} == {"stack", "team"}
    assert all(a["targetId"] == arn for a in put)

    listed = ecs.list_attributes(cluster=cluster, targetType="container-instance",
                                 attributeName="stack")["attributes"]  # fmt: skip
    assert listed == [{"name": "stack", "value": "prod", "targetType": "container-instance",
                       "targetId": arn}]  # fmt: skip
    assert ecs.list_attributes(
        cluster=cluster, targetType="container-instance", attributeName="stack",
        attributeValue="dev",
    )["attributes"] == []  # fmt: skip
    everything = ecs.list_attributes(cluster=cluster, targetType="container-instance")
    assert "ecs.availability-zone" in {a["name"] for a in everything["attributes"]}

    assert ecs.list_container_instances(cluster=cluster, filter="attribute:stack == prod")[
        "containerInstanceArns"
    ] == [arn]
    ecs.delete_attributes(cluster=cluster, attributes=[{"name": "stack", "targetId": arn}])
    attrs = ecs.describe_container_instances(cluster=cluster, containerInstances=[arn])[
        "containerInstances"
    ][0]["attributes"]
    assert "stack" not in {a["name"] for a in attrs}
    assert "team" in {a["name"] for a in attrs}


def test_attribute_rules(ecs: Any, cluster: str) -> None:
    arn = register(ecs, cluster)["containerInstanceArn"]

    def put(*attrs: dict[str, Any]) -> Any:
        return ecs.put_attributes(cluster=cluster, attributes=list(attrs))

    for i in range(9):
        put({"name": f"custom{i}", "value": "x", "targetId": arn})
    put({"name": "custom0", "value": "replaced", "targetId": arn})  # replacing is not adding
    put({"name": "tenth", "targetId": arn})
    with pytest.raises(ClientError) as exc:
        put({"name": "eleventh", "value": "x", "targetId": arn})
    assert error(exc)[0] == "AttributeLimitExceededException"

    with pytest.raises(ClientError) as exc:
        put({"name": "bad name!", "value": "x", "targetId": arn})
    assert error(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        put({"name": "ok", "value": " leading space", "targetId": arn})
    assert error(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        put({"name": "ok", "value": "x", "targetId": "0123456789abcdef0123456789abcdef"})
    assert error(exc)[0] == "InvalidParameterException"  # a short id needs targetType
    with pytest.raises(ClientError) as exc:
        put({"name": "ok", "value": "x", "targetId": arn.rsplit("/", 1)[0] + "/" + "0" * 32})
    assert error(exc)[0] == "TargetNotFoundException"
    with pytest.raises(ClientError) as exc:
        put({"name": "ecs.availability-zone", "value": "elsewhere", "targetId": arn})
    assert error(exc)[0] == "InvalidParameterException"


def test_reregistration_keeps_the_instance(ecs: Any, cluster: str) -> None:
    first = register(ecs, cluster)
    arn = first["containerInstanceArn"]
    ecs.put_attributes(cluster=cluster, attributes=[{"name": "stack", "value": "prod",
                                                      "targetId": arn}])  # fmt: skip
    again = register(
        ecs, cluster, containerInstanceArn=arn, totalResources=resources(4096, 15000),
        versionInfo={"agentVersion": "1.52.0"},
    )  # fmt: skip
    assert again["containerInstanceArn"] == arn
    assert by_name(again["registeredResources"])["CPU"]["integerValue"] == 4096
    assert again["versionInfo"]["agentVersion"] == "1.52.0"
    assert {"stack", "ecs.instance-type"} <= {a["name"] for a in again["attributes"]}
    assert again["version"] > first["version"]
    assert ecs.list_container_instances(cluster=cluster)["containerInstanceArns"] == [arn]


def test_deregister(ecs: Any, cluster: str) -> None:
    arn = register(ecs, cluster)["containerInstanceArn"]
    gone = ecs.deregister_container_instance(cluster=cluster, containerInstance=arn)
    assert gone["containerInstance"]["status"] == "INACTIVE"
    assert ecs.list_container_instances(cluster=cluster)["containerInstanceArns"] == []
    described = ecs.describe_container_instances(cluster=cluster, containerInstances=[arn])
    assert described["containerInstances"][0]["status"] == "INACTIVE"
    with pytest.raises(ClientError) as exc:
        register(ecs, cluster, containerInstanceArn=arn)
    assert error(exc)[0] == "ClientException"
    with pytest.raises(ClientError) as exc:
        ecs.deregister_container_instance(cluster=cluster, containerInstance="0" * 32)
    assert error(exc)[0] == "InvalidParameterException"
    ecs.delete_cluster(cluster=cluster)  # no instance left: the cluster can go


def test_tasks_hold_resources_and_need_force(ecs: Any, cluster: str) -> None:
    arn = register(ecs, cluster, totalResources=resources(1024, 2048))["containerInstanceArn"]
    family = unique("fam")
    ecs.register_task_definition(
        family=family,
        containerDefinitions=[{
            "name": "web", "image": "busybox", "cpu": 256, "memory": 512, "essential": True,
            "portMappings": [{"containerPort": 80, "hostPort": 8080}],
        }],
    )  # fmt: skip
    run = ecs.run_task(cluster=cluster, taskDefinition=family, count=1, launchType="EC2")
    assert run["failures"] == []
    assert run["tasks"][0]["containerInstanceArn"] == arn

    ci = ecs.describe_container_instances(cluster=cluster, containerInstances=[arn])[
        "containerInstances"
    ][0]
    left = by_name(ci["remainingResources"])
    assert left["CPU"]["integerValue"] == 1024 - 256
    assert left["MEMORY"]["integerValue"] == 2048 - 512
    assert "8080" in left["PORTS"]["stringSetValue"]
    assert "8080" not in by_name(ci["registeredResources"])["PORTS"]["stringSetValue"]
    assert ci["runningTasksCount"] + ci["pendingTasksCount"] == 1

    assert ecs.list_container_instances(cluster=cluster, filter="task:group == family:" + family)[
        "containerInstanceArns"
    ] == [arn]
    with pytest.raises(ClientError) as exc:
        ecs.deregister_container_instance(cluster=cluster, containerInstance=arn)
    assert error(exc)[0] == "InvalidParameterException"
    forced = ecs.deregister_container_instance(cluster=cluster, containerInstance=arn, force=True)
    assert forced["containerInstance"]["status"] == "INACTIVE"


def test_aws_cli_filter_and_attributes(server: Server) -> None:
    ecs = server.client()
    name = unique("cli")
    ecs.create_cluster(clusterName=name)
    arn = register(ecs, name, instanceIdentityDocument=identity("us-east-1c", "c5.large"))[
        "containerInstanceArn"
    ]
    out = server.aws(
        "ecs", "list-container-instances", "--cluster", name,
        "--filter", "attribute:ecs.availability-zone == us-east-1c",
    )  # fmt: skip
    assert json.loads(out.stdout)["containerInstanceArns"] == [arn]
    server.aws(
        "ecs", "put-attributes", "--cluster", name,
        "--attributes", f"name=stack,value=prod,targetId={arn}",
    )  # fmt: skip
    listed = json.loads(
        server.aws("ecs", "list-attributes", "--cluster", name, "--target-type",
                   "container-instance", "--attribute-name", "stack").stdout
    )  # fmt: skip
    assert listed["attributes"][0]["value"] == "prod"
    bad = server.aws("ecs", "list-container-instances", "--cluster", name, "--filter",
                     "attribute:x ==", check=False)  # fmt: skip
    assert bad.returncode != 0 and "InvalidParameterException" in bad.stderr

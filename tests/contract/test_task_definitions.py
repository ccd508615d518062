"""Task definition operations through boto3 and the AWS CLI."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers import Server, unique

ARN_PREFIX = "arn:aws:ecs:us-east-1:000000000000:task-definition/"


def web(name: str = "web", **kw: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "memory": 64, **kw}


def register(ecs: Any, family: str, containers: list[dict[str, Any]] | None = None,
             **kw: Any) -> dict[str, Any]:
    out = ecs.register_task_definition(
        family=family, containerDefinitions=containers or [web()], **kw
    )
    return out["taskDefinition"]  # type: ignore[no-any-return]


def error(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    e = err.value.response["Error"]
    return e["Code"], e["Message"]


def test_register_and_describe(ecs: Any) -> None:
    family = unique("td")
    td = register(ecs, family, [web(portMappings=[{"containerPort": 80}])],
                  tags=[{"key": "team", "value": "a"}])
    assert td["taskDefinitionArn"] == f"{ARN_PREFIX}{family}:1"
    assert (td["family"], td["revision"], td["status"]) == (family, 1, "ACTIVE")
    assert td["compatibilities"] == ["EXTERNAL", "EC2"]
    assert td["registeredBy"] == "arn:aws:iam::000000000000:root"
    assert "registeredAt" in td
    (c,) = td["containerDefinitions"]
    assert c["essential"] is True and c["cpu"] == 0
    assert c["portMappings"] == [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}]

    plain = ecs.describe_task_definition(taskDefinition=family)
    assert plain["taskDefinition"] == td
    assert "tags" not in plain
    tagged = ecs.describe_task_definition(taskDefinition=f"{family}:1", include=["TAGS"])
    assert tagged["tags"] == [{"key": "team", "value": "a"}]
    by_arn = ecs.describe_task_definition(taskDefinition=td["taskDefinitionArn"])
    assert by_arn["taskDefinition"]["revision"] == 1


def test_fargate_sizes_are_normalized(ecs: Any) -> None:
    td = register(
        ecs, unique("fg"), [{"name": "app", "image": "busybox",
                             "portMappings": [{"containerPort": 8080}]}],
        networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="1 vCPU", memory="2 GB",
    )
    assert (td["cpu"], td["memory"]) == ("1024", "2048")
    assert td["compatibilities"] == ["EC2", "FARGATE"]
    assert td["requiresCompatibilities"] == ["FARGATE"]
    assert td["containerDefinitions"][0]["portMappings"][0]["hostPort"] == 8080


def test_revisions_and_latest_active(ecs: Any) -> None:
    family = unique("rev")
    arns = [register(ecs, family)["taskDefinitionArn"] for _ in range(3)]
    assert arns == [f"{ARN_PREFIX}{family}:{n}" for n in (1, 2, 3)]
    gone = ecs.deregister_task_definition(taskDefinition=f"{family}:3")["taskDefinition"]
    assert gone["status"] == "INACTIVE" and "deregisteredAt" in gone
    latest = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
    assert latest["revision"] == 2
    explicit = ecs.describe_task_definition(taskDefinition=f"{family}:3")["taskDefinition"]
    assert explicit["status"] == "INACTIVE"
    again = ecs.deregister_task_definition(taskDefinition=arns[2])["taskDefinition"]
    assert again["status"] == "INACTIVE"


def test_revisions_are_never_reused(ecs: Any) -> None:
    family = unique("reuse")
    register(ecs, family)
    register(ecs, family)
    for rev in (1, 2):
        ecs.deregister_task_definition(taskDefinition=f"{family}:{rev}")
    out = ecs.delete_task_definitions(taskDefinitions=[f"{family}:1", f"{family}:2"])
    assert [t["status"] for t in out["taskDefinitions"]] == ["DELETE_IN_PROGRESS"] * 2
    assert out["failures"] == []
    assert register(ecs, family)["revision"] == 3
    with pytest.raises(ClientError) as err:
        ecs.describe_task_definition(taskDefinition=unique("never"))
    assert error(err) == ("ClientException", "Unable to describe task definition.")


def test_family_with_no_active_revision_does_not_resolve(ecs: Any) -> None:
    family = unique("gone")
    register(ecs, family)
    ecs.deregister_task_definition(taskDefinition=f"{family}:1")
    with pytest.raises(ClientError) as err:
        ecs.describe_task_definition(taskDefinition=family)
    assert error(err)[0] == "ClientException"


def test_list_task_definitions(ecs: Any) -> None:
    family = unique("list")
    for _ in range(5):
        register(ecs, family)
    ecs.deregister_task_definition(taskDefinition=f"{family}:2")
    arn = f"{ARN_PREFIX}{family}"

    pages = ecs.get_paginator("list_task_definitions").paginate(
        familyPrefix=family, PaginationConfig={"PageSize": 2}
    )
    listed = [a for page in pages for a in page["taskDefinitionArns"]]
    assert listed == [f"{arn}:{n}" for n in (1, 3, 4, 5)]
    desc = ecs.list_task_definitions(familyPrefix=family, sort="DESC")["taskDefinitionArns"]
    assert desc == [f"{arn}:{n}" for n in (5, 4, 3, 1)]
    inactive = ecs.list_task_definitions(familyPrefix=family, status="INACTIVE")
    assert inactive["taskDefinitionArns"] == [f"{arn}:2"]
    # familyPrefix is the full family name, not a prefix
    assert ecs.list_task_definitions(familyPrefix=family[:-2])["taskDefinitionArns"] == []
    with pytest.raises(ClientError) as err:
        ecs.list_task_definitions(maxResults=0)
    assert error(err)[0] == "InvalidParameterException"


def test_list_task_definition_families(ecs: Any) -> None:
    prefix = unique("fam")
    families = [f"{prefix}-{x}" for x in ("a", "b", "c")]
    for f in families:
        register(ecs, f)
    ecs.deregister_task_definition(taskDefinition=f"{families[1]}:1")

    pages = ecs.get_paginator("list_task_definition_families").paginate(
        familyPrefix=prefix, PaginationConfig={"PageSize": 1}
    )
    assert [f for page in pages for f in page["families"]] == [families[0], families[2]]
    inactive = ecs.list_task_definition_families(familyPrefix=prefix, status="INACTIVE")
    assert inactive["families"] == [families[1]]
    every = ecs.list_task_definition_families(familyPrefix=prefix, status="ALL")
    assert every["families"] == families


def test_deregister_errors(ecs: Any) -> None:
    family = unique("dereg")
    register(ecs, family)
    with pytest.raises(ClientError) as err:
        ecs.deregister_task_definition(taskDefinition=family)
    assert error(err) == ("ClientException", "Revision is missing.")
    with pytest.raises(ClientError) as err:
        ecs.deregister_task_definition(taskDefinition=f"{family}:9")
    assert error(err)[0] == "ClientException"
    with pytest.raises(ClientError) as err:
        ecs.deregister_task_definition(taskDefinition=f"{family}:x")
    assert error(err)[0] == "InvalidParameterException"


def test_delete_failures(ecs: Any) -> None:
    family = unique("del")
    register(ecs, family)
    out = ecs.delete_task_definitions(
        taskDefinitions=[f"{family}:1", f"{family}:7", family]
    )
    assert out["taskDefinitions"] == []
    reasons = {f["arn"]: f["reason"] for f in out["failures"]}
    assert "still in ACTIVE status" in reasons[f"{family}:1"]
    assert "does not exist" in reasons[f"{family}:7"]
    assert "identifier is invalid" in reasons[family]
    with pytest.raises(ClientError) as err:
        ecs.delete_task_definitions(taskDefinitions=[f"{family}:{n}" for n in range(1, 12)])
    assert error(err)[0] == "InvalidParameterException"

    ecs.deregister_task_definition(taskDefinition=f"{family}:1")
    ecs.delete_task_definitions(taskDefinitions=[f"{ARN_PREFIX}{family}:1"])
    listed = ecs.list_task_definitions(familyPrefix=family, status="DELETE_IN_PROGRESS")
    assert listed["taskDefinitionArns"] == [f"{ARN_PREFIX}{family}:1"]
    td = ecs.describe_task_definition(taskDefinition=f"{family}:1")["taskDefinition"]
    assert td["status"] == "DELETE_IN_PROGRESS" and "deleteRequestedAt" in td
    families = ecs.list_task_definition_families(familyPrefix=family, status="INACTIVE")
    assert families["families"] == [family]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(containerDefinitions=[web(), web()]),
         "Container names must be unique within a Task Definition."),
        (dict(containerDefinitions=[web(f"c{i}") for i in range(11)]), "Too many containers."),
        (dict(containerDefinitions=[{"name": "a", "image": "x"}]),
         "Invalid setting for container 'a'. At least one of 'memory' or 'memoryReservation' "
         "must be specified."),
        (dict(containerDefinitions=[web()], networkMode="awsvpc",
              requiresCompatibilities=["FARGATE"], cpu="256", memory="4096"),
         "No Fargate configuration exists for given values: 256 CPU, 4096 memory."),
        (dict(containerDefinitions=[web()], requiresCompatibilities=["FARGATE"],
              cpu="256", memory="512"),
         "Fargate only supports network mode"),
        (dict(containerDefinitions=[web(portMappings=[{"containerPort": 80, "hostPort": 81}])],
              networkMode="awsvpc"),
         "When networkMode=awsvpc, the host ports and container ports in port mappings must "
         "match."),
        (dict(containerDefinitions=[web(healthCheck={"command": ["CMD", "true"],
                                                     "interval": 1})]),
         "'interval' must be between 5 and 300"),
        (dict(containerDefinitions=[web(dependsOn=[{"containerName": "db",
                                                    "condition": "START"}])]),
         "Container 'db' is not defined"),
        (dict(containerDefinitions=[web()], cpu="lots"), "Invalid 'cpu' setting for task."),
    ],
)
def test_register_is_validated(ecs: Any, kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientError) as err:
        ecs.register_task_definition(family=unique("bad"), **kw)
    code, text = error(err)
    assert code == "ClientException"
    assert message in text
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_bad_family_and_model_errors(ecs: Any) -> None:
    with pytest.raises(ClientError) as err:
        ecs.register_task_definition(family="no spaces", containerDefinitions=[web()])
    assert error(err) == ("ClientException", "Family contains invalid characters.")
    with pytest.raises(ClientError) as err:
        ecs.register_task_definition(
            family=unique("p"), containerDefinitions=[web(portMappings=[
                {"containerPort": 80, "protocol": "sctp"}])]
        )
    assert error(err)[0] == "InvalidParameterException"


def test_request_over_64_kib(ecs: Any) -> None:
    env = [{"name": f"V{i}", "value": "x" * 1000} for i in range(70)]
    with pytest.raises(ClientError) as err:
        ecs.register_task_definition(family=unique("big"),
                                     containerDefinitions=[web(environment=env)])
    code, text = error(err)
    assert code == "ClientException" and "Max allowed length is '65536' bytes." in text
    fits = [{"name": f"V{i}", "value": "x" * 1000} for i in range(50)]
    assert register(ecs, unique("big"), [web(environment=fits)])["revision"] == 1


def test_concurrent_registrations_get_every_revision_once(server: Server) -> None:
    family = unique("race")
    clients = [server.client("ecs") for _ in range(50)]
    start = threading.Barrier(len(clients))

    def one(client: Any) -> int:
        start.wait()
        return register(client, family)["revision"]  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        revisions = list(pool.map(one, clients))
    assert sorted(revisions) == list(range(1, 51))
    listed = clients[0].list_task_definitions(familyPrefix=family, maxResults=100)
    assert len(listed["taskDefinitionArns"]) == 50


def test_aws_cli_register_from_json(server: Server, tmp_path: Path) -> None:
    family = unique("cli")
    spec = {
        "family": family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1 GB",
        "containerDefinitions": [
            {"name": "app", "image": "busybox",
             "portMappings": [{"containerPort": 80, "name": "http", "appProtocol": "http"}],
             "healthCheck": {"command": ["CMD-SHELL", "true"]}},
        ],
    }
    path = tmp_path / "td.json"
    path.write_text(json.dumps(spec))
    out = json.loads(server.aws("ecs", "register-task-definition",
                                "--cli-input-json", f"file://{path}").stdout)
    td = out["taskDefinition"]
    assert td["taskDefinitionArn"] == f"{ARN_PREFIX}{family}:1"
    assert td["memory"] == "1024"
    assert td["containerDefinitions"][0]["healthCheck"] == {
        "command": ["CMD-SHELL", "true"], "interval": 30, "timeout": 5, "retries": 3,
    }
    desc = json.loads(server.aws("ecs", "describe-task-definition",
                                 "--task-definition", f"{family}:1").stdout)
    assert desc["taskDefinition"]["status"] == "ACTIVE"
    bad = server.aws("ecs", "describe-task-definition", "--task-definition", unique("no"),
                     check=False)
    assert bad.returncode != 0 and "Unable to describe task definition." in bad.stderr

"""TagResource, UntagResource and ListTagsForResource through boto3 and the AWS CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.contract.ecs_fixtures import cluster_with_instances, register_td
from tests.helpers import Server, unique

ACCOUNT = "000000000000"
PREFIX = f"arn:aws:ecs:us-east-1:{ACCOUNT}"


def error_code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def served(call: Callable[[], Any]) -> Any:
    """Run ``call``; skip the test if portside does not serve that operation yet."""
    try:
        return call()
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "UnknownOperationException":
            pytest.skip(f"not served yet: {exc.operation_name}")
        raise


def tags_of(ecs: Any, arn: str) -> dict[str, str]:
    return {t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=arn)["tags"]}


def exercise(ecs: Any, arn: str) -> None:
    """The tagging round trip every taggable resource must support."""
    ecs.untag_resource(resourceArn=arn, tagKeys=list(tags_of(ecs, arn)) or ["none"])
    assert tags_of(ecs, arn) == {}
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "one"}, {"key": "c"}])
    assert tags_of(ecs, arn) == {"a": "one", "b": "2", "c": ""}
    ecs.untag_resource(resourceArn=arn, tagKeys=["b", "missing"])
    assert tags_of(ecs, arn) == {"a": "one", "c": ""}
    ecs.untag_resource(resourceArn=arn, tagKeys=["a", "c"])
    assert tags_of(ecs, arn) == {}


def test_cluster(ecs: Any) -> None:
    arn = ecs.create_cluster(clusterName=unique("c"), tags=[{"key": "x", "value": "y"}])["cluster"][
        "clusterArn"
    ]
    assert tags_of(ecs, arn) == {"x": "y"}
    exercise(ecs, arn)
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "red"}])
    (cluster,) = ecs.describe_clusters(clusters=[arn], include=["TAGS"])["clusters"]
    assert cluster["tags"] == [{"key": "team", "value": "red"}]


def test_capacity_provider(ecs: Any) -> None:
    name = unique("cp")
    arn = ecs.create_capacity_provider(
        name=name,
        autoScalingGroupProvider={"autoScalingGroupArn": unique("asg")},
        tags=[{"key": "x", "value": "y"}],
    )["capacityProvider"]["capacityProviderArn"]
    assert tags_of(ecs, arn) == {"x": "y"}
    exercise(ecs, arn)
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "prod"}])
    (got,) = ecs.describe_capacity_providers(capacityProviders=[name], include=["TAGS"])[
        "capacityProviders"
    ]
    assert got["tags"] == [{"key": "env", "value": "prod"}]


def _task_definition(ecs: Any) -> str:
    out = served(
        lambda: ecs.register_task_definition(
            family=unique("td"),
            containerDefinitions=[{"name": "app", "image": "busybox", "memory": 64}],
            tags=[{"key": "x", "value": "y"}],
        )
    )
    return str(out["taskDefinition"]["taskDefinitionArn"])


def test_task_definition(ecs: Any) -> None:
    arn = _task_definition(ecs)
    assert tags_of(ecs, arn) == {"x": "y"}
    exercise(ecs, arn)


def test_service(ecs: Any) -> None:
    td = _task_definition(ecs)
    cluster = unique("c")
    ecs.create_cluster(clusterName=cluster)
    svc = served(
        lambda: ecs.create_service(
            cluster=cluster, serviceName=unique("s"), taskDefinition=td, desiredCount=0
        )
    )["service"]
    arn = svc["serviceArn"]
    assert arn.startswith(f"{PREFIX}:service/{cluster}/")
    exercise(ecs, arn)
    short = f"{PREFIX}:service/{svc['serviceName']}"
    with pytest.raises(ClientError) as err:
        ecs.tag_resource(resourceArn=short, tags=[{"key": "a", "value": "b"}])
    assert error_code(err) == "InvalidParameterException"


def test_container_instance_and_task(ecs: Any) -> None:
    cluster, (instance,) = served(lambda: cluster_with_instances(ecs))
    assert instance.startswith(f"{PREFIX}:container-instance/{cluster}/")
    exercise(ecs, instance)
    td = register_td(ecs)
    out = ecs.run_task(
        cluster=cluster, taskDefinition=td["taskDefinitionArn"], tags=[{"key": "x", "value": "y"}]
    )
    (task,) = out["tasks"]
    assert task["taskArn"].startswith(f"{PREFIX}:task/{cluster}/")
    assert tags_of(ecs, task["taskArn"]) == {"x": "y"}
    exercise(ecs, task["taskArn"])
    ecs.tag_resource(resourceArn=task["taskArn"], tags=[{"key": "k", "value": "v"}])
    (described,) = ecs.describe_tasks(cluster=cluster, tasks=[task["taskArn"]], include=["TAGS"])[
        "tasks"
    ]
    assert described["tags"] == [{"key": "k", "value": "v"}]


def test_limits_and_reserved_prefix(ecs: Any) -> None:
    arn = ecs.create_cluster(clusterName=unique("c"))["cluster"]["clusterArn"]
    many = [{"key": f"k{i}", "value": "v"} for i in range(50)]
    ecs.tag_resource(resourceArn=arn, tags=many)
    with pytest.raises(ClientError) as err:
        ecs.tag_resource(resourceArn=arn, tags=[{"key": "one-more", "value": "v"}])
    assert error_code(err) == "InvalidParameterException"
    assert len(tags_of(ecs, arn)) == 50
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "k0", "value": "replaced"}])
    assert tags_of(ecs, arn)["k0"] == "replaced"
    with pytest.raises(ClientError) as err:
        ecs.tag_resource(resourceArn=arn, tags=[{"key": "aws:owner", "value": "v"}])
    assert error_code(err) == "InvalidParameterException"


@pytest.mark.parametrize(
    "arn",
    [
        "not-an-arn",
        "arn:aws:s3:::bucket",
        f"{PREFIX}:widget/x",
        f"{PREFIX}:cluster/",
        f"{PREFIX}:task/only-an-id",
        f"{PREFIX}:container-instance/only-an-id",
    ],
)
def test_malformed_arns_are_invalid(ecs: Any, arn: str) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: ecs.list_tags_for_resource(resourceArn=arn),
        lambda: ecs.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "b"}]),
        lambda: ecs.untag_resource(resourceArn=arn, tagKeys=["a"]),
    ]
    for call in calls:
        with pytest.raises(ClientError) as err:
            call()
        assert error_code(err) == "InvalidParameterException"


def test_missing_and_inactive_resources(ecs: Any) -> None:
    with pytest.raises(ClientError) as err:
        ecs.list_tags_for_resource(resourceArn=f"{PREFIX}:cluster/{unique('nope')}")
    assert error_code(err) == "ClusterNotFoundException"

    name = unique("c")
    arn = ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"]
    with pytest.raises(ClientError) as err:
        ecs.tag_resource(
            resourceArn=f"{PREFIX}:service/{name}/{unique('nope')}",
            tags=[{"key": "a", "value": "b"}],
        )
    assert error_code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        ecs.list_tags_for_resource(resourceArn=f"{PREFIX}:capacity-provider/{unique('nope')}")
    assert error_code(err) == "ResourceNotFoundException"

    ecs.delete_cluster(cluster=name)
    with pytest.raises(ClientError) as err:
        ecs.list_tags_for_resource(resourceArn=arn)
    assert error_code(err) == "InvalidParameterException"
    assert "inactive" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        ecs.tag_resource(
            resourceArn=f"{PREFIX}:task/{name}/0123456789abcdef0123456789abcdef",
            tags=[{"key": "a", "value": "b"}],
        )
    assert error_code(err) == "InvalidParameterException"


def test_cli(server: Server) -> None:
    arn = json.loads(server.aws("ecs", "create-cluster", "--cluster-name", unique("c")).stdout)[
        "cluster"
    ]["clusterArn"]
    server.aws("ecs", "tag-resource", "--resource-arn", arn, "--tags", "key=k1,value=v1")
    listed = json.loads(server.aws("ecs", "list-tags-for-resource", "--resource-arn", arn).stdout)
    assert listed == {"tags": [{"key": "k1", "value": "v1"}]}
    server.aws("ecs", "untag-resource", "--resource-arn", arn, "--tag-keys", "k1")
    listed = json.loads(server.aws("ecs", "list-tags-for-resource", "--resource-arn", arn).stdout)
    assert listed == {"tags": []}

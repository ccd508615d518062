"""Cluster operations through boto3 and the AWS CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers import Server, unique


def test_create_describe_list_delete(ecs: Any) -> None:
    name = unique("c")
    made = ecs.create_cluster(clusterName=name, tags=[{"key": "team", "value": "a"}])["cluster"]
    assert made["clusterArn"] == f"arn:aws:ecs:us-east-1:000000000000:cluster/{name}"
    assert made["status"] == "ACTIVE"

    desc = ecs.describe_clusters(clusters=[name], include=["TAGS", "SETTINGS", "STATISTICS"])
    (cluster,) = desc["clusters"]
    assert cluster["tags"] == [{"key": "team", "value": "a"}]
    assert cluster["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    assert cluster["registeredContainerInstancesCount"] == 0
    assert {s["name"] for s in cluster["statistics"]} >= {"runningEC2TasksCount"}

    plain = ecs.describe_clusters(clusters=[made["clusterArn"]])["clusters"][0]
    assert "tags" not in plain and "settings" not in plain

    assert made["clusterArn"] in _all_clusters(ecs)
    ecs.delete_cluster(cluster=name)
    assert made["clusterArn"] not in _all_clusters(ecs)
    gone = ecs.describe_clusters(clusters=[name])["clusters"][0]
    assert gone["status"] == "INACTIVE"
    with pytest.raises(ClientError) as err:
        ecs.update_cluster_settings(
            cluster=name, settings=[{"name": "containerInsights", "value": "enabled"}]
        )
    assert err.value.response["Error"]["Code"] == "ClusterNotFoundException"


def _all_clusters(ecs: Any) -> list[str]:
    arns: list[str] = []
    for page in ecs.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 2}):
        arns += page["clusterArns"]
    return arns


def test_create_is_idempotent_for_an_active_cluster(ecs: Any) -> None:
    name = unique("c")
    a = ecs.create_cluster(clusterName=name)["cluster"]
    b = ecs.create_cluster(clusterName=name)["cluster"]
    assert a["clusterArn"] == b["clusterArn"]


def test_describe_missing_cluster_is_a_failure_not_an_error(ecs: Any) -> None:
    out = ecs.describe_clusters(clusters=["no-such-cluster"])
    assert out["clusters"] == []
    assert out["failures"][0]["reason"] == "MISSING"


def test_update_settings_and_configuration(ecs: Any) -> None:
    name = unique("c")
    ecs.create_cluster(clusterName=name)
    ecs.update_cluster_settings(
        cluster=name, settings=[{"name": "containerInsights", "value": "enabled"}]
    )
    ecs.update_cluster(
        cluster=name,
        configuration={"executeCommandConfiguration": {"logging": "DEFAULT"}},
    )
    got = ecs.describe_clusters(clusters=[name], include=["SETTINGS", "CONFIGURATIONS"])
    cluster = got["clusters"][0]
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert cluster["configuration"] == {"executeCommandConfiguration": {"logging": "DEFAULT"}}


def test_bad_cluster_name_is_invalid_parameter(ecs: Any) -> None:
    with pytest.raises(ClientError) as err:
        ecs.create_cluster(clusterName="bad name!")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_region_comes_from_the_signature(server: Server) -> None:
    name = unique("c")
    west = server.client("ecs", region="eu-west-1")
    arn = west.create_cluster(clusterName=name)["cluster"]["clusterArn"]
    assert arn.startswith("arn:aws:ecs:eu-west-1:")
    east = server.client("ecs")
    assert east.describe_clusters(clusters=[name])["failures"][0]["reason"] == "MISSING"


def test_bad_next_token_is_a_clear_error(ecs: Any) -> None:
    with pytest.raises(ClientError) as err:
        ecs.list_clusters(nextToken="garbage!")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "nextToken" in err.value.response["Error"]["Message"]


def test_max_results_out_of_range(ecs: Any) -> None:
    with pytest.raises(ClientError) as err:
        ecs.list_clusters(maxResults=101)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"


def test_aws_cli_create_and_describe(server: Server) -> None:
    name = unique("cli")
    out = json.loads(server.aws("ecs", "create-cluster", "--cluster-name", name).stdout)
    assert out["cluster"]["clusterName"] == name
    desc = json.loads(server.aws("ecs", "describe-clusters", "--clusters", name).stdout)
    assert desc["clusters"][0]["status"] == "ACTIVE"
    missing = server.aws("ecs", "delete-cluster", "--cluster", unique("none"), check=False)
    assert missing.returncode != 0
    assert "ClusterNotFoundException" in missing.stderr

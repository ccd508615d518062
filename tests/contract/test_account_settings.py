"""Account settings through boto3 and the AWS CLI.

Account settings are per account and region, so each test works in a region
of its own on the shared server and sees only its own settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_server
from tests.helpers import Server, unique

ACCOUNT = "000000000000"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/deployer"


@pytest.fixture
def region() -> str:
    return unique("test")


@pytest.fixture
def ecs_own(server: Server, region: str) -> Any:
    return server.client(region=region)


def error_code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def effective(ecs: Any, **kw: Any) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for page in ecs.get_paginator("list_account_settings").paginate(effectiveSettings=True, **kw):
        for s in page["settings"]:
            out[s["name"]] = (s["value"], s["principalArn"])
    return out


def test_effective_defaults(ecs_own: Any) -> None:
    got = effective(ecs_own)
    assert got["serviceLongArnFormat"] == ("enabled", ROOT)
    assert got["taskLongArnFormat"] == ("enabled", ROOT)
    assert got["containerInstanceLongArnFormat"] == ("enabled", ROOT)
    assert got["awsvpcTrunking"][0] == "disabled"
    assert got["containerInsights"][0] == "disabled"
    assert got["fargateTaskRetirementWaitPeriod"][0] == "7"
    assert got["guardDutyActivate"][0] == "off"
    assert len(got) == 11
    assert ecs_own.list_account_settings()["settings"] == []


def test_first_page_holds_ten(ecs_own: Any) -> None:
    first = ecs_own.list_account_settings(effectiveSettings=True)
    assert len(first["settings"]) == 10 and first["nextToken"]
    second = ecs_own.list_account_settings(effectiveSettings=True, nextToken=first["nextToken"])
    assert len(second["settings"]) == 1 and "nextToken" not in second
    with pytest.raises(ClientError) as err:
        ecs_own.list_account_settings(maxResults=11)
    assert error_code(err) == "InvalidParameterException"


def test_put_and_delete_for_root(ecs_own: Any) -> None:
    put = ecs_own.put_account_setting(name="containerInsights", value="enhanced")["setting"]
    assert put == {
        "name": "containerInsights",
        "value": "enhanced",
        "principalArn": ROOT,
        "type": "user",
    }
    assert ecs_own.list_account_settings()["settings"] == [put]
    assert ecs_own.list_account_settings(name="containerInsights", value="enhanced")[
        "settings"
    ] == [put]
    assert (
        ecs_own.list_account_settings(name="containerInsights", value="enabled")["settings"] == []
    )
    gone = ecs_own.delete_account_setting(name="containerInsights")["setting"]
    assert gone["value"] == "enhanced"
    assert effective(ecs_own)["containerInsights"] == ("disabled", ROOT)


def test_default_applies_to_principals_without_their_own(ecs_own: Any) -> None:
    dflt = ecs_own.put_account_setting_default(name="awsvpcTrunking", value="enabled")["setting"]
    assert dflt["principalArn"] == ROOT
    ecs_own.put_account_setting(name="awsvpcTrunking", value="disabled", principalArn=ROLE)
    assert effective(ecs_own, principalArn=USER)["awsvpcTrunking"] == ("enabled", ROOT)
    assert effective(ecs_own, principalArn=ROLE)["awsvpcTrunking"] == ("disabled", ROLE)
    own_only = ecs_own.list_account_settings(principalArn=ROLE)["settings"]
    assert [(s["name"], s["value"]) for s in own_only] == [("awsvpcTrunking", "disabled")]
    ecs_own.delete_account_setting(name="awsvpcTrunking", principalArn=ROLE)
    assert effective(ecs_own, principalArn=ROLE)["awsvpcTrunking"] == ("enabled", ROOT)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("serviceLongArnFormat", "on"),
        ("containerInsights", "yes"),
        ("tagResourceAuthorization", "enabled"),
        ("fargateTaskRetirementWaitPeriod", "3"),
        ("defaultLogDriverMode", "enabled"),
    ],
)
def test_invalid_values(ecs_own: Any, name: str, value: str) -> None:
    with pytest.raises(ClientError) as err:
        ecs_own.put_account_setting(name=name, value=value)
    assert error_code(err) == "InvalidParameterException"


def test_valid_values(ecs_own: Any) -> None:
    for name, value in [
        ("tagResourceAuthorization", "off"),
        ("fargateTaskRetirementWaitPeriod", "14"),
        ("defaultLogDriverMode", "blocking"),
        ("fargateFIPSMode", "enabled"),
        ("fargateEventWindows", "enabled"),
    ]:
        assert ecs_own.put_account_setting(name=name, value=value)["setting"]["value"] == value
        assert effective(ecs_own)[name] == (value, ROOT)


def test_rules(ecs_own: Any) -> None:
    with pytest.raises(ClientError) as err:
        ecs_own.put_account_setting(name="guardDutyActivate", value="on")
    assert error_code(err) == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        ecs_own.put_account_setting(
            name="fargateTaskRetirementWaitPeriod", value="0", principalArn=USER
        )
    assert error_code(err) == "InvalidParameterException"
    for bad in (
        "arn:aws:iam::111111111111:root",
        "arn:aws:s3:::bucket",
        "alice",
        f"arn:aws:iam::{ACCOUNT}:group/devs",
    ):
        with pytest.raises(ClientError) as err:
            ecs_own.put_account_setting(name="awsvpcTrunking", value="enabled", principalArn=bad)
        assert error_code(err) == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        ecs_own.list_account_settings(value="enabled")
    assert error_code(err) == "InvalidParameterException"


def test_settings_are_per_region(server: Server) -> None:
    east = server.client(region=unique("east"))
    west = server.client(region=unique("west"))
    east.put_account_setting(name="containerInsights", value="enabled")
    assert effective(west)["containerInsights"][0] == "disabled"
    assert effective(east)["containerInsights"][0] == "enabled"


def test_survive_kill_and_restart(store_backend: str, tmp_path: Path) -> None:
    own = make_server(store_backend, tmp_path).start()
    try:
        own.client().put_account_setting(name="taskLongArnFormat", value="disabled")
        own.kill()
        own.start()
        assert effective(own.client())["taskLongArnFormat"] == ("disabled", ROOT)
    finally:
        own.stop()


def test_cli(server: Server, region: str) -> None:
    out = json.loads(
        server.aws(
            "ecs",
            "put-account-setting-default",
            "--name",
            "serviceLongArnFormat",
            "--value",
            "disabled",
            "--region",
            region,
        ).stdout
    )
    assert out == {
        "setting": {
            "name": "serviceLongArnFormat",
            "value": "disabled",
            "principalArn": ROOT,
            "type": "user",
        }
    }
    listed = json.loads(
        server.aws(
            "ecs", "list-account-settings", "--effective-settings", "--region", region
        ).stdout
    )
    assert len(listed["settings"]) == 11
    assert {
        "name": "serviceLongArnFormat",
        "value": "disabled",
        "principalArn": ROOT,
        "type": "user",
    } in listed["settings"]

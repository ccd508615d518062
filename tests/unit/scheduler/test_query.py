"""The cluster query language: every subject and operator, compound forms, and errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from portside.domain.errors import InvalidParameterException
from portside.scheduler.query import parse


@dataclass
class Host:
    attributes: dict[str, str] = field(default_factory=dict)
    ec2_instance_id: str | None = "i-0abc"
    registered_at: datetime | None = datetime(2018, 6, 18, 22, 28, 28, tzinfo=UTC)
    running_tasks_count: int = 2
    groups: dict[str, int] = field(default_factory=dict)
    agent_connected: bool = True
    agent_version: str | None = "1.51.0"


HOST = Host(
    attributes={
        "ecs.instance-type": "t2.small",
        "ecs.availability-zone": "us-east-1a",
        "cores": "8",
        "flag": "",
    },
    groups={"service:db": 1, "family:batch": 2},
)

CASES = [
    # attribute:NAME with each operator (instance: t2.small in us-east-1a, cores=8)
    ("attribute:ecs.instance-type == t2.small", True),
    ("attribute:ecs.instance-type equals t2.small", True),
    ("attribute:ecs.instance-type != t2.small", False),
    ("attribute:ecs.instance-type not_equals m5.large", True),
    ("attribute:cores > 4", True),  # numbers compare as numbers: 8 > 4
    ("attribute:cores > 10", False),  # 8 > 10 is false (as strings "8" > "10" would be true)
    ("attribute:cores >= 8", True),
    ("attribute:cores greater_than_equal 9", False),
    ("attribute:cores < 9", True),
    ("attribute:cores less_than 8", False),
    ("attribute:cores <= 8", True),
    ("attribute:cores less_than_equal 7", False),
    ("attribute:cores greater_than 7", True),
    ("attribute:flag exists", True),  # set without a value still exists
    ("attribute:missing exists", False),
    ("attribute:missing !exists", True),
    ("attribute:flag not_exists", False),
    ("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", True),
    ("attribute:ecs.availability-zone in [us-east-1c]", False),
    ("attribute:ecs.availability-zone !in [us-east-1c]", True),
    ("attribute:ecs.availability-zone not_in [us-east-1a]", False),
    ("attribute:ecs.instance-type =~ t2.*", True),
    ("attribute:ecs.instance-type matches t2", False),  # the whole value must match
    ("attribute:ecs.instance-type !~ g2.*", True),
    ("attribute:ecs.instance-type not_matches t2\\..*", False),
    ("attribute:missing == x", False),
    ("attribute:missing != x", True),
    ("attribute:missing not_in [x]", True),
    # the other subjects
    ("ec2InstanceId == i-0abc", True),
    ("ec2InstanceId in ['i-0abc', 'i-0def']", True),
    ("ec2InstanceId =~ i-0.*", True),
    ("ec2InstanceId !~ i-0.*", False),
    ("registeredAt == 2018-06-18T22:28:28Z", True),
    ("registeredAt > 2018-06-18", True),  # date only = midnight UTC
    ("registeredAt < 2018-06-18T22:28:28+00:00", False),
    ("registeredAt <= 2018-06-18T22:28:28", True),  # no zone = UTC
    ("runningTasksCount == 2", True),
    ("runningTasksCount > 2", False),
    ("runningTasksCount != 0", True),
    ("task:group == service:db", True),
    ("task:group == service:web", False),
    ("task:group != service:web", True),
    ("task:group in [service:web, family:batch]", True),
    ("task:group not_in [service:db]", False),
    ("task:group =~ family:.*", True),
    ("task:group exists", True),
    ("agentConnected == true", True),
    ("agentConnected != true", False),
    ("agentVersion >= 1.9.0", True),  # versions compare by parts: 51 > 9
    ("agentVersion < 1.51.1", True),
    # compound expressions: and binds tighter than or
    ("attribute:cores == 8 and runningTasksCount == 2", True),
    ("attribute:cores == 8 && runningTasksCount == 3", False),
    ("attribute:cores == 1 or runningTasksCount == 2", True),
    ("attribute:cores == 1 || runningTasksCount == 3", False),
    ("attribute:cores == 1 or attribute:cores == 8 and runningTasksCount == 3", False),
    ("(attribute:cores == 1 or attribute:cores == 8) and runningTasksCount == 2", True),
    ("not(task:group == service:db)", False),
    ("not task:group == service:web", True),
    ("!(attribute:ecs.instance-type == t2.small)", False),
    ("! attribute:missing exists", True),
    ("attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1d", True),
]


@pytest.mark.parametrize(("expression", "expected"), CASES)
def test_expression(expression: str, expected: bool) -> None:
    assert parse(expression)(HOST) is expected


def test_task_group_expressions_are_dynamic() -> None:
    assert parse("task:group == service:db").dynamic
    assert parse("attribute:a exists or not task:group exists").dynamic
    assert not parse("attribute:a exists").dynamic


ERRORS = [
    # (expression, what the message says, 1-based position where it broke)
    ("attribute:x ==", "expected a value", 15),
    ("foo == bar", "unknown subject 'foo'", 1),
    ("attribute:x ~~ y", "expected an operator", 13),
    ("(attribute:x exists", "expected ')'", 20),
    ("attribute:x in [a, b", "expected ']'", 21),
    ("attribute:x in a", "expected '['", 16),
    ("runningTasksCount =~ 1", "operator '=~' cannot be used with runningTasksCount", 19),
    ("ec2InstanceId > i-1", "operator '>' cannot be used with ec2InstanceId", 15),
    ("runningTasksCount > many", "needs an integer", 1),
    ("registeredAt > yesterday", "needs a date", 1),
    ("attribute:x == y extra", "unexpected text", 18),
    ("attribute:x == y and", "expected an expression", 21),
    ("", "expected an expression", 1),
    ("attribute:x == 'open", "unterminated quoted value", 16),
]


@pytest.mark.parametrize(("expression", "message", "position"), ERRORS)
def test_malformed_expression_says_where(expression: str, message: str, position: int) -> None:
    with pytest.raises(InvalidParameterException) as exc:
        parse(expression)
    text = str(exc.value)
    assert message in text
    assert f"at position {position} " in text


def test_expressions_longer_than_2000_characters_are_refused() -> None:
    with pytest.raises(InvalidParameterException):
        parse("attribute:a exists or " * 100 + "attribute:a exists")

"""The cluster query language: ``memberOf`` expressions and ListContainerInstances filters.

ECS's grammar (Developer Guide, "Create expressions to define container
instances"): an expression is ``subject operator [argument]``; expressions
combine with ``and``/``&&``, ``or``/``||`` and ``not``/``!``, and parentheses
set precedence (a single expression cannot contain parentheses)::

    expr     := or
    or       := and (("or" | "||") and)*
    and      := unary (("and" | "&&") unary)*
    unary    := ("not" | "!") unary | "(" expr ")" | test
    test     := subject operator [argument]
    subject  := attribute:NAME | ec2InstanceId | registeredAt | runningTasksCount
              | task:group | agentConnected | agentVersion
    argument := value | "[" value ("," value)* "]"
    value    := a bare word, or a 'single' / "double" quoted string

Operators (and their word forms): ``==`` equals, ``!=`` not_equals, ``>``
greater_than, ``>=`` greater_than_equal, ``<`` less_than, ``<=``
less_than_equal, ``exists``, ``!exists`` not_exists, ``in``, ``!in``
not_in, ``=~`` matches, ``!~`` not_matches (a Java-style regular expression
that must match the whole value). ``and`` binds tighter than ``or``.

Parsing compiles the expression into a predicate over an :class:`Subject`
(anything with the instance fields below), so evaluating it per instance costs
a few attribute reads. A malformed expression raises InvalidParameterException
naming the position where it broke.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol

from portside.domain.errors import InvalidParameterException

MAX_LENGTH = 2000


class Subject(Protocol):
    """What an expression can ask about a container instance."""

    @property
    def attributes(self) -> Mapping[str, str]: ...
    @property
    def ec2_instance_id(self) -> str | None: ...
    @property
    def registered_at(self) -> datetime | None: ...
    @property
    def running_tasks_count(self) -> int: ...
    @property
    def groups(self) -> Mapping[str, int]: ...
    @property
    def agent_connected(self) -> bool: ...
    @property
    def agent_version(self) -> str | None: ...


Predicate = Callable[[Subject], bool]

_OPS = {
    "==": "==", "equals": "==",
    "!=": "!=", "not_equals": "!=",
    ">": ">", "greater_than": ">",
    ">=": ">=", "greater_than_equal": ">=",
    "<": "<", "less_than": "<",
    "<=": "<=", "less_than_equal": "<=",
    "exists": "exists",
    "!exists": "!exists", "not_exists": "!exists",
    "in": "in",
    "!in": "!in", "not_in": "!in",
    "=~": "=~", "matches": "=~",
    "!~": "!~", "not_matches": "!~",
}  # fmt: skip
_SYMBOLS = ("!exists", "!in", ">=", "<=", "==", "!=", "=~", "!~", ">", "<")
_EQUALITY = frozenset({"==", "!=", "in", "!in", "=~", "!~"})
_ORDERED = frozenset({"==", "!=", ">", ">=", "<", "<="})
_VALID: dict[str, frozenset[str]] = {
    "agentConnected": _EQUALITY,
    "agentVersion": _ORDERED,
    "ec2InstanceId": _EQUALITY,
    "registeredAt": _ORDERED,
    "runningTasksCount": _ORDERED,
    "task:group": _EQUALITY | {"exists", "!exists"},
}
_ATTRIBUTE = re.compile(r"attribute:([A-Za-z0-9_./\\-]{1,128})")
_WORD = re.compile(r"[^\s()\[\],]+")


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed expression: ``query(instance) -> bool``."""

    text: str
    predicate: Predicate
    dynamic: bool
    """True when it asks about task groups, which change as tasks are placed."""

    def __call__(self, subject: Subject) -> bool:
        return self.predicate(subject)


def parse(text: str) -> Query:
    """Compile a cluster query expression, or raise InvalidParameterException."""
    return _parse(text)


@lru_cache(maxsize=1024)
def _parse(text: str) -> Query:
    if len(text) > MAX_LENGTH:
        raise InvalidParameterException(f"The expression is longer than {MAX_LENGTH} characters.")
    parser = _Parser(text)
    predicate = parser.parse_or()
    parser.skip()
    if parser.pos < len(text):
        parser.fail("unexpected text")
    return Query(text, predicate, parser.dynamic)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.dynamic = False

    # -- lexical helpers --------------------------------------------------

    def fail(self, what: str) -> None:
        near = self.text[self.pos : self.pos + 20] or "end of expression"
        raise InvalidParameterException(
            f"Invalid cluster query expression {self.text!r}: {what} at position "
            f"{self.pos + 1} (near {near!r})."
        )

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek_word(self) -> str:
        self.skip()
        m = _WORD.match(self.text, self.pos)
        return m.group(0) if m else ""

    def take(self, token: str) -> bool:
        """Consume ``token`` if it comes next (a keyword must end at a word boundary)."""
        self.skip()
        if not self.text.startswith(token, self.pos):
            return False
        end = self.pos + len(token)
        if token[-1].isalpha() and end < len(self.text) and _WORD.match(self.text[end]):
            return False
        self.pos = end
        return True

    # -- grammar ----------------------------------------------------------

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.take("||") or self.take("or"):
            parts.append(self.parse_and())
        if len(parts) == 1:
            return parts[0]
        return lambda s: any(p(s) for p in parts)

    def parse_and(self) -> Predicate:
        parts = [self.parse_unary()]
        while self.take("&&") or self.take("and"):
            parts.append(self.parse_unary())
        if len(parts) == 1:
            return parts[0]
        return lambda s: all(p(s) for p in parts)

    def parse_unary(self) -> Predicate:
        self.skip()
        if self.take("not") or self.take("!"):
            inner = self.parse_unary()
            return lambda s: not inner(s)
        if self.take("("):
            inner = self.parse_or()
            if not self.take(")"):
                self.fail("expected ')'")
            return inner
        if self.pos >= len(self.text):
            self.fail("expected an expression")
        return self.parse_test()

    def parse_test(self) -> Predicate:
        start = self.pos
        subject = self.peek_word()
        if not subject:
            self.fail("expected a subject")
        attr = _ATTRIBUTE.fullmatch(subject)
        if attr is None and subject not in _VALID:
            self.fail(
                f"unknown subject {subject!r} (use attribute:NAME, ec2InstanceId, registeredAt, "
                "runningTasksCount, task:group, agentConnected or agentVersion)"
            )
        self.pos += len(subject)
        op_at = self.pos
        op = self.parse_operator()
        allowed = _VALID.get(subject)
        if allowed is not None and op not in allowed:
            self.pos = op_at
            self.skip()
            self.fail(f"operator {op!r} cannot be used with {subject}")
        if op in ("exists", "!exists"):
            args: list[str] = []
        elif op in ("in", "!in"):
            args = self.parse_list()
        else:
            args = [self.parse_value()]
        if subject == "task:group":
            self.dynamic = True
        try:
            return _compile(subject, attr.group(1) if attr else None, op, args)
        except (ValueError, re.error) as exc:
            self.pos = start
            self.fail(str(exc))
            raise  # unreachable

    def parse_operator(self) -> str:
        self.skip()
        for sym in _SYMBOLS:
            if self.text.startswith(sym, self.pos):
                if sym[-1].isalpha() and self.take(sym):
                    return _OPS[sym]
                if not sym[-1].isalpha():
                    self.pos += len(sym)
                    return _OPS[sym]
        word = self.peek_word()
        if word in _OPS and word.isidentifier():
            self.pos += len(word)
            return _OPS[word]
        self.fail("expected an operator")
        raise AssertionError  # unreachable

    def parse_value(self) -> str:
        self.skip()
        if self.pos < len(self.text) and self.text[self.pos] in "'\"":
            quote = self.text[self.pos]
            end = self.text.find(quote, self.pos + 1)
            if end < 0:
                self.fail("unterminated quoted value")
            value = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return value
        m = _WORD.match(self.text, self.pos)
        if m is None:
            self.fail("expected a value")
            raise AssertionError  # unreachable
        self.pos = m.end()
        return m.group(0)

    def parse_list(self) -> list[str]:
        if not self.take("["):
            self.fail("expected '[' to open an argument list")
        values = [self.parse_value()]
        while self.take(","):
            values.append(self.parse_value())
        if not self.take("]"):
            self.fail("expected ']' to close the argument list")
        return values


# -- evaluation ----------------------------------------------------------------


def _compile(subject: str, attr: str | None, op: str, args: list[str]) -> Predicate:
    if subject == "task:group":
        return _group_test(op, args)
    raw: Callable[[Subject], object]
    conv: Callable[[str], object]
    if attr is not None:
        raw, conv = (lambda s: s.attributes.get(attr)), _loose
    elif subject == "ec2InstanceId":
        raw, conv = (lambda s: s.ec2_instance_id), str
    elif subject == "agentConnected":
        raw, conv = (lambda s: str(s.agent_connected).lower()), str.lower
    elif subject == "runningTasksCount":
        raw, conv = (lambda s: s.running_tasks_count), _integer
    elif subject == "registeredAt":
        raw, conv = (lambda s: s.registered_at), _timestamp
    else:  # agentVersion
        raw, conv = (lambda s: s.agent_version), _version
    if op in ("=~", "!~"):
        return _match_test(raw, op, args[0])
    get = raw if attr is None and subject != "agentVersion" else _converted(raw, conv)
    return _value_test(get, op, [conv(a) for a in args])


def _converted(
    raw: Callable[[Subject], object], conv: Callable[[str], object]
) -> Callable[[Subject], object]:
    def get(s: Subject) -> object:
        v = raw(s)
        return conv(v) if isinstance(v, str) else v

    return get


def _match_test(raw: Callable[[Subject], object], op: str, pattern_text: str) -> Predicate:
    pattern = re.compile(pattern_text)

    def matches(s: Subject) -> bool:
        v = raw(s)
        return v is not None and pattern.fullmatch(str(v)) is not None

    if op == "=~":
        return matches
    return lambda s: not matches(s)


def _value_test(get: Callable[[Subject], object], op: str, values: list[object]) -> Predicate:
    if op == "exists":
        return lambda s: get(s) is not None
    if op == "!exists":
        return lambda s: get(s) is None
    if op == "in":
        return lambda s: (v := get(s)) is not None and v in values
    if op == "!in":
        return lambda s: (v := get(s)) is None or v not in values
    arg = values[0]
    if op == "==":
        return lambda s: get(s) == arg
    if op == "!=":
        return lambda s: get(s) != arg
    compare = _COMPARE[op]
    return lambda s: _ordered(get(s), arg, compare)


def _group_test(op: str, args: list[str]) -> Predicate:
    if op == "exists":
        return lambda s: any(n > 0 for n in s.groups.values())
    if op == "!exists":
        return lambda s: not any(n > 0 for n in s.groups.values())
    if op in ("=~", "!~"):
        pattern = re.compile(args[0])
        hit: Predicate = lambda s: any(n > 0 and pattern.fullmatch(g) for g, n in s.groups.items())  # noqa: E731
    else:
        wanted = set(args)
        hit = lambda s: any(s.groups.get(g, 0) > 0 for g in wanted)  # noqa: E731
    if op in ("==", "in", "=~"):
        return hit
    return lambda s: not hit(s)


_COMPARE: dict[str, Callable[[object, object], bool]] = {
    ">": lambda a, b: a > b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
}


def _ordered(value: object, arg: object, compare: Callable[[object, object], bool]) -> bool:
    if value is None:
        return False
    if isinstance(value, str) != isinstance(arg, str):
        value, arg = str(value), str(arg)
    try:
        return compare(value, arg)
    except TypeError:
        return False


def _loose(text: str) -> object:
    """Attribute values compare as numbers when both sides are numbers."""
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"runningTasksCount needs an integer, got {text!r}") from None


def _timestamp(text: str) -> datetime:
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text.replace("Z", "+00:00"), fmt)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(
        f"registeredAt needs a date such as 2018-06-18T22:28:28Z or 2018-06-18, got {text!r}"
    )


def _version(text: str) -> tuple[int, ...]:
    parts = re.findall(r"\d+", text)
    if not parts:
        raise ValueError(f"agentVersion needs a version such as 1.51.0, got {text!r}")
    return tuple(int(p) for p in parts)

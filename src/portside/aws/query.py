"""The AWS query protocols: Auto Scaling's ``query`` and EC2's ``ec2``.

A request is a form-urlencoded POST: ``Action=CreateAutoScalingGroup&Version=…``
followed by the parameters flattened to dotted keys. The flattening is the
inverse of botocore's ``QuerySerializer`` / ``EC2Serializer``:

- structure members: ``Prefix.Member`` (query: the member's ``locationName`` if
  it has one; ec2: ``queryName``, else the capitalised ``locationName``);
- lists: query ``Prefix.member.N`` (or the member's ``locationName``; flattened
  lists drop it), ec2 always ``Prefix.N``; an empty list is ``Prefix=``;
- maps: ``Prefix.entry.N.key`` / ``Prefix.entry.N.value``;
- scalars as text: ``true``/``false``, decimal numbers, ISO 8601 timestamps,
  base64 blobs.

Decoding walks the operation's input shape over the flat keys and rebuilds the
nested value in wire names, then hands it to :func:`shapes.decode_input`, so
required members, enums, lengths and ranges are checked exactly as for JSON,
with the same messages. A key no member claims is an unknown parameter.

Responses are XML. The result is first renamed by :func:`shapes.encode_output`
(snake_case to wire names, timestamps to ISO 8601), then written element by
element with the model's ``locationName``s: query wraps it as
``<OpResponse xmlns><OpResult>…</OpResult><ResponseMetadata><RequestId>``, ec2 as
``<OpResponse xmlns><requestId>…`` with list items named ``item``. Errors use
``<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>`` (query)
and ``<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/>``
(ec2).
"""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from portside.aws.errors import AwsError, SerializationException, ValidationError
from portside.aws.protocols import Encoded

FORM = "application/x-www-form-urlencoded"
_ENVELOPE_KEYS = frozenset({"Action", "Version"})


def form_params(body: bytes) -> dict[str, str]:
    """The flat ``key=value`` pairs of a form-urlencoded body (the last of a repeated key)."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise SerializationException("The request body is not valid UTF-8.") from None
    return dict(parse_qsl(text, keep_blank_values=True))


class _Reader:
    """One walk over an input shape, reading flat keys and noting the ones it used."""

    def __init__(self, params: dict[str, str], ec2: bool):
        self.params = params
        self.ec2 = ec2
        self.used: set[str] = set()
        self.prefixes: set[str] = set()
        for key in params:
            parts = key.split(".")
            for i in range(1, len(parts)):
                self.prefixes.add(".".join(parts[:i]))

    def present(self, key: str) -> bool:
        return key in self.params or key in self.prefixes

    def member_name(self, shape: Shape, default: str) -> str:
        ser = shape.serialization
        if self.ec2:
            if "queryName" in ser:
                return str(ser["queryName"])
            if "name" in ser:
                name = str(ser["name"])
                return name[0].upper() + name[1:]
            return default
        return str(ser.get("name", default))

    def read(self, shape: Shape, key: str) -> Any:
        kind = shape.type_name
        if kind == "structure":
            assert isinstance(shape, StructureShape)
            return self.structure(shape, key)
        if kind == "list":
            assert isinstance(shape, ListShape)
            return self.sequence(shape, key)
        if kind == "map":
            assert isinstance(shape, MapShape)
            return self.mapping(shape, key)
        return self.scalar(shape, key)

    def structure(self, shape: StructureShape, prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for wire, sub in shape.members.items():
            name = self.member_name(sub, wire)
            key = f"{prefix}.{name}" if prefix else name
            if self.present(key):
                out[wire] = self.read(sub, key)
        return out

    def sequence(self, shape: ListShape, prefix: str) -> list[Any]:
        if self.ec2:
            base = prefix
        elif shape.serialization.get("flattened"):
            base = prefix
            if shape.member.serialization.get("name"):
                base = ".".join([*prefix.split(".")[:-1], shape.member.serialization["name"]])
        else:
            base = f"{prefix}.{shape.member.serialization.get('name', 'member')}"
        if prefix in self.params:
            self.used.add(prefix)
            if self.params[prefix] != "" or (base in self.prefixes and base != prefix):
                raise ValidationError(f"{prefix} is a list: send {base}.1, {base}.2, …")
            return []
        items = []
        i = 1
        while self.present(f"{base}.{i}"):
            items.append(self.read(shape.member, f"{base}.{i}"))
            i += 1
        return items

    def mapping(self, shape: MapShape, prefix: str) -> dict[Any, Any]:
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name = str(shape.key.serialization.get("name", "key"))
        value_name = str(shape.value.serialization.get("name", "value"))
        out: dict[Any, Any] = {}
        i = 1
        while self.present(f"{base}.{i}"):
            k = self.read(shape.key, f"{base}.{i}.{key_name}")
            out[k] = self.read(shape.value, f"{base}.{i}.{value_name}")
            i += 1
        return out

    def scalar(self, shape: Shape, key: str) -> Any:
        if key not in self.params:
            raise ValidationError(f"{key} must be a single value, not a structure or list")
        self.used.add(key)
        text = self.params[key]
        kind = shape.type_name
        try:
            if kind in ("integer", "long"):
                return int(text)
            if kind in ("double", "float"):
                return float(text)
        except ValueError:
            raise ValidationError(f"Invalid value {text!r} for {key}: expected a number") from None
        if kind == "boolean":
            lowered = text.lower()
            if lowered not in ("true", "false"):
                raise ValidationError(f"Invalid value {text!r} for {key}: expected true or false")
            return lowered == "true"
        return text  # strings; timestamps and blobs are parsed by decode_input


def unflatten(shape: Shape | None, params: dict[str, str], *, ec2: bool) -> dict[str, Any]:
    """The nested, wire-named value that flat query ``params`` encode for ``shape``."""
    reader = _Reader(params, ec2)
    value = reader.structure(shape, "") if isinstance(shape, StructureShape) else {}
    unknown = sorted(set(params) - reader.used - _ENVELOPE_KEYS)
    if unknown:
        raise ValidationError(f"Unknown parameter {unknown[0]!r}")
    return value


def iso8601(value: datetime) -> str:
    """Query and ec2 timestamps: ISO 8601 in UTC with milliseconds."""
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return iso8601(value)
    return escape(str(value))


def to_xml(shape: Shape, value: Any, name: str, out: list[str]) -> None:
    """Append ``value`` (wire names) as the element ``name`` described by ``shape``."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        out.append(f"<{name}>")
        _members(shape, value, out)
        out.append(f"</{name}>")
    elif kind == "list":
        assert isinstance(shape, ListShape)
        item = str(shape.member.serialization.get("name", "member"))
        if shape.serialization.get("flattened"):
            for v in value:
                to_xml(shape.member, v, name, out)
            return
        out.append(f"<{name}>")
        for v in value:
            to_xml(shape.member, v, item, out)
        out.append(f"</{name}>")
    elif kind == "map":
        assert isinstance(shape, MapShape)
        k_name = str(shape.key.serialization.get("name", "key"))
        v_name = str(shape.value.serialization.get("name", "value"))
        flat = bool(shape.serialization.get("flattened"))
        if not flat:
            out.append(f"<{name}>")
        for k, v in value.items():
            out.append(f"<{name}>" if flat else "<entry>")
            to_xml(shape.key, k, k_name, out)
            to_xml(shape.value, v, v_name, out)
            out.append(f"</{name}>" if flat else "</entry>")
        if not flat:
            out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{_text(value)}</{name}>")


def _members(shape: StructureShape, value: Any, out: list[str]) -> None:
    for wire, sub in shape.members.items():
        item = value.get(wire) if isinstance(value, dict) else None
        if item is None:
            continue
        name = str(sub.serialization.get("name", wire))
        if isinstance(sub, ListShape) and sub.serialization.get("flattened"):
            name = str(sub.member.serialization.get("name", name))
        to_xml(sub, item, name, out)


@dataclass
class QueryProtocol:
    """The query (``ec2=False``) or ec2 protocol, bound to an operation once it is known."""

    name: str
    namespace: str
    ec2: bool = False
    operation: OperationModel | None = None
    content_type: str = "text/xml"

    def action(self, body: bytes) -> str:
        """The operation a request body names."""
        action = form_params(body).get("Action")
        if not action:
            raise AwsError("The request must contain the parameter Action.", code="MissingAction")
        return action

    def bind(self, operation: OperationModel) -> QueryProtocol:
        return dataclasses.replace(self, operation=operation)

    def decode(self, body: bytes) -> Any:
        shape = self.operation.input_shape if self.operation else None
        return unflatten(shape, form_params(body), ec2=self.ec2)

    def timestamp(self, value: datetime) -> Any:
        return iso8601(value)

    def encode(self, value: Any, request_id: str) -> Encoded:
        assert self.operation is not None, "bind() the protocol to its operation first"
        op = self.operation.name
        shape = self.operation.output_shape
        out = [f'<?xml version="1.0" encoding="UTF-8"?><{op}Response xmlns="{self.namespace}">']
        if self.ec2:
            out.append(f"<requestId>{escape(request_id)}</requestId>")
            if isinstance(shape, StructureShape):
                _members(shape, value, out)
            else:
                out.append("<return>true</return>")
        else:
            if isinstance(shape, StructureShape):
                wrapper = str(shape.serialization.get("resultWrapper", f"{op}Result"))
                to_xml(shape, value, wrapper, out)
            out.append(
                f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata>"
            )
        out.append(f"</{op}Response>")
        return self._encoded(200, "".join(out), request_id)

    def encode_error(
        self, error: AwsError, namespace: str, request_id: str, members: dict[str, Any] | None = None
    ) -> Encoded:
        code = "InvalidAction" if error.code == "UnknownOperationException" else error.code
        message = escape(error.message)
        rid = escape(request_id)
        if self.ec2:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
                f"<Code>{escape(code)}</Code><Message>{message}</Message>"
                f"</Error></Errors><RequestID>{rid}</RequestID></Response>"
            )
        else:
            fault = "Sender" if error.sender_fault else "Receiver"
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><ErrorResponse xmlns="{self.namespace}">'
                f"<Error><Type>{fault}</Type><Code>{escape(code)}</Code>"
                f"<Message>{message}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>"
            )
        return self._encoded(error.status, body, request_id)

    def _encoded(self, status: int, body: str, request_id: str) -> Encoded:
        headers = {"Content-Type": self.content_type, "x-amzn-RequestId": request_id}
        return Encoded(status, headers, body.encode())


def for_model(protocol: str, xml_namespace: str) -> QueryProtocol:
    """The codec for a botocore model's ``protocol`` (``query`` or ``ec2``)."""
    if protocol not in ("query", "ec2"):
        raise ValueError(f"not a query protocol: {protocol}")
    return QueryProtocol(name=protocol, namespace=xml_namespace, ec2=protocol == "ec2")

"""Typed decoding of a stream's RECORD lines: parsing and checking in one msgspec call.

For a plain schema (see fastcheck.py) whose top-level properties msgspec can type, a
RECORD line of the stream is decoded straight into a generated Struct: string, integer
and boolean properties are checked by the decoder itself; numbers, objects, arrays and
untyped properties are kept as their raw JSON text (``msgspec.Raw``) and checked
column-wise per batch by a typed validator built from their sub-schemas.

It is only ever a fast path, never a judge: every typed check is as strict as the
generated checker or stricter. A line the typed decoder rejects (another stream, a
STATE, a value of another type, a missing required property...) goes the generic way
(dict decoding, then the usual checks and errors). A batch whose column checks are not
all sure is decoded again from its lines as dicts and checked record by record, so an
error names the same first bad record and line as a check on arrival.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from operator import attrgetter
from types import UnionType
from typing import Annotated, Any, Literal, Union

import msgspec
from msgspec.structs import astuple

from target_warehouse.fastcheck import compile_plain

_generic = msgspec.json.Decoder(float_hook=decimal.Decimal).decode
_SCALARS: dict[str, Any] = {"string": str, "integer": int, "boolean": bool, "null": None}
_SCALAR_ARGS = {str, int, bool, type(None)}
_NULL = msgspec.Raw(b"null")
_INT64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class _Unsupported(Exception):
    pass


def _types(schema: dict) -> list[str]:
    declared = schema.get("type")
    if declared is None:
        return []
    return [declared] if isinstance(declared, str) else list(declared)


def _validator_type(schema: Any) -> Any:
    """A msgspec type accepting only values the generated checker accepts."""
    if schema is True or schema == {}:
        return Any
    if not isinstance(schema, dict) or "enum" in schema:
        raise _Unsupported
    types = _types(schema)
    if not types:
        if set(schema) & {"properties", "items", "required", "additionalProperties"}:
            raise _Unsupported  # "if it is an object then ...": not a msgspec type
        return Any
    members: list[Any] = []
    for name in types:
        if name in _SCALARS:
            members.append(_SCALARS[name])
        elif name == "number":
            members.append(float)  # ints and floats (checked only, never kept as float)
        elif name == "object":
            members.append(_object_type(schema))
        elif name == "array":
            items = schema.get("items")
            members.append(list if items is None else list[_validator_type(items)])  # type: ignore[misc]
        else:
            raise _Unsupported
    result = members[0]
    for member in members[1:]:
        result = result | member
    return result


_names = iter(range(1 << 62))


def _object_type(schema: dict) -> Any:
    props = schema.get("properties")
    required = schema.get("required") or []
    extra = schema.get("additionalProperties", True)
    if props is None and not required and extra is not False:
        return dict
    if not (extra is True or extra is False or extra == {}):
        raise _Unsupported
    props = props or {}
    fields: list[tuple[Any, ...]] = []
    rename: dict[str, str] = {}
    for i, key in enumerate([*props, *(k for k in required if k not in props)]):
        sub = props.get(key, True)
        field = f"f{i}"
        rename[field] = key
        kind = _validator_type(sub)
        fields.append((field, kind) if key in required else (field, kind, None))
    fields.sort(key=len)  # fields without a default first, as msgspec requires
    return msgspec.defstruct(
        f"V{next(_names)}", fields, rename=rename, forbid_unknown_fields=extra is False
    )


class TypedStream:
    """A stream's typed RECORD decoder and the per-batch column checks it leaves."""

    def __init__(self, stream: str, schema: dict) -> None:
        props: dict = schema.get("properties") or {}
        required = list(schema.get("required") or [])
        if _types(schema) not in ([], ["object"]) or "enum" in schema or "items" in schema:
            raise _Unsupported  # compile_plain took it: only these keywords remain
        extra = schema.get("additionalProperties", True)
        if not (extra is True or extra is False or extra == {}):
            raise _Unsupported
        fields: list[tuple[Any, ...]] = []
        rename: dict[str, str] = {}
        self.attrs: dict[str, str] = {}  # property -> Struct attribute
        # property -> validator of a whole column (a JSON array of its raw values)
        self.raw_checks: dict[str, Callable[[bytes], Any]] = {}
        # property -> the Python types its values can have (scalar properties only)
        self.scalar_types: dict[str, frozenset[type]] = {}
        for i, key in enumerate([*props, *(k for k in required if k not in props)]):
            sub = props.get(key, True)
            field = f"f{i}"
            rename[field] = key
            self.attrs[key] = field
            kind = _validator_type(sub)
            scalar = kind in (str, int, bool) or (
                isinstance(kind, UnionType) and set(kind.__args__) <= _SCALAR_ARGS
            )
            if scalar:
                members = kind.__args__ if isinstance(kind, UnionType) else (kind,)
                # integers beyond BIGINT go the generic way (their column is widened)
                typed: Any = Union[tuple(_INT64 if m is int else m for m in members)]  # noqa: UP007
                default: Any = None
                self.scalar_types[key] = frozenset({*members, type(None)})
            else:
                typed, default = msgspec.Raw, _NULL
                self.raw_checks[key] = msgspec.json.Decoder(list[kind]).decode  # type: ignore[valid-type]
            fields.append((field, typed) if key in required else (field, typed, default))
        fields.sort(key=len)
        # gc=False: decoded JSON holds no reference cycles, and untracked records make
        # the per-batch collection (and allocation) cheaper.
        record = msgspec.defstruct(
            "Record", fields, rename=rename, forbid_unknown_fields=extra is False, gc=False
        )
        self._fields: tuple[str, ...] = record.__struct_fields__  # astuple's order
        envelope = msgspec.defstruct(
            "Envelope",
            [
                ("type", Literal["RECORD"]),  # type: ignore[valid-type]
                ("stream", Literal[stream]),  # type: ignore[valid-type]
                ("record", record),
                ("time_extracted", Any, None),
                ("version", Any, None),
            ],
            gc=False,
        )
        self.decode: Callable[[bytes], Any] = msgspec.json.Decoder(
            envelope, float_hook=decimal.Decimal
        ).decode

    def columns(
        self, envelopes: list[Any], raw_json: set[str], encoded: set[str]
    ) -> dict[str, list[Any]] | None:
        """Each property's values as dict.get would give them, or None when not sure.

        Properties in ``raw_json`` may keep their JSON text as read (``msgspec.Raw``, a
        buffer; None for null) when it has no escape sequence (jsonb reads it as it reads
        to_json's text): those are added to ``encoded``, and must not be encoded again.
        """
        records = map(attrgetter("record"), envelopes)
        # one tuple per record, transposed: each field's values in C loops
        columns = zip(*map(astuple, records), strict=True)
        by_field = dict(zip(self._fields, columns, strict=True)) if envelopes else {}
        out: dict[str, list[Any]] = {}
        for key, field in self.attrs.items():
            values = list(by_field.get(field, ()))
            check = self.raw_checks.get(key)
            if check is not None:
                try:
                    check(b"[" + b",".join(values) + b"]")
                except msgspec.DecodeError:
                    return None
                if key in raw_json and (texts := _raw_json(values)) is not None:
                    values = texts
                    encoded.add(key)
                else:
                    values = list(map(_generic, values))
            out[key] = values
        return out


def _raw_json(raws: list[Any]) -> list[Any] | None:
    """The column's JSON texts as read (msgspec.Raw, None for null), or None when one
    holds an escape sequence (a NUL, a lone surrogate...): those are decoded as usual."""
    if b"\\u" in b"".join(raws):
        return None
    if _NULL in raws:
        return [None if raw == _NULL else raw for raw in raws]
    return raws


def decode_texts(texts: list[str | None]) -> list[Any]:
    """JSON texts (None for null) back to values, as the generic decoder gives them."""
    return [None if t is None else _generic(t) for t in texts]


def materialize(line: bytes) -> tuple[dict, Any, Any]:
    """(record, time_extracted, version) of a typed line, decoded the generic way."""
    message = _generic(line)
    return message["record"], message.get("time_extracted"), message.get("version")


def typed_stream(stream: str, schema: dict) -> TypedStream | None:
    """The typed decoder for a stream, or None when its schema needs the generic path."""
    if compile_plain(schema) is None:
        return None
    try:
        return TypedStream(stream, schema)
    except (_Unsupported, TypeError, ValueError):
        return None

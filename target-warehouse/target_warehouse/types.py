"""JSON Schema -> logical column type, widening rules, and value conversion.

Backends map each :class:`LogicalType` to their own SQL type; nothing here speaks SQL.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
from collections.abc import Callable
from typing import Any

import simplejson


class LogicalType(enum.StrEnum):
    BOOLEAN = "boolean"
    INTEGER = "integer"
    NUMBER = "number"
    DATE = "date"
    TIME = "time"
    TIMESTAMP = "timestamp"
    TEXT = "text"
    JSON = "json"


_STRING_FORMATS = {
    "date-time": LogicalType.TIMESTAMP,
    "date": LogicalType.DATE,
    "time": LogicalType.TIME,
}
_SIMPLE = {
    "integer": LogicalType.INTEGER,
    "number": LogicalType.NUMBER,
    "boolean": LogicalType.BOOLEAN,
    "object": LogicalType.JSON,
    "array": LogicalType.JSON,
}


def widen(current: LogicalType, incoming: LogicalType) -> LogicalType:
    """The narrowest type that can hold values of both types.

    integer+number -> number; any other mix -> text (JSON values are kept as JSON text).
    Columns only ever widen: a narrower incoming type is stored in the wider column.
    """
    if current == incoming:
        return current
    if {current, incoming} == {LogicalType.INTEGER, LogicalType.NUMBER}:
        return LogicalType.NUMBER
    return LogicalType.TEXT


def _single(type_name: str, schema: dict[str, Any]) -> LogicalType | None:
    if type_name == "string":
        return _STRING_FORMATS.get(schema.get("format", ""), LogicalType.TEXT)
    return _SIMPLE.get(type_name)


def logical_type(schema: dict[str, Any]) -> LogicalType:
    """Column type for one property's JSON Schema.

    ``["null", "x"]`` is ``x``; several non-null types (or anyOf/oneOf branches) are
    folded with :func:`widen`; a property with no usable type (``{}``, only ``null``,
    ``$ref``...) is JSON, which can hold anything.
    """
    found: list[LogicalType] = []
    declared = schema.get("type")
    if declared is not None:
        for name in [declared] if isinstance(declared, str) else declared:
            if name != "null" and (lt := _single(name, schema)) is not None:
                found.append(lt)
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key) or ():
            if isinstance(branch, dict) and not _is_null_only(branch):
                found.append(logical_type(branch))
    if not found:
        return LogicalType.JSON
    result = found[0]
    for lt in found[1:]:
        result = widen(result, lt)
    return result


def _is_null_only(schema: dict[str, Any]) -> bool:
    declared = schema.get("type")
    return declared == "null" or declared == ["null"]


# -- value conversion ---------------------------------------------------------------


class _NeedsExactNumbers(Exception):
    """A Decimal inside the value: the stdlib encoder would have to round or quote it."""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        raise _NeedsExactNumbers
    return str(value)


def _exact_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


_SEPARATORS = (",", ":")
try:
    from json.encoder import c_encode_basestring, c_make_encoder  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - CPython always has the C encoder
    c_make_encoder = None

if c_make_encoder is not None and c_encode_basestring is not None:
    # The stdlib's C encoder, built once: json.dumps rebuilds it on every call, which
    # costs more than encoding a small object (three nested objects per Stripe charge).
    _c_encoder = c_make_encoder(
        None, _json_default, c_encode_basestring, None, ":", ",", False, False, True
    )

    def _encode_fast(value: Any) -> str:
        return "".join(_c_encoder(value, 0))

else:  # pragma: no cover
    _encode_fast = json.JSONEncoder(
        ensure_ascii=False, separators=_SEPARATORS, default=_json_default
    ).encode
_encode_exact = simplejson.JSONEncoder(
    use_decimal=True, ensure_ascii=False, separators=_SEPARATORS, default=_exact_default
).encode


def to_json(value: Any) -> str:
    """Compact JSON text; Decimals stay exact, non-ASCII stays as-is."""
    try:
        return _encode_fast(value)
    except _NeedsExactNumbers:
        return _encode_exact(value)


try:
    import msgspec

    # Same text as to_json for what JSON input decodes to (str, int, Decimal, bool, None,
    # dict, list): compact, non-ASCII as is, Decimals exact; ~4x faster.
    _msgspec_encode: Callable[[Any], bytes] | None = msgspec.json.Encoder(
        decimal_format="number"
    ).encode
except ImportError:  # pragma: no cover - msgspec is a dependency
    _msgspec_encode = None


def json_column(values: list[Any]) -> list[str | None]:
    """to_json over a column (None stays None), in C loops when msgspec can encode it."""
    encode = _msgspec_encode
    if encode is not None:
        try:
            if None in values:
                return [None if v is None else encode(v).decode() for v in values]
            return list(map(bytes.decode, map(encode, values)))
        except (TypeError, ValueError, OverflowError):  # e.g. a lone surrogate, a set
            pass
    return [None if v is None else to_json(v) for v in values]


_STR_OR_NONE = frozenset({str, type(None)})


def text_column(values: list[Any], known: frozenset[type] | None = None) -> list[Any]:
    """A text column's values as text: the other members of a union (true, an object, a
    number) in their to_text form, the same on every backend (psycopg would dump a
    boolean as 't'). ``known``: the values' types, when known without looking."""
    if (known if known is not None else set(map(type, values))) <= _STR_OR_NONE:
        return values
    return [v if v is None or type(v) is str else to_text(v) for v in values]


def to_text(value: Any) -> str:
    """Text form of a scalar stored in a column widened to text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, int | decimal.Decimal | float):
        return str(value)
    return to_json(value)


def converter(schema_type: LogicalType, column_type: LogicalType) -> Callable[[Any], Any] | None:
    """Per-value conversion from what the record holds to what the column stores.

    ``None`` means "store the Python value as it is" (the common, fast path). JSON
    columns always get JSON text; text columns holding another schema type (after
    widening) get a canonical text form.
    """
    if column_type is LogicalType.JSON:
        return to_json
    if column_type is LogicalType.TEXT and schema_type is not LogicalType.TEXT:
        return to_text
    return None


def convert_column(values: list[Any], fn: Callable[[Any], Any] | None) -> list[Any]:
    if fn is None:
        return values
    if fn is to_json:
        return json_column(values)
    return [None if v is None else fn(v) for v in values]


# -- column-wise checks done once per batch -----------------------------------------

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_PARSERS: dict[LogicalType, Callable[[str], Any]] = {
    LogicalType.TIMESTAMP: datetime.datetime.fromisoformat,
    LogicalType.DATE: datetime.date.fromisoformat,
    LogicalType.TIME: datetime.time.fromisoformat,
}


def parse_temporal(values: list[Any], lt: LogicalType) -> tuple[list[Any], list[int]]:
    """ISO strings -> datetime/date/time; the indexes of values that do not parse become None.

    Naive date-times stay naive here: both backends read them as UTC. Each distinct
    value is parsed once (metadata times and nullable columns repeat a lot).
    """
    parse = _PARSERS[lt]
    try:
        distinct: dict[Any, None] | None = dict.fromkeys(values)
    except TypeError:  # unhashable values (validation off): one by one
        distinct = None
    if distinct is not None and len(distinct) * 2 > len(values):
        try:
            return list(map(parse, values)), []  # mostly distinct valid strings
        except (ValueError, TypeError):
            pass
    if distinct is not None:
        parsed: dict[Any, Any] = {}
        failed = False
        for v in distinct:
            parsed[v] = _parse_one(parse, v, lt)
            failed = failed or (parsed[v] is None and v is not None)
        out = list(map(parsed.__getitem__, values))
        if not failed:
            return out, []
        pairs = enumerate(zip(values, out, strict=True))
        return out, [i for i, (v, p) in pairs if p is None and v is not None]
    out = []
    bad: list[int] = []
    for i, v in enumerate(values):
        p = _parse_one(parse, v, lt)
        if p is None and v is not None:
            bad.append(i)
        out.append(p)
    return out, bad


_UNPARSEABLE = None


def _parse_one(parse: Callable[[str], Any], v: Any, lt: LogicalType) -> Any:
    if v is None:
        return None
    try:
        parsed = parse(v)
    except (ValueError, TypeError):
        return _UNPARSEABLE
    if lt is LogicalType.DATE and isinstance(parsed, datetime.datetime):
        parsed = parsed.date()
    return parsed


def integers_fit_int64(values: list[Any]) -> bool:
    """False when a value needs more than BIGINT (then the column widens to NUMERIC)."""
    present = list(filter(None, values))  # zeros and False fit anyway
    if not present:
        return True
    try:
        return min(present) >= INT64_MIN and max(present) <= INT64_MAX
    except TypeError:  # non-numbers (validation off): let the database judge them
        return True

"""COPY of a batch into a PostgreSQL table: binary when every value allows it, else text.

Binary COPY uses psycopg's C dumpers (numbers exact, date-times as instants, strings
byte for byte, JSON text as jsonb's binary form: a version byte and the text; JSON kept
as read, a ``msgspec.Raw`` buffer, goes as those bytes without being decoded); a batch
holding a value of another Python type (possible with validation off) goes as text,
for PostgreSQL to parse and judge.
"""

from __future__ import annotations

import datetime
import decimal
import operator
from typing import Any

import msgspec
import psycopg
from psycopg.adapt import Dumper, Transformer
from psycopg.pq import Format
from psycopg.types.string import BytesBinaryDumper

from target_warehouse.backends import ColumnSpec
from target_warehouse.types import LogicalType

_NONE = type(None)
_TEMPORAL = (LogicalType.TIMESTAMP, LogicalType.DATE, LogicalType.TIME)
# Python types each column takes in binary COPY. Anything else: the batch goes as text.
_BINARY_OK: dict[LogicalType, frozenset[type]] = {
    LogicalType.BOOLEAN: frozenset({bool, _NONE}),
    LogicalType.INTEGER: frozenset({int, _NONE}),
    LogicalType.NUMBER: frozenset({int, decimal.Decimal, _NONE}),
    LogicalType.DATE: frozenset({datetime.date, _NONE}),
    LogicalType.TIME: frozenset({datetime.time, _NONE}),
    LogicalType.TIMESTAMP: frozenset({datetime.datetime, _NONE}),
    LogicalType.TEXT: frozenset({str, _NONE}),
    LogicalType.JSON: frozenset({str, msgspec.Raw, _NONE}),
}
_MIXED_JSON = frozenset({str, msgspec.Raw})
_UTC = datetime.UTC
_tzinfo = operator.attrgetter("tzinfo")


class JsonbTextDumper(Dumper):
    """JSON text -> jsonb's binary COPY form (registered by oid only: see register)."""

    format = Format.BINARY

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


def register(conn: psycopg.Connection) -> None:
    """Make COPY columns declared jsonb take JSON text (str) in binary COPY, and bytea
    ones (buffers) psycopg's C dumper: by oid it finds DB-API Binary's, in Python."""
    info = conn.adapters.types.get("jsonb")
    if info is not None:
        dumper = type("JsonbText", (JsonbTextDumper,), {"oid": info.oid})
        conn.adapters.register_dumper(None, dumper)
    conn.adapters.register_dumper(None, BytesBinaryDumper)


def _json_text(values: list[Any]) -> list[Any]:
    """JSON kept as read (msgspec.Raw) as str, for the paths that dump it as text."""
    return [bytes(v).decode() if type(v) is msgspec.Raw else v for v in values]


def _iso(values: list[Any]) -> list[Any]:
    """Dates and times as ISO text: psycopg's text dumper takes ~10x longer per value."""
    return [v if v is None or isinstance(v, str) else v.isoformat() for v in values]


def _binary_column(
    values: list[Any], logical: LogicalType, known: frozenset[type] | None = None
) -> list[Any] | None:
    """The values as binary COPY takes them, or None when the batch must go as text.

    ``known``: the Python types the values are known to have, date-times aware: when
    the column takes them all, no value is looked at (else each is, as without).
    """
    if known is not None and known <= _BINARY_OK[logical]:
        return values
    kinds = set(map(type, values))
    if not kinds <= _BINARY_OK[logical] or kinds >= _MIXED_JSON:
        return None
    if logical is LogicalType.TIMESTAMP or logical is LogicalType.TIME:
        zones = set(map(_tzinfo, filter(None, values)))
        if None in zones:
            if logical is LogicalType.TIME:
                return None if len(zones) > 1 else values  # a time with an offset: text
            # naive date-times are UTC (as the text path's session time zone reads them)
            return [
                v.replace(tzinfo=_UTC) if v is not None and v.tzinfo is None else v for v in values
            ]
        if logical is LogicalType.TIME and zones:
            return None
    return values


def array_literal(keys: list[str] | list[int]) -> str:
    """A PostgreSQL array literal of distinct str or int keys (no NULLs), in C loops."""
    if not keys:
        return "{}"
    if type(keys[0]) is int:
        return "{" + ",".join(map(str, keys)) + "}"
    joined = "".join(keys)  # type: ignore[arg-type]
    if "\\" in joined or '"' in joined:
        keys = [k.replace("\\", "\\\\").replace('"', '\\"') for k in keys]  # type: ignore[union-attr]
    return '{"' + '","'.join(keys) + '"}'  # type: ignore[arg-type]


# Binary COPY framing (PostgreSQL's protocol): signature, flags, header extension
# length; the trailer is a field count of -1.
SIGNATURE = b"PGCOPY\n\xff\r\n\0" + b"\0\0\0\0" + b"\0\0\0\0"
TRAILER = b"\xff\xff"
try:  # psycopg's C row formatter (the one copy.write_row uses)
    from psycopg._copy_base import format_row_binary
except ImportError:  # pragma: no cover - another psycopg layout: rows are sent one by one
    format_row_binary = None


def encode_rows(
    tx: Transformer,
    columns: list[ColumnSpec],
    data: dict[str, list[Any]],
    sql_types: dict[LogicalType, str],
    ordinal: bool,
    known_types: dict[str, frozenset[type]] | None = None,
) -> memoryview | None:
    """The whole binary COPY payload, or None when a value needs the text path.

    Built on the calling (main) thread, so the load thread only streams bytes to the
    server, without the GIL, while the next batch is read. ``tx``: the connection's
    Transformer, kept from one batch to the next (its dumpers, once made, no longer
    look at the connection, which the load thread may be using).
    """
    if format_row_binary is None:
        return None
    known = known_types or {}
    binary = [_binary_column(data[c.name], c.type, known.get(c.name)) for c in columns]
    if not all(column is not None for column in binary):
        return None
    registry = tx.adapters.types
    names = [sql_types[c.type] for c in columns]
    for i, (name, column) in enumerate(zip(names, columns, strict=True)):
        if column.type is not LogicalType.JSON:
            continue
        values = binary[i]
        as_read = type(next(filter(None, values), None)) is msgspec.Raw  # type: ignore[arg-type]
        # jsonb's binary form is a version byte and the text; staged JSON is text. Sent as
        # text (str) or bytea (buffers) by C dumpers: the server reads them as bytes.
        if name == "jsonb":
            prefix: Any = b"\x01" if as_read else "\x01"
            binary[i] = [None if v is None else prefix + v for v in values]  # type: ignore[union-attr]
        names[i] = "bytea" if as_read else "text"
    oids = [registry.get_oid(name) for name in names]
    if ordinal:
        binary.append(range(len(binary[0])) if binary else [])
        oids.append(registry.get_oid("int8"))
    tx.set_dumper_types(oids, Format.BINARY)
    out = bytearray(SIGNATURE)
    for row in zip(*binary, strict=True):  # type: ignore[call-overload]
        format_row_binary(row, tx, out)
    out += TRAILER
    return memoryview(out)  # sent in slices: a view copies none of them


def copy_batch(
    cur: psycopg.Cursor,
    table: str,
    names: str,
    columns: list[ColumnSpec],
    data: dict[str, list[Any]],
    sql_types: dict[LogicalType, str],
    ordinal: int | None,
    payload: memoryview | None = None,
) -> None:
    """COPY the columns into table (quoted ``names``), plus a 0.. ordinal when asked.

    ``payload`` is the batch already encoded by encode_rows (then sent as is).
    """
    sql = f"COPY {table} ({names}) FROM STDIN"
    if payload is not None:
        with cur.copy(sql + " (FORMAT BINARY)") as copy:
            copy.write(payload)
        return
    extra = [] if ordinal is None else [range(ordinal)]
    data = {c.name: _json_text(data[c.name]) if c.type is LogicalType.JSON else data[c.name]
            for c in columns}
    binary = [_binary_column(data[c.name], c.type) for c in columns]
    if all(column is not None for column in binary):
        with cur.copy(sql + " (FORMAT BINARY)") as copy:
            types = [sql_types[c.type] for c in columns]
            copy.set_types(types if ordinal is None else [*types, "int8"])
            write_row = copy.write_row
            for row in zip(*binary, *extra, strict=True):
                write_row(row)
        return
    del binary
    # Text COPY: PostgreSQL parses each value for its column type, so ints may go
    # into numeric and naive datetimes into timestamptz (session time zone UTC).
    text = [_iso(data[c.name]) if c.type in _TEMPORAL else data[c.name] for c in columns]
    with cur.copy(sql) as copy:
        write_row = copy.write_row
        for row in zip(*text, *extra, strict=True):
            write_row(row)

"""Read a warehouse table back as {id: row} so tests compare it with the sandbox's truth."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def read_duckdb(path: str, schema: str, table: str, key: str = "id") -> dict[str, dict]:
    import duckdb

    with duckdb.connect(path, read_only=True) as con:
        kinds = {name: kind for name, kind, *_ in con.execute(
            f'DESCRIBE "{schema}"."{table}"').fetchall()}
        cursor = con.execute(f'SELECT * FROM "{schema}"."{table}"')
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    for row in rows:
        for name, value in row.items():
            if kinds[name] == "JSON" and isinstance(value, str):
                row[name] = json.loads(value)
    return _by_id(rows, key)


def read_postgres(url: str, schema: str, table: str, key: str = "id") -> dict[str, dict]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, row_factory=dict_row) as con:
        rows = con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
    return _by_id(rows, key)


def _by_id(rows: list[dict], key: str = "id") -> dict[str, dict]:
    by_id = {row[key]: row for row in rows}
    assert len(by_id) == len(rows), "duplicate ids in the warehouse"
    return by_id


def _same(stored: Any, expected: Any) -> bool:
    if isinstance(stored, Decimal) or isinstance(expected, float):
        return expected is not None and stored is not None and float(stored) == float(expected)
    return stored == expected


def mismatches(rows: dict[str, dict], truth: list[dict], ignore: frozenset[str] = frozenset()
               ) -> list[str]:
    """Every difference between the warehouse rows and the source objects, as readable lines."""
    problems = []
    for obj in truth:
        row = rows.get(obj["id"])
        if row is None:
            problems.append(f"{obj['id']}: missing")
            continue
        for field, expected in obj.items():
            if field in ignore:
                continue
            column = field if field in row else f"_{field}"
            if column not in row:
                problems.append(f"{obj['id']}.{field}: no column")
            elif not _same(row[column], expected):
                problems.append(f"{obj['id']}.{field}: {row[column]!r} != {expected!r}")
    return problems

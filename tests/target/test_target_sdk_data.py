"""The SDK's standard test streams, with the stored rows read back (the suite only runs them)."""

from __future__ import annotations

import json
from importlib import resources

from target_harness import Warehouse


def load(wh: Warehouse, name: str) -> None:
    text = (
        resources.files("singer_sdk.testing.target_test_streams") / f"{name}.singer"
    ).read_text()
    result = wh.run([line for line in text.splitlines() if line.strip()])
    assert result.error is None, result.error


def select(wh: Warehouse, table: str, cols: str) -> list[tuple]:
    return wh.query(f'SELECT {cols} FROM "{wh.default_schema}"."{table}" ORDER BY 1')


def as_json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


def test_duplicate_records_keep_the_last_per_key(warehouse: Warehouse) -> None:
    load(warehouse, "duplicate_records")
    assert select(warehouse, "test_duplicate_records", "id, metric") == [(1, 100), (2, 20)]


def test_pk_updates_rows(warehouse: Warehouse) -> None:
    # key_properties sit inside the schema there, i.e. the stream has no keys: both rows stay
    load(warehouse, "pk_updates")
    assert select(warehouse, "example_stream", "id, name, email") == [
        (1, "Alice", "alice@example.com"),
        (2, "Bob", "bob@example.com"),
    ]


def test_schema_updates_rows(warehouse: Warehouse) -> None:
    load(warehouse, "schema_updates")
    rows = select(warehouse, "test_schema_updates", "id, a1, a2, a3, a4, a5, a6")
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [int(r[1]) for r in rows] == [101, 102, 103, 104, 105, 106]
    assert rows[0][3:] == (None, None, None, None)  # columns added later are NULL for old rows
    assert rows[1][3] is True and rows[2][3] is False
    assert as_json(rows[3][4]) == {"id": 2, "value": 22}
    assert as_json(rows[3][5]) == ["orange", "pear"]
    assert [r[6] for r in rows] == [None, None, None, None, 985, 341]


def test_encoded_string_data_rows(warehouse: Warehouse) -> None:
    load(warehouse, "encoded_string_data")
    nul = "" if warehouse.kind == "postgres" else "\x00"  # PostgreSQL cannot store U+0000
    info = dict(select(warehouse, "test_strings", "id, info"))
    assert info[2] == "απλή συμβολοσειρά" and info[3] == "简单的字串"
    assert info[5] == 'quoted "string"'
    assert info[6] == 'various " \\ / \n escape sequences'
    assert info[10] == "Double quoting: \\u0000 \\u0041 \\u0001"
    assert info[11] == f"Control Characters in string: {nul} A \x01"
    objects = {k: as_json(v) for k, v in select(warehouse, "test_strings_in_objects", "id, info")}
    assert objects[6] == {"name": "escape sequences", "value": 'various " \\ / \n escape sequences'}
    assert objects[10]["value"] == " \\u0000 \\u0041 \\u0001"
    assert objects[11]["value"] == f"{nul} A \x01"
    arrays = {k: as_json(v) for k, v in select(warehouse, "test_strings_in_arrays", "id, strings")}
    assert arrays[1] == ["simple string", "απλή συμβολοσειρά", "简单的字串"]
    assert arrays[6] == ["bbb", f"Control Characters in string: {nul} A \x01"]

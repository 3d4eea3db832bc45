"""Schema evolution, one two-run test per rule: run 1 with the old schema, run 2 with the new."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from target_harness import Warehouse, record_msg, schema_msg

TEXT = ("text", "varchar")
NUMERIC = ("numeric", "decimal(38,9)")


def load(wh: Warehouse, prop: dict, value: Any, row_id: int, keys: list[str] | None = None) -> None:
    props = {"id": {"type": "integer"}, "code": {"type": ["null", "string"]}, "v": prop}
    record = {"id": row_id, "code": f"c{row_id}", "v": value}
    result = wh.run([schema_msg("e", props, keys), record_msg("e", record)])
    assert result.error is None, result.error


def stored(wh: Warehouse) -> list[Any]:
    return [v for _, v in wh.query(f'SELECT id, v FROM "{wh.default_schema}"."e" ORDER BY id')]


@pytest.mark.parametrize(
    ("old", "old_value", "new", "new_value", "family", "expect_old", "expect_new"),
    [
        ({"type": "integer"}, 5, {"type": "number"}, 2.5, NUMERIC, Decimal(5), Decimal("2.5")),
        ({"type": "number"}, 2.5, {"type": "integer"}, 3, NUMERIC, Decimal("2.5"), Decimal(3)),
        ({"type": "number"}, 2.5, {"type": "string"}, "n/a", TEXT, Decimal("2.5"), "n/a"),
        ({"type": "integer"}, 7, {"type": "string"}, "x", TEXT, "7", "x"),
        (
            {"type": "string", "format": "time"},
            "13:45:00",
            {"type": "string"},
            "soon",
            TEXT,
            "13:45:00",
            "soon",
        ),
        ({"type": "boolean"}, True, {"type": "string"}, "maybe", TEXT, "true", "maybe"),
        ({"type": "object"}, {"a": 1}, {"type": "string"}, "plain", TEXT, {"a": 1}, "plain"),
        (
            {"type": "string", "format": "date"},
            "2024-02-29",
            {"type": "integer"},
            4,
            TEXT,
            "2024-02-29",
            "4",
        ),
        ({"type": "string"}, "kept", {"type": "integer"}, 9, TEXT, "kept", "9"),
    ],
    ids=[
        "integer-to-number",
        "number-stays-over-integer",
        "number-to-text",
        "integer-to-text",
        "time-to-text",
        "boolean-to-text",
        "object-to-text",
        "date-to-text",
        "text-stays-over-integer",
    ],
)
def test_type_change_widens_and_keeps_stored_values(
    warehouse: Warehouse,
    old: dict,
    old_value: Any,
    new: dict,
    new_value: Any,
    family: tuple[str, ...],
    expect_old: Any,
    expect_new: Any,
) -> None:
    load(warehouse, old, old_value, 1)
    load(warehouse, new, new_value, 2)
    assert warehouse.columns(warehouse.default_schema, "e")["v"] in family
    first, second = stored(warehouse)
    if isinstance(expect_old, Decimal):
        first = Decimal(str(first))
    if isinstance(expect_old, dict):
        first = json.loads(first)
    if isinstance(expect_new, Decimal):
        second = Decimal(str(second))
    assert (first, second) == (expect_old, expect_new)


def test_new_property_adds_a_column_and_old_rows_read_null(warehouse: Warehouse) -> None:
    load(warehouse, {"type": "string"}, "a", 1)
    props = {"id": {"type": "integer"}, "v": {"type": "string"}, "w": {"type": "integer"}}
    result = warehouse.run([schema_msg("e", props), record_msg("e", {"id": 2, "v": "b", "w": 3})])
    assert result.error is None, result.error
    rows = warehouse.query(f'SELECT id, v, w FROM "{warehouse.default_schema}"."e" ORDER BY id')
    assert rows == [(1, "a", None), (2, "b", 3)]


def test_key_change_is_applied_on_the_next_run(warehouse: Warehouse) -> None:
    load(warehouse, {"type": "string"}, "first", 1, keys=["id"])
    load(warehouse, {"type": "string"}, "second", 2, keys=["id"])
    props = {
        "id": {"type": "integer"},
        "code": {"type": ["null", "string"]},
        "v": {"type": "string"},
    }
    result = warehouse.run(
        [
            schema_msg("e", props, ["code"]),
            record_msg("e", {"id": 3, "code": "c1", "v": "replaces id 1 by code"}),
            record_msg("e", {"id": 4, "code": "c4", "v": "new"}),
        ]
    )
    assert result.error is None, result.error
    rows = warehouse.query(f'SELECT code, id, v FROM "{warehouse.default_schema}"."e" ORDER BY 1')
    assert rows == [("c1", 3, "replaces id 1 by code"), ("c2", 2, "second"), ("c4", 4, "new")]


def test_same_input_twice_adds_no_column(warehouse: Warehouse) -> None:
    long_name = "a_really_long_property_name_" * 4
    props = {
        "id": {"type": "integer"},
        "firstName": {"type": "string"},
        "first_name": {"type": "string"},
        long_name: {"type": "string"},
        long_name + "x": {"type": "string"},
    }
    messages = [
        schema_msg("Dup-Names", props),
        record_msg("Dup-Names", {"id": 1, "firstName": "a"}),
    ]
    assert warehouse.run(messages).error is None
    before = warehouse.columns(warehouse.default_schema, "dup_names")
    assert warehouse.run(messages).error is None
    assert warehouse.columns(warehouse.default_schema, "dup_names") == before
    assert len(before) == len(props) + 7  # the properties plus the _sdc_ metadata columns

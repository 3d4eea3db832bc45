"""Naming, typing and table-planning rules, without a database."""

from __future__ import annotations

from decimal import Decimal

import jsonschema
import pytest
from target_warehouse.backends import TableState
from target_warehouse.errors import InputError
from target_warehouse.fastcheck import Violation, compile_plain
from target_warehouse.naming import build_name_map, normalize
from target_warehouse.tables import Column, plan_table, strip_nul
from target_warehouse.types import LogicalType as LT
from target_warehouse.types import converter, logical_type, to_json, widen
from target_warehouse.validation import compile_validator


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("firstName", "first_name"),
        ("HTTPServer", "http_server"),
        ("userID", "user_id"),
        ("Billing Address", "billing_address"),
        ("a-b.c:d$e", "a_b_c_d_e"),
        ("a__b___c", "a_b_c"),
        ("UPPER", "upper"),
        ("select", "_select"),
        ("Order", "_order"),
        ("3dSecure", "_3d_secure"),
        ("_sdc_sequence", "_sdc_sequence"),
        ("", "_"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_long_names_fit_63_bytes_and_are_stable() -> None:
    raw = "x" * 100
    name = normalize(raw)
    assert len(name.encode()) == 63 and name == normalize(raw)
    assert normalize("é" * 40).encode().__len__() <= 63  # cut on a character boundary
    assert normalize(raw) != normalize(raw + "y")


def test_collisions_are_told_apart_independently_of_order() -> None:
    names = ["firstName", "first_name", "First Name"]
    mapping = build_name_map(names)
    assert mapping["first_name"] == "first_name"
    assert len(set(mapping.values())) == 3
    assert build_name_map(reversed(names)) == mapping
    # without an exact owner, the lexically first raw name keeps the plain name
    assert build_name_map(["firstName", "First Name"])["First Name"] == "first_name"


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "integer"}, LT.INTEGER),
        ({"type": ["null", "number"]}, LT.NUMBER),
        ({"type": ["integer", "number"]}, LT.NUMBER),
        ({"type": "string", "format": "date-time"}, LT.TIMESTAMP),
        ({"type": ["null", "string"], "format": "date"}, LT.DATE),
        ({"type": "boolean"}, LT.BOOLEAN),
        ({"type": "object", "properties": {}}, LT.JSON),
        ({"type": ["null", "array"]}, LT.JSON),
        ({}, LT.JSON),
        ({"type": "null"}, LT.JSON),
        ({"type": ["string", "integer"]}, LT.TEXT),
        ({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}, LT.TIMESTAMP),
        ({"anyOf": [{"type": "integer"}, {"type": "number"}]}, LT.NUMBER),
        ({"type": "string"}, LT.TEXT),
    ],
)
def test_logical_type(schema: dict, expected: LT) -> None:
    assert logical_type(schema) == expected


def test_widening_only_goes_wider() -> None:
    assert widen(LT.INTEGER, LT.NUMBER) == LT.NUMBER
    assert widen(LT.NUMBER, LT.INTEGER) == LT.NUMBER
    assert widen(LT.NUMBER, LT.TEXT) == LT.TEXT
    assert widen(LT.TEXT, LT.INTEGER) == LT.TEXT
    assert widen(LT.JSON, LT.JSON) == LT.JSON


def test_values_follow_the_column_type() -> None:
    assert converter(LT.INTEGER, LT.INTEGER) is None
    assert converter(LT.JSON, LT.JSON) is to_json
    to_text = converter(LT.BOOLEAN, LT.TEXT)
    assert to_text is not None and to_text(True) == "true"


def test_plan_adds_and_widens_never_drops() -> None:
    state = TableState({"id": LT.INTEGER, "v": LT.INTEGER, "old": LT.TEXT}, primary_key=("id",))
    columns = [
        Column("id", "id", LT.INTEGER),
        Column("v", "v", LT.NUMBER),
        Column("n", "n", LT.TEXT),
    ]
    change, effective = plan_table(state, columns, ("id",), use_primary_key=True)
    assert [c.name for c in change.add] == ["n"]
    assert [(c.name, c.type) for c in change.retype] == [("v", LT.NUMBER)]
    assert change.primary_key is None and not change.create
    assert effective == {"id": LT.INTEGER, "v": LT.NUMBER, "n": LT.TEXT}
    change, _ = plan_table(state, columns, (), use_primary_key=True)
    assert change.primary_key == ()  # appending stream: drop the key


def test_strip_nul_in_text_and_json() -> None:
    assert strip_nul(["a\x00b", None, "c"], is_json=False) == (["ab", None, "c"], 1)
    values = ['{"k\\u0000":"\\\\u0000"}']
    assert strip_nul(values, is_json=True) == (['{"k":"\\\\u0000"}'], 1)
    assert strip_nul(["plain"], is_json=False) == (["plain"], 0)


CHECK_SCHEMA = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": {"type": "integer"},
        "n": {"type": ["null", "number"]},
        "s": {"type": "string", "enum": ["a", "b"]},
        "o": {
            "type": ["null", "object"],
            "additionalProperties": False,
            "properties": {
                "k": {"type": "boolean"},
                "l": {"type": "array", "items": {"type": "integer"}},
            },
        },
        "any": {},
    },
}


@pytest.mark.parametrize(
    "record",
    [
        {"id": 1},
        {"id": Decimal("1.0")},
        {"id": Decimal("1.5")},
        {"id": True},
        {"id": "1"},
        {},
        {"id": 1, "n": None},
        {"id": 1, "n": Decimal("2.5")},
        {"id": 1, "n": False},
        {"id": 1, "s": "a"},
        {"id": 1, "s": "c"},
        {"id": 1, "o": {"k": True, "l": [1, 2]}},
        {"id": 1, "o": {"k": 1}},
        {"id": 1, "o": {"l": [1, "x"]}},
        {"id": 1, "o": {"zzz": 1}},
        {"id": 1, "any": {"x": [None]}},
        {"id": 1, "extra": "allowed at the top"},
    ],
)
def test_generated_checker_agrees_with_jsonschema(record: dict) -> None:
    check = compile_plain(CHECK_SCHEMA)
    assert check is not None
    expected = jsonschema.Draft7Validator(CHECK_SCHEMA).is_valid(record)
    try:
        check(record)
        accepted = True
    except Violation:
        accepted = False
    assert accepted == expected


def test_unusual_schemas_fall_back_but_still_validate() -> None:
    schema = {"type": "object", "properties": {"s": {"type": "string", "maxLength": 2}}}
    assert compile_plain(schema) is None
    validate = compile_validator(schema)
    validate({"s": "ok"})
    with pytest.raises(InputError, match="s"):
        validate({"s": "too long"})

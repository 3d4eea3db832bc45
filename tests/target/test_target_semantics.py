"""Deletes, versions, types, dates, flattening and metadata, read back with SQL on both backends."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from target_harness import Warehouse, record_msg, schema_msg

PROPS = {"id": {"type": "integer"}, "v": {"type": ["null", "string"]}}
UTC = dt.UTC


def table(wh: Warehouse, name: str) -> str:
    return f'"{wh.default_schema}"."{name}"'


def activate(stream: str, version: int) -> dict:
    return {"type": "ACTIVATE_VERSION", "stream": stream, "version": version}


def test_soft_delete_marks_the_row(warehouse: Warehouse) -> None:
    deleted = "2024-05-01T10:00:00+00:00"
    result = warehouse.run(
        [
            schema_msg("d", PROPS),
            record_msg("d", {"id": 1, "v": "a"}),
            record_msg("d", {"id": 2, "v": "b"}),
            record_msg("d", {"id": 1, "v": "a", "_sdc_deleted_at": deleted}),
        ]
    )
    assert result.error is None, result.error
    rows = warehouse.query(f"SELECT id, _sdc_deleted_at FROM {table(warehouse, 'd')} ORDER BY id")
    assert rows == [(1, dt.datetime(2024, 5, 1, 10, tzinfo=UTC)), (2, None)]


def test_hard_delete_removes_the_row_and_last_record_per_key_wins(warehouse: Warehouse) -> None:
    first = warehouse.run(
        [schema_msg("d", PROPS)] + [record_msg("d", {"id": i, "v": "x"}) for i in (1, 2, 3)],
        hard_delete=True,
    )
    assert first.error is None, first.error
    gone = "2024-05-01T00:00:00Z"
    result = warehouse.run(
        [
            schema_msg("d", PROPS),
            record_msg("d", {"id": 1, "_sdc_deleted_at": gone}),  # stored row deleted
            record_msg("d", {"id": 2, "_sdc_deleted_at": gone}),
            record_msg("d", {"id": 2, "v": "back"}),  # deleted then re-sent: the last wins
            record_msg("d", {"id": 4, "_sdc_deleted_at": gone}),  # never stored: not inserted
        ],
        hard_delete=True,
    )
    assert result.error is None, result.error
    rows = warehouse.query(f"SELECT id, v FROM {table(warehouse, 'd')} ORDER BY id")
    assert rows == [(2, "back"), (3, "x")]


@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
def test_activate_version_retires_older_versions_after_flushing(
    warehouse: Warehouse, hard: bool
) -> None:
    messages = [
        schema_msg("v", PROPS),
        record_msg("v", {"id": 0, "v": "no version"}),
        record_msg("v", {"id": 1, "v": "old"}, version=1),
        record_msg("v", {"id": 2, "v": "new"}, version=2),
        record_msg("v", {"id": 3, "v": "new, still pending"}, version=2),
        activate("v", 2),
        record_msg("v", {"id": 4, "v": "newer"}, version=3),
    ]
    result = warehouse.run(messages, hard_delete=hard, batch_size_rows=3)
    assert result.error is None, result.error
    rows = warehouse.query(
        f"SELECT id, _sdc_table_version, _sdc_deleted_at IS NOT NULL"
        f" FROM {table(warehouse, 'v')} ORDER BY id"
    )
    if hard:
        assert rows == [(2, 2, False), (3, 2, False), (4, 3, False)]
    else:  # NULL counts as older; the same version (2) is never retired
        assert rows == [(0, None, True), (1, 1, True), (2, 2, False), (3, 2, False), (4, 3, False)]


def test_integers_beyond_bigint_widen_the_column_to_numeric(warehouse: Warehouse) -> None:
    props = {"id": {"type": "integer"}, "n": {"type": ["null", "integer"]}}
    assert warehouse.run([schema_msg("i", props), record_msg("i", {"id": 1, "n": 5})]).error is None
    huge = 2**64 + 1
    result = warehouse.run([schema_msg("i", props), record_msg("i", {"id": 2, "n": huge})])
    assert result.error is None, result.error
    assert warehouse.columns(warehouse.default_schema, "i")["n"] in ("numeric", "decimal(38,9)")
    rows = warehouse.query(f"SELECT id, n FROM {table(warehouse, 'i')} ORDER BY id")
    assert [(i, Decimal(n)) for i, n in rows] == [(1, Decimal(5)), (2, Decimal(huge))]


def test_decimals_are_not_rounded_through_float(warehouse: Warehouse) -> None:
    props = {"id": {"type": "integer"}, "x": {"type": "number"}}
    line = '{"type":"RECORD","stream":"n","record":{"id":1,"x":0.123456789}}'
    line2 = '{"type":"RECORD","stream":"n","record":{"id":2,"x":12345678901234567.1}}'
    assert warehouse.run([schema_msg("n", props), line, line2]).error is None
    rows = warehouse.query(f"SELECT id, x FROM {table(warehouse, 'n')} ORDER BY id")
    assert [Decimal(str(x)) for _, x in rows] == [
        Decimal("0.123456789"),
        Decimal("12345678901234567.1"),
    ]


def test_decimals_with_more_places_than_duckdbs_scale_are_not_rounded(
    warehouse: Warehouse,
) -> None:
    """DECIMAL(38,9) would round 1.0000000001: the column widens to text instead (warned)."""
    props = {"id": {"type": "integer"}, "x": {"type": ["null", "number"]}}
    first = '{"type":"RECORD","stream":"p","record":{"id":1,"x":2.5}}'
    assert warehouse.run([schema_msg("p", props), first]).error is None
    lines = [
        '{"type":"RECORD","stream":"p","record":{"id":2,"x":1.0000000001}}',
        '{"type":"RECORD","stream":"p","record":{"id":3,"x":-0.1234567895}}',
        '{"type":"RECORD","stream":"p","record":{"id":4,"x":1.5000000000}}',
    ]
    assert warehouse.run([schema_msg("p", props), *lines]).error is None
    rows = warehouse.query(f"SELECT id, x FROM {table(warehouse, 'p')} ORDER BY id")
    assert [(i, Decimal(str(x))) for i, x in rows] == [
        (1, Decimal("2.5")),
        (2, Decimal("1.0000000001")),
        (3, Decimal("-0.1234567895")),
        (4, Decimal("1.5")),
    ]
    expected = "varchar" if warehouse.kind == "duckdb" else "numeric"
    assert warehouse.columns(warehouse.default_schema, "p")["x"] == expected


def test_duckdb_number_type_double_by_setting(duckdb_warehouse: Warehouse) -> None:
    props = {"id": {"type": "integer"}, "x": {"type": "number"}}
    messages = [schema_msg("n", props), record_msg("n", {"id": 1, "x": 2.5})]
    assert duckdb_warehouse.run(messages, duckdb_number_type="double").error is None
    assert duckdb_warehouse.columns("main", "n")["x"] == "double"
    assert duckdb_warehouse.query('SELECT x FROM main."n"') == [(2.5,)]


def test_temporal_types(warehouse: Warehouse) -> None:
    props = {
        "id": {"type": "integer"},
        "ts": {"type": ["null", "string"], "format": "date-time"},
        "day": {"type": ["null", "string"], "format": "date"},
        "clock": {"type": ["null", "string"], "format": "time"},
    }
    record = {"id": 1, "ts": "2024-03-01T23:30:00-02:00", "day": "2024-03-01", "clock": "13:45:01"}
    assert warehouse.run([schema_msg("t", props), record_msg("t", record)]).error is None
    (row,) = warehouse.query(f"SELECT ts, day, clock FROM {table(warehouse, 't')}")
    assert row == (
        dt.datetime(2024, 3, 2, 1, 30, tzinfo=UTC),
        dt.date(2024, 3, 1),
        dt.time(13, 45, 1),
    )
    types = warehouse.columns(warehouse.default_schema, "t")
    assert types["clock"] in ("time", "time without time zone")


def test_unparseable_datetime_becomes_null_with_a_warning(
    warehouse: Warehouse, caplog: pytest.LogCaptureFixture
) -> None:
    props = {"id": {"type": "integer"}, "ts": {"type": ["null", "string"], "format": "date-time"}}
    result = warehouse.run(
        [
            schema_msg("t", props),
            record_msg("t", {"id": 1, "ts": "0000-00-00 00:00:00"}),
            record_msg("t", {"id": 2, "ts": "2024-01-01 00:00:00"}),
        ]
    )
    assert result.error is None, result.error
    rows = warehouse.query(f"SELECT id, ts FROM {table(warehouse, 't')} ORDER BY id")
    assert rows == [(1, None), (2, dt.datetime(2024, 1, 1, tzinfo=UTC))]
    assert "1 unparseable timestamp value(s) in field 'ts'" in caplog.text
    assert "input line 2" in caplog.text


def test_unparseable_datetime_is_an_error_by_setting(warehouse: Warehouse) -> None:
    props = {"id": {"type": "integer"}, "ts": {"type": ["null", "string"], "format": "date-time"}}
    result = warehouse.cli(
        [
            schema_msg("t", props),
            record_msg("t", {"id": 1, "ts": "2024-01-01T00:00:00Z"}),
            record_msg("t", {"id": 2, "ts": "0000-00-00 00:00:00"}),
        ],
        invalid_datetime="error",
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "Traceback" not in result.stderr
    assert "input line 3, stream 't'" in errors[0] and "'0000-00-00 00:00:00'" in errors[0]
    assert "field 'ts'" in errors[0]


def test_flattening_makes_parent_child_columns_and_arrays_json_text(warehouse: Warehouse) -> None:
    props = {
        "id": {"type": "integer"},
        "billingDetails": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "address": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        },
        "tags": {"type": "array", "items": {"type": "string"}},
    }
    record = {
        "id": 1,
        "billingDetails": {"name": "Ann", "address": {"city": "Paris"}},
        "tags": ["a"],
    }
    result = warehouse.run(
        [schema_msg("f", props), record_msg("f", record)],
        flattening_enabled=True,
        flattening_max_depth=3,
    )
    assert result.error is None, result.error
    cols = "billing_details_name, billing_details_address_city, tags"
    (row,) = warehouse.query(f"SELECT {cols} FROM {table(warehouse, 'f')}")
    assert row[:2] == ("Ann", "Paris")
    assert json.loads(row[2]) == ["a"]
    # off by default: nested objects stay one JSON column
    assert warehouse.run([schema_msg("g", props), record_msg("g", record)]).error is None
    (doc,) = warehouse.query(f"SELECT billing_details FROM {table(warehouse, 'g')}")[0]
    assert (json.loads(doc) if isinstance(doc, str) else doc)["address"] == {"city": "Paris"}


def test_sequence_is_unique_and_increasing_and_version_is_bigint(warehouse: Warehouse) -> None:
    messages = [schema_msg("m", PROPS)]
    messages += [record_msg("m", {"id": i % 3}, version=2**40) for i in range(7)]
    assert warehouse.run(messages, load_method="append-only", batch_size_rows=2).error is None
    rows = warehouse.query(f"SELECT _sdc_sequence, _sdc_table_version FROM {table(warehouse, 'm')}")
    sequences = sorted(r[0] for r in rows)
    assert len(set(sequences)) == 7 and all(
        b > a for a, b in zip(sequences, sequences[1:], strict=False)
    )
    assert {r[1] for r in rows} == {2**40}
    assert warehouse.columns(warehouse.default_schema, "m")["_sdc_table_version"] == "bigint"


def test_missing_key_is_rejected_with_a_clear_error(warehouse: Warehouse) -> None:
    result = warehouse.cli([schema_msg("k", PROPS), record_msg("k", {"v": "no id"})])
    assert result.returncode == 1
    assert "input line 2, stream 'k': key property 'id' is missing" in result.stderr


def test_nested_objects_missing_an_array_or_object_key_load_on_the_checked_path(
    warehouse: Warehouse,
) -> None:
    """An enum sends the batch through the record-by-record checks; a nested object that
    lacks an optional array or object key is valid and stored as sent."""
    props = {
        "id": {"type": "integer"},
        "st": {"type": "string", "enum": ["a", "b"]},
        "p": {
            "type": ["null", "object"],
            "properties": {
                "l": {"type": ["null", "array"], "items": {"type": "string"}},
                "q": {"type": ["null", "object"], "properties": {"z": {"type": "integer"}}},
            },
        },
    }
    records = [
        {"id": 1, "st": "a", "p": {"l": ["x"], "q": {"z": 1}}},
        {"id": 2, "st": "b", "p": {}},
        {"id": 3, "st": "a", "p": {"q": {}}},
    ]
    messages = [schema_msg("s", props)] + [record_msg("s", r) for r in records]
    result = warehouse.run(messages)
    assert result.error is None, result.error
    rows = warehouse.query(f"SELECT id, p FROM {table(warehouse, 's')} ORDER BY id")
    stored = [(i, json.loads(p) if isinstance(p, str) else p) for i, p in rows]
    assert stored == [(r["id"], r["p"]) for r in records]
    bad = [schema_msg("s", props), record_msg("s", {"id": 4, "st": "a", "p": {"l": [1]}})]
    failed = warehouse.run(bad)
    assert failed.error is not None and "p.l[]" in str(failed.error)


def test_unions_with_objects_and_booleans_are_stored_as_the_same_text_on_both_backends(
    warehouse: Warehouse,
) -> None:
    props = {
        "id": {"type": "integer"},
        "so": {"type": ["null", "string", "object"]},
        "ia": {"type": ["null", "integer", "array"]},
        "sb": {"type": ["null", "string", "boolean"]},
    }
    records = [
        {"id": 1, "so": "text", "ia": 5, "sb": "t"},
        {"id": 2, "so": {"k": "v"}, "ia": [1, "x"], "sb": True},
        {"id": 3, "so": None, "ia": None, "sb": False},
    ]
    messages = [schema_msg("s", props)] + [record_msg("s", r) for r in records]
    result = warehouse.run(messages)
    assert result.error is None, result.error
    rows = warehouse.query(f"SELECT id, so, ia, sb FROM {table(warehouse, 's')} ORDER BY id")
    assert rows == [
        (1, "text", "5", "t"),
        (2, '{"k":"v"}', '[1,"x"]', "true"),
        (3, None, None, "false"),
    ]


def test_integers_read_the_same_whichever_batch_widened_their_column_to_text(
    warehouse: Warehouse,
) -> None:
    """BIGINT, then NUMERIC (DuckDB: DECIMAL(38,9)), then (DuckDB) text past 38 digits:
    every integer reads back as written, stored before the widening or after it."""
    props = {"id": {"type": "integer"}, "n": {"type": ["null", "integer"]}}
    values = [1, 2, 3, 2**63 - 1, 2**63, -(2**63) - 1, 10**39 + 7, 0, -40, 100]
    messages = [schema_msg("w", props)]
    messages += [record_msg("w", {"id": i, "n": n}) for i, n in enumerate(values)]
    result = warehouse.run(messages, batch_size_rows=3)
    assert result.error is None, result.error
    rows = warehouse.query(f"SELECT id, n FROM {table(warehouse, 'w')} ORDER BY id")
    assert [str(n) for _, n in rows] == [str(n) for n in values]

"""Loading semantics on both backends, read back with SQL."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from target_harness import Warehouse, record_msg, schema_msg

PROPS = {
    "id": {"type": "string"},
    "amount": {"type": ["null", "integer"]},
    "status": {"type": ["null", "string"]},
}


def rows(wh: Warehouse, table: str, cols: str = "id, amount, status", schema: str = "") -> list:
    schema = schema or wh.default_schema
    return wh.query(f'SELECT {cols} FROM "{schema}"."{table}" ORDER BY 1')


def test_upsert_dedupes_within_a_batch_and_across_runs(warehouse: Warehouse) -> None:
    first = warehouse.run(
        [
            schema_msg("charges", PROPS),
            record_msg("charges", {"id": "a", "amount": 1, "status": "new"}),
            record_msg("charges", {"id": "b", "amount": 2, "status": "new"}),
            record_msg("charges", {"id": "a", "amount": 10, "status": "paid"}),  # same batch
            record_msg("charges", {"id": "a", "amount": 11, "status": "refunded"}),
        ]
    )
    assert first.error is None, first.error
    assert rows(warehouse, "charges") == [("a", 11, "refunded"), ("b", 2, "new")]

    second = warehouse.run(
        [
            schema_msg("charges", PROPS),
            record_msg("charges", {"id": "b", "amount": 20, "status": "paid"}),
            record_msg("charges", {"id": "c", "amount": 3, "status": None}),
        ]
    )
    assert second.error is None, second.error
    assert rows(warehouse, "charges") == [
        ("a", 11, "refunded"),
        ("b", 20, "paid"),
        ("c", 3, None),
    ]


def test_upsert_last_record_wins_across_several_flushes(warehouse: Warehouse) -> None:
    messages: list = [schema_msg("charges", PROPS)]
    messages += [record_msg("charges", {"id": f"k{i % 3}", "amount": i}) for i in range(10)]
    result = warehouse.run(messages, batch_size_rows=4)
    assert result.error is None, result.error
    assert rows(warehouse, "charges", "id, amount") == [("k0", 9), ("k1", 7), ("k2", 8)]


def test_stream_without_keys_appends(warehouse: Warehouse) -> None:
    events = [
        schema_msg("events", PROPS, keys=[]),
        record_msg("events", {"id": "a", "amount": 1}),
        record_msg("events", {"id": "a", "amount": 1}),
    ]
    assert warehouse.run(events).error is None
    assert warehouse.run(events).error is None
    assert rows(warehouse, "events", "id, amount") == [("a", 1)] * 4


def test_append_only_load_method_keeps_every_version(warehouse: Warehouse) -> None:
    messages = [
        schema_msg("charges", PROPS),
        record_msg("charges", {"id": "a", "amount": 1}),
        record_msg("charges", {"id": "a", "amount": 2}),
    ]
    assert warehouse.run(messages, load_method="append-only").error is None
    assert rows(warehouse, "charges", "id, amount") == [("a", 1), ("a", 2)]


def test_overwrite_load_method_replaces_the_table(warehouse: Warehouse) -> None:
    def run(*ids: str) -> None:
        messages = [schema_msg("charges", PROPS)]
        messages += [record_msg("charges", {"id": i, "amount": 1}) for i in ids]
        result = warehouse.run(messages, load_method="overwrite", batch_size_rows=1)
        assert result.error is None, result.error

    run("a", "b")
    run("c", "d", "c")
    assert rows(warehouse, "charges", "id") == [("c",), ("d",)]
    run()  # a run with no records empties the table (and its STATE goes out)
    assert rows(warehouse, "charges", "id") == []
    result = warehouse.run(
        [schema_msg("charges", PROPS), {"type": "STATE", "value": {"z": 1}}],
        load_method="overwrite",
    )
    assert result.error is None, result.error
    assert result.states == [{"z": 1}]


def test_an_overwrite_stream_without_records_is_emptied_before_a_state_goes_on(
    warehouse: Warehouse,
) -> None:
    """The STATE after an overwrite stream's SCHEMA says its data is committed: the table
    is emptied first, even if the run fails afterwards."""
    first = [schema_msg("o", PROPS), record_msg("o", {"id": "old", "amount": 1})]
    assert warehouse.run(first, load_method="overwrite").error is None
    messages = [
        schema_msg("o", PROPS),
        {"type": "STATE", "value": {"a": 1}},
        schema_msg("t", PROPS),
        record_msg("t", {"id": None, "amount": 1}),  # a null key: the run fails
    ]
    result = warehouse.run(messages, load_method="overwrite")
    assert result.error is not None
    assert result.states == [{"a": 1}]
    assert rows(warehouse, "o", "id") == []


def test_new_property_becomes_a_new_column_on_the_next_run(warehouse: Warehouse) -> None:
    assert (
        warehouse.run([schema_msg("c", PROPS), record_msg("c", {"id": "a", "amount": 1})]).error
        is None
    )
    wider = {**PROPS, "currency": {"type": ["null", "string"]}}
    result = warehouse.run(
        [schema_msg("c", wider), record_msg("c", {"id": "b", "currency": "usd"})]
    )
    assert result.error is None, result.error
    assert "currency" in warehouse.columns(warehouse.default_schema, "c")
    assert rows(warehouse, "c", "id, amount, currency") == [("a", 1, None), ("b", None, "usd")]


def test_schema_change_mid_stream_adds_the_column(warehouse: Warehouse) -> None:
    wider = {**PROPS, "currency": {"type": ["null", "string"]}}
    result = warehouse.run(
        [
            schema_msg("c", PROPS),
            record_msg("c", {"id": "a", "amount": 1}),
            schema_msg("c", wider),
            record_msg("c", {"id": "b", "currency": "eur"}),
        ]
    )
    assert result.error is None, result.error
    assert rows(warehouse, "c", "id, amount, currency") == [("a", 1, None), ("b", None, "eur")]


def test_columns_widen_integer_to_number_to_text(warehouse: Warehouse) -> None:
    def run(prop: dict, value: object) -> None:
        schema = schema_msg("w", {"id": {"type": "integer"}, "v": prop})
        result = warehouse.run([schema, record_msg("w", {"id": value and 1 or 0, "v": value})])
        assert result.error is None, result.error

    run({"type": "integer"}, 5)
    run({"type": "number"}, 2.5)
    number_type = warehouse.columns(warehouse.default_schema, "w")["v"]
    assert number_type in ("numeric", "decimal(38,9)")  # exact on both backends
    run({"type": "string"}, "n/a")
    assert warehouse.columns(warehouse.default_schema, "w")["v"] in ("text", "varchar")
    values = dict(warehouse.query(f'SELECT id, v FROM "{warehouse.default_schema}"."w"'))
    assert values[1] == "n/a"


def test_types_round_trip(warehouse: Warehouse) -> None:
    props = {
        "id": {"type": "integer"},
        "created": {"type": "string", "format": "date-time"},
        "naive": {"type": ["null", "string"], "format": "date-time"},
        "day": {"type": ["null", "string"], "format": "date"},
        "flag": {"type": ["null", "boolean"]},
        "price": {"type": ["null", "number"]},
        "meta": {"type": ["null", "object"], "properties": {"k": {"type": "string"}}},
        "tags": {"type": ["null", "array"], "items": {"type": "string"}},
        "anything": {},
        "either": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
    }
    record = {
        "id": 9007199254740993,  # above 2**53: must not pass through a float
        "created": "2024-03-01T12:30:00.123456+05:30",
        "naive": "2024-03-01T12:30:00",
        "day": "2024-02-29",
        "flag": True,
        "price": 12.5,
        "meta": {"k": "v", "n": 1.10, "deep": {"x": [1, 2]}},
        "tags": ["a", "b"],
        "anything": {"free": "form"},
        "either": "2024-01-01T00:00:00Z",
    }
    result = warehouse.run([schema_msg("t", props), record_msg("t", record)])
    assert result.error is None, result.error
    cols = "id, created, naive, day, flag, price, meta, tags, anything, either"
    (row,) = warehouse.query(f'SELECT {cols} FROM "{warehouse.default_schema}"."t"')
    utc = dt.UTC
    assert row[0] == 9007199254740993
    assert row[1] == dt.datetime(2024, 3, 1, 7, 0, 0, 123456, tzinfo=utc)
    assert row[2] == dt.datetime(2024, 3, 1, 12, 30, tzinfo=utc)  # no offset: read as UTC
    assert row[3] == dt.date(2024, 2, 29)
    assert row[4] is True
    assert float(row[5]) == 12.5
    as_json = [json.loads(v) if isinstance(v, str) else v for v in row[6:9]]
    assert as_json[0] == {"k": "v", "n": 1.1, "deep": {"x": [1, 2]}}
    assert as_json[1] == ["a", "b"]
    assert as_json[2] == {"free": "form"}
    assert row[9] == dt.datetime(2024, 1, 1, tzinfo=utc)
    types = warehouse.columns(warehouse.default_schema, "t")
    assert types["created"] == "timestamp with time zone"
    assert types["day"] == "date"
    assert types["id"] == "bigint"
    assert types["meta"] in ("jsonb", "json")


def test_big_decimals_are_exact_on_postgres(pg_warehouse: Warehouse) -> None:
    props = {"id": {"type": "integer"}, "amount": {"type": "number"}, "doc": {"type": "object"}}
    big = "123456789012345678901234567890.123456789012345678"
    line = (
        '{"type":"RECORD","stream":"d","record":{"id":1,"amount":'
        + big
        + ',"doc":{"x":'
        + big
        + "}}}"
    )
    result = pg_warehouse.run([schema_msg("d", props), line])
    assert result.error is None, result.error
    (row,) = pg_warehouse.query('SELECT amount, doc, amount::text FROM public."d"')
    assert row[0] == Decimal(big)
    assert row[2] == big
    assert pg_warehouse.query("SELECT (doc->'x')::text FROM public.\"d\"") == [(big,)]


STRINGS = [
    "line\nbreak",
    "tab\there",
    "carriage\rreturn\r\n",
    "quotes \" and ' and `",
    "back\\slash \\N \\. \\\\",
    "unicode: é ü 中文 — 🎉 \u2028 \u00a0",
    "",
    "  padded  ",
    "comma,separated;\x01\x1f",
]


def test_strings_are_byte_exact(warehouse: Warehouse) -> None:
    props = {"id": {"type": "integer"}, "s": {"type": "string"}, "j": {"type": "object"}}
    messages: list = [schema_msg("s", props)]
    messages += [record_msg("s", {"id": i, "s": s, "j": {"s": s}}) for i, s in enumerate(STRINGS)]
    result = warehouse.cli(messages)
    assert result.returncode == 0, result.stderr
    stored = warehouse.query(f'SELECT id, s, j FROM "{warehouse.default_schema}"."s" ORDER BY id')
    assert [r[1] for r in stored] == STRINGS
    assert [(json.loads(r[2]) if isinstance(r[2], str) else r[2])["s"] for r in stored] == STRINGS


def test_nul_is_stripped_on_postgres_and_counted(pg_warehouse: Warehouse) -> None:
    props = {"id": {"type": "integer"}, "s": {"type": "string"}, "j": {"type": "object"}}
    record = {"id": 1, "s": "a\x00b\x00", "j": {"k\x00": "v\x00w", "lit": "\\u0000 stays"}}
    result = pg_warehouse.cli([schema_msg("n", props), record_msg("n", record)])
    assert result.returncode == 0, result.stderr
    assert pg_warehouse.query('SELECT s, j FROM public."n"') == [
        ("ab", {"k": "vw", "lit": "\\u0000 stays"})
    ]
    assert "Removed 4 NUL character(s)" in result.stderr


def test_nul_is_kept_on_duckdb(duckdb_warehouse: Warehouse) -> None:
    props = {"id": {"type": "integer"}, "s": {"type": "string"}}
    result = duckdb_warehouse.run(
        [schema_msg("n", props), record_msg("n", {"id": 1, "s": "a\x00b"})]
    )
    assert result.error is None, result.error
    assert duckdb_warehouse.query('SELECT s FROM main."n"') == [("a\x00b",)]


def test_segment_naming_for_tables_and_columns(warehouse: Warehouse) -> None:
    long_name = "a_really_long_property_name_" * 4
    props = {
        "id": {"type": "integer"},
        "firstName": {"type": "string"},
        "first_name": {"type": "string"},
        "Billing Address.Line-1": {"type": "string"},
        "price:$usd": {"type": "string"},
        "select": {"type": "string"},
        "3dSecure": {"type": "string"},
        long_name: {"type": "string"},
        long_name + "x": {"type": "string"},
    }
    record = {name: name for name in props if name != "id"} | {"id": 1}
    result = warehouse.run(
        [schema_msg("Charge-Events", props), record_msg("Charge-Events", record)]
    )
    assert result.error is None, result.error
    columns = warehouse.columns(warehouse.default_schema, "charge_events")
    names = set(columns)
    assert {"first_name", "billing_address_line_1", "price_usd", "_select", "_3d_secure"} <= names
    collided = [n for n in names if n.startswith("first_name_")]
    assert len(collided) == 1 and len(collided[0]) == len("first_name_") + 8
    long_columns = [n for n in names if n.startswith("a_really_long")]
    assert len(long_columns) == 2 and all(len(n.encode()) <= 63 for n in long_columns)
    table = f'"{warehouse.default_schema}".charge_events'
    (row,) = warehouse.query(f'SELECT first_name, "{collided[0]}", _select FROM {table}')
    assert row == ("first_name", "firstName", "select")


def test_streams_whose_names_collide_get_distinct_tables(warehouse: Warehouse) -> None:
    messages = [
        schema_msg("Charges", PROPS),
        record_msg("Charges", {"id": "upper"}),
        schema_msg("charges", PROPS),
        record_msg("charges", {"id": "lower"}),
    ]
    assert warehouse.run(messages).error is None
    tables = warehouse.query(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'charges%'"
        " ORDER BY 1"
    )
    assert [t for (t,) in tables][0] == "charges" and len(tables) == 2
    assert rows(warehouse, "charges", "id") == [("upper",)]


def test_schema_is_the_source_name_unless_configured(warehouse: Warehouse) -> None:
    messages = [
        schema_msg("charges", PROPS, source="Stripe"),
        record_msg("charges", {"id": "a"}),
        schema_msg("stripe-refunds", PROPS),  # no source: a dash never implies a schema
        record_msg("stripe-refunds", {"id": "r"}),
    ]
    assert warehouse.run(messages).error is None
    assert rows(warehouse, "charges", "id", schema="stripe") == [("a",)]
    assert rows(warehouse, "stripe_refunds", "id") == [("r",)]

    assert warehouse.run(messages, default_target_schema="analytics").error is None
    assert rows(warehouse, "charges", "id", schema="analytics") == [("a",)]
    assert rows(warehouse, "stripe_refunds", "id", schema="analytics") == [("r",)]


def test_metadata_columns_are_filled(warehouse: Warehouse) -> None:
    msg = record_msg("m", {"id": "a"}, time_extracted="2024-05-01T00:00:00+00:00", version=7)
    assert warehouse.run([schema_msg("m", PROPS), msg]).error is None
    cols = "_sdc_extracted_at, _sdc_received_at, _sdc_batched_at, _sdc_deleted_at, "
    cols += "_sdc_sequence, _sdc_table_version"
    (row,) = warehouse.query(f'SELECT {cols} FROM "{warehouse.default_schema}"."m"')
    assert row[0] == dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    assert row[1] is not None and row[2] is not None and row[3] is None
    assert row[4] > 0 and row[5] == 7
    assert warehouse.run([schema_msg("m2", PROPS)], add_record_metadata=False).error is None
    assert not any(c.startswith("_sdc") for c in warehouse.columns(warehouse.default_schema, "m2"))


def test_postgres_tables_get_a_primary_key(pg_warehouse: Warehouse) -> None:
    assert pg_warehouse.run([schema_msg("k", PROPS), record_msg("k", {"id": "a"})]).error is None
    pk = pg_warehouse.query(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
        " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = 'public.k'::regclass AND i.indisprimary"
    )
    assert pk == [("id",)]


def test_sqlalchemy_url_setting(pg_warehouse: Warehouse) -> None:
    params = pg_warehouse.pg_params or {}
    url = f"postgresql+psycopg://{params['user']}@/{params['dbname']}?host={params['host']}"
    if params.get("port"):
        url += f"&port={params['port']}"
    result = pg_warehouse.run(
        [schema_msg("u", PROPS), record_msg("u", {"id": "a"})],
        sqlalchemy_url=url,
        host="wrong-host.invalid",
        password=params.get("password"),
    )
    assert result.error is None, result.error
    assert rows(pg_warehouse, "u", "id") == [("a",)]


def test_key_and_type_change_mid_stream_with_pending_records(warehouse: Warehouse) -> None:
    by_id = schema_msg("x", {"id": {"type": "integer"}, "code": {"type": "integer"}})
    by_code = schema_msg("x", {"id": {"type": "integer"}, "code": {"type": "string"}}, ["code"])
    result = warehouse.run(
        [
            by_id,
            record_msg("x", {"id": 1, "code": 10}),
            record_msg("x", {"id": 1, "code": 11}),  # pending when the key changes
            by_code,
            record_msg("x", {"id": 2, "code": "A"}),
            record_msg("x", {"id": 3, "code": "A"}),
        ]
    )
    assert result.error is None, result.error
    assert warehouse.query(f'SELECT id, code FROM "{warehouse.default_schema}"."x" ORDER BY 1') == [
        (1, "11"),
        (3, "A"),
    ]


def test_flattening_setting_makes_nested_properties_columns(duckdb_warehouse: Warehouse) -> None:
    props = {
        "id": {"type": "integer"},
        "billingDetails": {"type": "object", "properties": {"address": {"type": "object"}}},
    }
    record = {"id": 1, "billingDetails": {"address": {"city": "Paris"}}}
    result = duckdb_warehouse.run(
        [schema_msg("f", props), record_msg("f", record)],
        flattening_enabled=True,
        flattening_max_depth=1,
    )
    assert result.error is None, result.error
    (row,) = duckdb_warehouse.query('SELECT billing_details_address FROM main."f"')
    assert json.loads(row[0]) == {"city": "Paris"}


def test_duckdb_memory_limit_grows_when_a_wide_load_runs_out(
    duckdb_warehouse: Warehouse, monkeypatch, caplog
) -> None:
    """The automatic memory_limit is small (peak RSS); a load that needs more is rolled
    back and retried with twice the limit, so no row is lost and the run does not fail."""
    from target_warehouse.backends import duckdb as backend

    monkeypatch.setattr(backend, "MEMORY_FLOOR_MB", 4)
    monkeypatch.setattr(backend, "MEMORY_PER_COLUMN_MB", 0)  # no sizing by width: run out
    columns = {f"field_{i}": {"type": ["string", "null"]} for i in range(100)}
    rows = [{"id": n, **{name: f"{name}-{n}-" + "x" * 30 for name in columns}}
            for n in range(6000)]
    run = duckdb_warehouse.run([
        schema_msg("wide", {"id": {"type": "integer"}, **columns}),
        *(record_msg("wide", row) for row in rows),
    ])
    assert run.error is None
    assert duckdb_warehouse.query(
        "SELECT count(*), count(DISTINCT id), max(field_99) FROM wide") == [
        (6000, 6000, "field_99-999-" + "x" * 30)]
    retries = [r.getMessage() for r in caplog.records if "ran out of its memory_limit" in
               r.getMessage()]
    assert retries and retries[0].startswith(
        "DuckDB ran out of its memory_limit; retrying with 8 MB")


def test_a_memory_limit_the_user_sets_is_never_raised(duckdb_warehouse: Warehouse) -> None:
    columns = {f"field_{i}": {"type": ["string", "null"]} for i in range(100)}
    run = duckdb_warehouse.run([
        schema_msg("wide", {"id": {"type": "integer"}, **columns}),
        *(record_msg("wide", {"id": n, **{c: "y" * 40 for c in columns}}) for n in range(6000)),
    ], duckdb_memory_limit="4MB")
    assert run.error is not None and "memory" in str(run.error).lower()


def test_a_duckdb_file_named_like_its_schema_is_written(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """stripe.duckdb with default_target_schema stripe: DuckDB would read "stripe"."s" as
    ambiguous (catalog or schema), so names carry the catalog."""
    path = tmp_path / "stripe.duckdb"
    wh = Warehouse("duckdb", {"backend": "duckdb", "path": str(path)}, tmp_path)
    for run in range(2):
        messages = [schema_msg("s", PROPS), record_msg("s", {"id": f"k{run}", "amount": run})]
        result = wh.run(messages, default_target_schema="stripe")
        assert result.error is None, result.error
    stored = wh.query('SELECT id, amount FROM "stripe"."stripe"."s" ORDER BY id')
    assert stored == [("k0", 0), ("k1", 1)]


def test_hard_delete_with_append_only_appends_the_deletion_record(
    warehouse: Warehouse, caplog  # type: ignore[no-untyped-def]
) -> None:
    """Appended rows have no key whose row could be deleted: the deletion record is stored
    as it came (with its _sdc_deleted_at), with a warning, instead of being dropped."""
    config = {"load_method": "append-only", "hard_delete": True}
    first = [schema_msg("h", PROPS)] + [record_msg("h", {"id": i, "amount": 1}) for i in "ab"]
    assert warehouse.run(first, **config).error is None
    deleted = {"id": "a", "amount": 1, "_sdc_deleted_at": "2024-01-01T00:00:00Z"}
    result = warehouse.run([schema_msg("h", PROPS), record_msg("h", deleted)], **config)
    assert result.error is None, result.error
    stored = rows(warehouse, "h", "id, _sdc_deleted_at IS NOT NULL")
    assert sorted(stored) == [("a", False), ("a", True), ("b", False)]
    assert "hard_delete does not apply to stream 'h' (append-only)" in caplog.text


def test_a_name_given_in_one_run_stays_with_its_property_in_later_runs(
    warehouse: Warehouse,
) -> None:
    """userId alone gets user_id; a later run that also sends user_id must not give that
    column to user_id (the two would share it): the column stays userId's."""
    def run(**record: object) -> None:
        props = {"id": {"type": "integer"}}
        props.update({k: {"type": ["null", "string"]} for k in record if k != "id"})
        result = warehouse.run([schema_msg("e", props), record_msg("e", record)],
                               add_record_metadata=False)
        assert result.error is None, result.error

    run(id=1, userId="camel1")
    run(id=2, userId="camel2", user_id="snake2")
    run(id=3, userId="camel3")
    columns = warehouse.columns(warehouse.default_schema, "e")
    snake = next(c for c in columns if c.startswith("user_id_"))
    stored = rows(warehouse, "e", f'id, user_id, "{snake}"')
    assert stored == [(1, "camel1", None), (2, "camel2", "snake2"), (3, "camel3", None)]


def test_a_table_given_in_one_run_stays_with_its_stream_in_later_runs(
    warehouse: Warehouse,
) -> None:
    """a-b and a.b normalize alike: told apart in one run, and in the runs after it each
    stream still loads its own table, whichever of them comes alone."""
    props = {"id": {"type": "integer"}, "w": {"type": ["null", "string"]}}

    def run(*streams: str) -> None:
        messages: list = []
        for i, stream in enumerate(streams):
            messages += [schema_msg(stream, props), record_msg(stream, {"id": i, "w": stream})]
        assert warehouse.run(messages).error is None

    run("a-b", "a.b")
    run("a.b")
    run("a_b")
    tables = {
        name
        for (name,) in warehouse.query(
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'a_b%'"
        )
    }
    assert len(tables) == 3
    by_stream: dict[str, set] = {}
    for table_name in tables:
        for (w,) in rows(warehouse, table_name, "w"):
            by_stream.setdefault(w, set()).add(table_name)
    assert all(len(t) == 1 for t in by_stream.values())  # one table per stream
    assert len({next(iter(t)) for t in by_stream.values()}) == 3


def test_names_the_target_keeps_for_itself_are_never_given_to_a_source(
    warehouse: Warehouse,
) -> None:
    """A stream named like the name registry gets its own table; a property that
    normalizes to a metadata column's name never gets that column, even in a run without
    metadata; a hashed table name already taken is hashed again."""
    props = {"id": {"type": "integer"}, "v": {"type": ["null", "string"]}}
    name = "_cloudsources_names"
    registry = [schema_msg(name, props), record_msg(name, {"id": 1, "v": "x"})]
    assert warehouse.run(registry).error is None
    assert warehouse.run(registry).error is None  # the registry still reads
    user = {"id": {"type": "integer"}, "_sdcDeletedAt": {"type": ["null", "string"]}}
    first = [schema_msg("d", user), record_msg("d", {"id": 1, "_sdcDeletedAt": "text 1"})]
    assert warehouse.run(first, add_record_metadata=False).error is None
    second = [schema_msg("d", user), record_msg("d", {"id": 2, "_sdcDeletedAt": "text 2"})]
    second.append(record_msg("d", {"id": 3}))
    assert warehouse.run(second, hard_delete=True).error is None
    columns = warehouse.columns(warehouse.default_schema, "d")
    user_column = next(c for c in columns if c.startswith("_sdc_deleted_at_"))
    stored = rows(warehouse, "d", f'id, "{user_column}", _sdc_deleted_at')
    assert stored == [(1, "text 1", None), (2, "text 2", None), (3, None, None)]
    taken = normalize_hashed("a.b")
    both = [schema_msg("a_b", props), record_msg("a_b", {"id": 1, "v": "a_b"})]
    both += [schema_msg(taken, props), record_msg(taken, {"id": 1, "v": taken})]
    assert warehouse.run(both).error is None
    alone = [schema_msg("a.b", props), record_msg("a.b", {"id": 1, "v": "a.b"})]
    assert warehouse.run(alone).error is None
    found = warehouse.query(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'a_b%'"
    )
    assert len(found) == 3
    for (name,) in found:
        assert len(rows(warehouse, name, "v")) == 1  # each its own stream's row


def normalize_hashed(stream: str) -> str:
    from target_warehouse.naming import normalize, short_hash, with_suffix

    return with_suffix(normalize(stream), short_hash(stream), 63)


def test_a_duckdb_schema_named_in_another_case_is_the_same_schema(tmp_path) -> None:  # type: ignore[no-untyped-def]
    wh = Warehouse("duckdb", {"backend": "duckdb", "path": str(tmp_path / "w.duckdb")}, tmp_path)
    props = {"id": {"type": "integer"}, "userId": {"type": ["null", "string"]}}
    assert wh.run([schema_msg("a-b", props), record_msg("a-b", {"id": 1, "userId": "u1"})],
                  default_target_schema="s1").error is None
    other = {"id": {"type": "integer"}, "user_id": {"type": ["null", "string"]}}
    result = wh.run([schema_msg("a.b", other), record_msg("a.b", {"id": 1, "user_id": "s"})],
                    default_target_schema="S1")
    assert result.error is None, result.error
    wider = {**props, "x": {"type": ["null", "string"]}}
    result = wh.run([schema_msg("a-b", wider), record_msg("a-b", {"id": 2, "x": "y"})],
                    default_target_schema="S1")
    assert result.error is None, result.error
    stored = wh.query("SELECT id, user_id, x FROM s1.a_b ORDER BY id")
    assert stored == [(1, "u1", None), (2, None, "y")]


def test_the_name_registry_refuses_a_name_given_twice(warehouse: Warehouse) -> None:
    """Two runs into one schema at once each read the registry once: the second to record
    a name already given (to another source) fails there, instead of sharing the table."""
    from target_warehouse.backends import NAMES_TABLE
    from target_warehouse.errors import LoadError
    from target_warehouse.target import TargetWarehouse

    messages = [schema_msg("a-b", PROPS), record_msg("a-b", {"id": "x", "amount": 1})]
    assert warehouse.run(messages).error is None
    target = TargetWarehouse(config=warehouse.config)
    try:
        schema = warehouse.default_schema
        assert ("table", "", "a-b", "a_b") in target.backend.read_names(schema)
        with pytest.raises(LoadError, match=NAMES_TABLE):
            target.backend.add_names(schema, [("table", "", "a.b", "a_b")])
        assert ("table", "", "a.b", "a_b") not in target.backend.read_names(schema)
    finally:
        target.backend.close()

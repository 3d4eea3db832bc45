"""The typed decoding fast path (fastdecode.py) stores and rejects exactly what the
generic path does: long runs of one stream, so most lines take it."""

from __future__ import annotations

import decimal
import json

import pytest
from target_harness import Warehouse, record_msg, schema_msg, state_msg

PROPS = {
    "id": {"type": ["null", "string"]},
    "n": {"type": ["null", "integer"]},
    "amount": {"type": ["null", "number"]},
    "flag": {"type": ["null", "boolean"]},
    "nested": {
        "type": ["null", "object"],
        "properties": {"a": {"type": ["null", "string"]}, "b": {"type": ["null", "integer"]}},
    },
    "tags": {"type": ["null", "array"], "items": {"type": "string"}},
    "anything": {},
}


def _rows(i: int) -> dict:
    return {
        "id": f"r{i}",
        "n": i if i % 3 else None,
        "amount": decimal.Decimal("12345678901234567890.125") if i % 2 else i,
        "flag": i % 2 == 0,
        "nested": {"a": f'é\t"\\ {i}', "b": i, "extra": [1, {"x": None}]} if i % 4 else None,
        "tags": ["x", "ü"] if i % 5 else None,
        "anything": {"k": "\u0000z"} if i == 7 else i,
    }


def _line(record: dict) -> str:
    """A RECORD line; the Decimal goes out as a bare JSON number (exact)."""
    text = json.dumps(record_msg("s", record), default=str)
    return text.replace('"12345678901234567890.125"', "12345678901234567890.125")


def _messages(count: int) -> list[dict | str]:
    out: list[dict | str] = [schema_msg("s", PROPS)]
    for i in range(count):
        rec = _rows(i)
        if i == 3:
            del rec["flag"]  # missing, not null
        out.append(_line(rec))
    out.append(state_msg({"n": count}))
    return out


def test_typed_batches_store_what_the_records_hold(warehouse: Warehouse) -> None:
    result = warehouse.run(_messages(50), batch_size_rows=16)
    assert result.error is None, result.error
    rows = warehouse.query(
        f'SELECT id, n, amount, flag, nested, tags, anything FROM "{warehouse.default_schema}"."s"'
        " ORDER BY n NULLS FIRST, id"
    )
    assert len(rows) == 50
    by_id = {r[0]: r for r in rows}
    r5 = by_id["r5"]
    assert r5[1] == 5
    assert decimal.Decimal(str(r5[2])) == decimal.Decimal("12345678901234567890.125")
    nested = r5[4] if warehouse.kind == "postgres" else json.loads(r5[4])  # jsonb: a dict
    assert nested == {"a": 'é\t"\\ 5', "b": 5, "extra": [1, {"x": None}]}
    assert r5[5] is None
    r6 = by_id["r6"][5]
    tags = r6 if warehouse.kind == "postgres" else json.loads(r6)
    assert tags == ["x", "ü"]
    assert by_id["r3"][3] is None and by_id["r4"][3] is True
    assert by_id["r8"][4] is None
    seven = by_id["r7"][6] if warehouse.kind == "postgres" else json.loads(by_id["r7"][6])
    expected = "z" if warehouse.kind == "postgres" else "\u0000z"
    assert seven == {"k": expected}


def test_a_bad_record_inside_a_typed_batch_names_its_line(warehouse: Warehouse) -> None:
    messages = _messages(20)[:-1]
    messages.append(state_msg({"n": 20}))
    bad = _rows(99)
    bad["nested"]["b"] = "not an int"
    messages += [_line(_rows(i)) for i in range(21, 25)]
    messages.append(_line(bad))  # input line 27
    messages += [_line(_rows(i)) for i in range(30, 33)]
    result = warehouse.run(messages, batch_size_rows=10)
    assert result.error is not None
    text = str(result.error) + " ".join(getattr(result.error, "__notes__", []))
    assert getattr(result.error, "input_line", None) == 27, text
    assert getattr(result.error, "input_stream", None) == "s"
    assert "nested.b" in text
    assert result.states == [{"n": 20}]


def test_a_null_key_inside_a_typed_batch_is_rejected(warehouse: Warehouse) -> None:
    messages: list[dict | str] = [schema_msg("s", PROPS)]
    messages += [record_msg("s", {"id": f"k{i}"}) for i in range(5)]
    messages.append(record_msg("s", {"id": None}))  # input line 7
    result = warehouse.run(messages)
    assert result.error is not None
    assert getattr(result.error, "input_line", None) == 7
    assert "'id' is null" in str(result.error)


def test_interleaved_streams_and_last_wins(warehouse: Warehouse) -> None:
    messages: list[dict | str] = [schema_msg("s", PROPS), schema_msg("t", PROPS)]
    for i in range(30):
        messages.append(record_msg("s" if i % 3 else "t", {"id": f"k{i % 7}", "n": i}))
    result = warehouse.run(messages, batch_size_rows=8)
    assert result.error is None, result.error
    for stream, picked in (("s", [i for i in range(30) if i % 3]), ("t", range(0, 30, 3))):
        rows = warehouse.query(f'SELECT id, n FROM "{warehouse.default_schema}"."{stream}"')
        last = {f"k{i % 7}": i for i in picked}
        assert dict(rows) == last


def test_interleaved_streams_each_keep_their_typed_path(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines of two streams taking turns are both decoded typed and loaded in full batches;
    each record keeps its own line, and a STATE waits for the records of both before it."""
    from target_warehouse.sinks import WarehouseSink

    batches: list[tuple[str, int, int]] = []  # (stream, records, of which typed)
    process = WarehouseSink.process_batch

    def spy(self: WarehouseSink, context: dict) -> None:
        if context.get("records"):
            batches.append((self.stream_name, len(context["records"]), context["typed"]))
        process(self, context)

    monkeypatch.setattr(WarehouseSink, "process_batch", spy)
    messages: list[dict | str] = [schema_msg("a", PROPS), schema_msg("b", PROPS)]
    for i in range(12):  # lines 3-14: a, b, a, b, ...
        stream = "ab"[i % 2]
        messages.append(_line({"id": f"r{i}", "n": i}).replace('"s"', f'"{stream}"', 1))
    messages.append(state_msg({"n": 12}))  # line 15
    # the record's own "stream" field comes before the envelope's: still stream a
    messages.append(
        '{"type": "RECORD", "record": {"id": "r12", "n": 12, "stream": "b"}, "stream": "a"}'
    )
    result = warehouse.run(messages, batch_size_rows=4)
    assert result.error is None, result.error
    assert result.states == [{"n": 12}]
    # r12's line names "b" first: it takes the generic path, to stream a all the same
    assert sorted(batches) == [("a", 3, 2), ("a", 4, 4), ("b", 2, 2), ("b", 4, 4)]
    for stream, expected in (("a", [0, 2, 4, 6, 8, 10, 12]), ("b", [1, 3, 5, 7, 9, 11])):
        rows = warehouse.query(
            f'SELECT n, _sdc_sequence FROM "{warehouse.default_schema}"."{stream}" ORDER BY n'
        )
        assert [n for n, _ in rows] == expected
        lines = [3 + n if n < 12 else 16 for n, _ in rows]
        assert [seq - rows[0][1] for _, seq in rows] == [line - lines[0] for line in lines]


def test_direct_copy_meeting_an_existing_key_falls_back_to_the_merge(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch with a key already in the table: the COPY straight into the table hits the
    primary key, is rolled back to its savepoint, and the batch merges (no lookup first)."""
    if warehouse.kind != "postgres":
        pytest.skip("PostgreSQL's direct COPY")
    import target_warehouse.backends.postgres as pg

    went: list[bool] = []
    direct = pg.PostgresBackend._direct

    def spy(self: pg.PostgresBackend, *args: object) -> bool:
        went.append(direct(self, *args))  # type: ignore[arg-type]
        return went[-1]

    monkeypatch.setattr(pg.PostgresBackend, "_direct", spy)
    first = [schema_msg("s", PROPS)] + [record_msg("s", {"id": f"k{i}", "n": i}) for i in range(6)]
    assert warehouse.run(first, batch_size_rows=3).error is None
    assert went == [True, True]  # new keys: straight into the table
    second = [schema_msg("s", PROPS)] + [
        record_msg("s", {"id": f"k{i}", "n": 100 + i}) for i in range(4, 9)
    ]
    result = warehouse.run(second, batch_size_rows=3)
    assert result.error is None, result.error
    assert went == [True, True, False]  # k4 was there; the next batch merges without trying
    rows = dict(warehouse.query('SELECT id, n FROM "public"."s"'))
    assert rows == {**{f"k{i}": i for i in range(4)}, **{f"k{i}": 100 + i for i in range(4, 9)}}


def test_composite_keys_upsert_across_batches(warehouse: Warehouse) -> None:
    """On PostgreSQL the second batch's COPY meets the composite primary key and merges."""
    props = {"a": {"type": "string"}, "b": {"type": "integer"}, "n": {"type": ["null", "integer"]}}
    keys = ["a", "b"]
    runs = [[("x", 1, 1), ("x", 2, 2), ("y", 1, 3)], [("y", 2, 4), ("x", 2, 20), ("z", 9, 5)]]
    for rows in runs:
        messages = [schema_msg("s", props, keys)] + [
            record_msg("s", {"a": a, "b": b, "n": n}) for a, b, n in rows
        ]
        result = warehouse.run(messages, batch_size_rows=10)
        assert result.error is None, result.error
    stored = warehouse.query(f'SELECT a, b, n FROM "{warehouse.default_schema}"."s" ORDER BY a, b')
    assert stored == [("x", 1, 1), ("x", 2, 20), ("y", 1, 3), ("y", 2, 4), ("z", 9, 5)]


def test_runs_of_typed_lines_fill_each_batch_exactly(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    from target_warehouse.sinks import WarehouseSink

    batches: list[tuple[int, int]] = []  # (records, of which typed) per flushed batch
    process = WarehouseSink.process_batch

    def spy(self: WarehouseSink, context: dict) -> None:
        if context.get("records"):
            batches.append((len(context["records"]), context["typed"]))
        process(self, context)

    monkeypatch.setattr(WarehouseSink, "process_batch", spy)
    messages: list[dict | str] = [schema_msg("s", PROPS)]
    messages += [_line({"id": f"r{i}", "n": i}) for i in range(10)]
    messages += [state_msg({"n": 10}), _line({"id": "r10", "n": 10})]
    result = warehouse.run(messages, batch_size_rows=4)
    assert result.error is None, result.error
    assert batches == [(4, 4), (4, 4), (3, 3)]  # the STATE line ends a run, not a batch
    assert result.states == [{"n": 10}]
    rows = warehouse.query(
        f'SELECT n, _sdc_sequence FROM "{warehouse.default_schema}"."s" ORDER BY n'
    )
    assert [n for n, _ in rows] == list(range(11))
    lines = [sequence - rows[0][1] for _, sequence in rows]
    assert lines == [*range(10), 11]  # each record keeps its own input line (line 12 is the STATE)


def test_upserts_across_runs_update_rows(warehouse: Warehouse) -> None:
    for run in range(2):
        messages = [schema_msg("s", PROPS)] + [
            record_msg("s", {"id": f"k{i}", "n": run * 100 + i})
            for i in range(run * 5, 10 + run * 5)
        ]
        assert warehouse.run(messages, batch_size_rows=4).error is None
    rows = dict(warehouse.query(f'SELECT id, n FROM "{warehouse.default_schema}"."s"'))
    assert rows == {**{f"k{i}": i for i in range(5)}, **{f"k{i}": 100 + i for i in range(5, 15)}}


def test_typed_batches_are_encoded_on_the_main_thread_in_binary(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every typed batch, date-times, metadata and nested objects included, is encoded as
    one binary COPY payload before its load (none falls back to row-by-row COPY), and
    nested objects kept as read store the same JSON as decoded ones."""
    if warehouse.kind != "postgres":
        pytest.skip("PostgreSQL's binary COPY payload")
    import target_warehouse.backends.postgres as pg

    payloads: list[bool] = []
    encode = pg.encode_rows

    def spy(*args: object, **kwargs: object) -> object:
        payload = encode(*args, **kwargs)  # type: ignore[arg-type]
        payloads.append(payload is not None)
        return payload

    monkeypatch.setattr(pg, "encode_rows", spy)
    props = {
        **PROPS,
        "at": {"type": ["null", "string"], "format": "date-time"},
    }
    messages: list[dict | str] = [schema_msg("s", props, ["id"])]
    for i in range(9):
        record = {"id": f"r{i}", "n": i, "at": f"2024-05-0{i + 1}T10:00:00+02:00"}
        record["nested"] = {"a": "plain", "b": i} if i % 3 else None  # as read / null
        if i == 4:
            record["nested"] = {"a": "esc\\aped \u00e9", "b": i}  # an escape: decoded
        messages.append(_line(record))
    result = warehouse.run(messages, batch_size_rows=4)
    assert result.error is None, result.error
    assert payloads == [True, True, True]
    rows = warehouse.query(
        'SELECT n, nested, at, _sdc_received_at IS NOT NULL FROM "public"."s" ORDER BY n'
    )
    assert [(n, nested) for n, nested, _, _ in rows] == [
        (i, None if i % 3 == 0 else {"a": "esc\\aped é" if i == 4 else "plain", "b": i})
        for i in range(9)
    ]
    assert [at.isoformat() for _, _, at, _ in rows] == [
        f"2024-05-0{i + 1}T08:00:00+00:00" for i in range(9)
    ]
    assert all(received for *_, received in rows)


def test_integers_just_beyond_bigint_in_a_typed_run_widen_the_column(
    warehouse: Warehouse,
) -> None:
    """2**63 decodes as a 64-bit integer, yet BIGINT cannot hold it: such a line goes the
    generic way and its batch widens the column, exactly."""
    messages: list[dict | str] = [schema_msg("s", PROPS)]
    values = [1, 2, 2**63, 3, -(2**63) - 1, 4, 2**63 - 1]
    messages += [_line({"id": f"r{i}", "n": n}) for i, n in enumerate(values)]
    result = warehouse.run(messages, batch_size_rows=3)
    assert result.error is None, result.error
    assert warehouse.columns(warehouse.default_schema, "s")["n"] in ("numeric", "decimal(38,9)")
    rows = warehouse.query(f'SELECT id, n FROM "{warehouse.default_schema}"."s" ORDER BY id')
    assert [(i, int(n)) for i, n in rows] == [(f"r{i}", n) for i, n in enumerate(values)]


def test_a_batch_encoded_while_the_previous_direct_copy_fails_is_staged(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next batch is encoded while the previous one loads, for the path known then
    (direct). That load meets an existing key: the next batch, encoded for the wrong path,
    is staged and merged all the same, and both batches' rows are stored."""
    if warehouse.kind != "postgres":
        pytest.skip("PostgreSQL's direct COPY")
    import threading
    import time

    import target_warehouse.backends.postgres as pg

    first = [schema_msg("s", PROPS)] + [record_msg("s", {"id": f"k{i}", "n": i}) for i in range(3)]
    assert warehouse.run(first, batch_size_rows=3).error is None
    encoded: list[bool] = []  # per batch: encoded for the direct path, while a load ran
    went: list[bool] = []
    encode, direct = pg.encode_rows, pg.PostgresBackend._direct

    def spy_encode(*args: object, **kwargs: object) -> object:
        loading = any(t.name == "target-warehouse-load" for t in threading.enumerate())
        encoded.append(kwargs["ordinal"] is False and loading)
        return encode(*args, **kwargs)  # type: ignore[arg-type]

    def slow_direct(self: pg.PostgresBackend, *args: object) -> bool:
        time.sleep(0.3)  # the next batch is encoded meanwhile
        went.append(direct(self, *args))  # type: ignore[arg-type]
        return went[-1]

    monkeypatch.setattr(pg, "encode_rows", spy_encode)
    monkeypatch.setattr(pg.PostgresBackend, "_direct", slow_direct)
    second = [schema_msg("s", PROPS)] + [
        record_msg("s", {"id": f"k{i}", "n": 100 + i}) for i in range(2, 8)
    ]
    result = warehouse.run(second, batch_size_rows=3)
    assert result.error is None, result.error
    assert encoded == [False, True]  # the second batch: encoded direct, during the first's load
    assert went == [False]  # k2 was there; the second batch was staged without trying
    rows = dict(warehouse.query('SELECT id, n FROM "public"."s"'))
    assert rows == {"k0": 0, "k1": 1, **{f"k{i}": 100 + i for i in range(2, 8)}}

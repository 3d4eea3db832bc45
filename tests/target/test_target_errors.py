"""Bad input and unreachable databases: one clear line, non-zero exit, no traceback."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest
from target_harness import TARGET, Warehouse, record_msg, schema_msg, state_msg

PROPS = {"id": {"type": "integer"}, "v": {"type": ["null", "string"]}}


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ERROR" in line]


def assert_one_clear_error(run_stderr: str, *expected: str) -> str:
    assert "Traceback" not in run_stderr, run_stderr
    errors = error_lines(run_stderr)
    assert len(errors) == 1, run_stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def count(wh: Warehouse) -> int:
    return wh.query(f'SELECT count(*) FROM "{wh.default_schema}"."s"')[0][0]


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ('{"type": "RECORD", "stream": "s", "record": {"id": 3', ["input line 5", "'s'", "JSON"]),
        (json.dumps(record_msg("ghost", {"id": 1})), ["input line 5", "'ghost'", "schema"]),
        (json.dumps({"type": "FOO", "stream": "s"}), ["input line 5", "unknown message type"]),
        (
            json.dumps(record_msg("s", {"id": "x"})),
            ["input line 5", "'s'", "field 'id' must be integer"],
        ),
        (json.dumps(record_msg("s", {"id": None})), ["input line 5", "'s'"]),
        (
            json.dumps({"type": "ACTIVATE_VERSION", "stream": "ghost", "version": 2}),
            ["input line 5", "ACTIVATE_VERSION for stream 'ghost' before its SCHEMA"],
        ),
    ],
    ids=[
        "malformed-json",
        "record-before-schema",
        "unknown-type",
        "invalid-record",
        "null-key",
        "activate-version-before-schema",
    ],
)
def test_bad_input_names_the_line_and_keeps_what_was_committed(
    warehouse: Warehouse, bad_line: str, expected: list[str]
) -> None:
    messages = [
        schema_msg("s", PROPS),
        record_msg("s", {"id": 1}),
        record_msg("s", {"id": 2}),
        state_msg({"n": 2}),
        bad_line,
        record_msg("s", {"id": 9}),
    ]
    result = warehouse.cli(messages, batch_size_rows=2)
    assert result.returncode == 1
    assert_one_clear_error(result.stderr, *expected)
    assert result.states == [{"n": 2}]  # forwarded: its records were committed
    assert count(warehouse) == 2


def test_duckdb_parent_directories_are_created(tmp_path) -> None:
    wh = Warehouse("duckdb", {"path": str(tmp_path / "out" / "nested" / "w.duckdb")}, tmp_path)
    assert wh.run([schema_msg("s", PROPS), record_msg("s", {"id": 1})]).error is None
    assert count(wh) == 1


def test_blank_lines_are_ignored(duckdb_warehouse: Warehouse) -> None:
    messages = [schema_msg("s", PROPS), "", "   ", record_msg("s", {"id": 1})]
    result = duckdb_warehouse.cli(messages)
    assert result.returncode == 0, result.stderr
    assert count(duckdb_warehouse) == 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("style", ["fields", "url"])
def test_unreachable_postgres_is_one_line_without_the_password(tmp_path, style: str) -> None:
    port = _closed_port()
    secret = "pa55-w0rd-never-shown"
    if style == "fields":
        config = {
            "backend": "postgres",
            "host": "127.0.0.1",
            "port": port,
            "user": "loader",
            "password": secret,
            "database": "warehouse",
        }
    else:
        url = f"postgresql+psycopg://loader:{secret}@127.0.0.1:{port}/warehouse"
        config = {"backend": "postgres", "sqlalchemy_url": url}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    proc = subprocess.run(
        [TARGET, "--config", str(path)],
        input=json.dumps(schema_msg("s", PROPS)).encode(),
        capture_output=True,
        timeout=60,
    )
    stderr = proc.stderr.decode()
    assert proc.returncode == 1
    assert secret not in stderr and secret not in proc.stdout.decode()
    assert_one_clear_error(stderr, f"127.0.0.1:{port}/warehouse", "cannot connect")


def test_unopenable_duckdb_file_is_one_line(tmp_path) -> None:
    path = tmp_path / "c.json"
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("not a DuckDB file\n" * 1000)
    path.write_text(json.dumps({"path": str(not_a_database)}))
    proc = subprocess.run(
        [TARGET, "--config", str(path)], input=b"", capture_output=True, timeout=60
    )
    assert proc.returncode == 1
    assert_one_clear_error(proc.stderr.decode(), "cannot open DuckDB database")


def test_invalid_config_is_rejected(tmp_path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"backend": "oracle"}))
    proc = subprocess.run(
        [TARGET, "--config", str(path)], input=b"", capture_output=True, timeout=60
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr.decode()
    assert "oracle" in proc.stderr.decode()


def test_invalid_utf8_names_its_own_line(tmp_path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"path": str(tmp_path / "w.duckdb")}))
    data = (json.dumps(state_msg({"n": 1})) + "\n").encode() + b'{"type": "\xff"}\n'
    proc = subprocess.run(
        [TARGET, "--config", str(path)], input=data, capture_output=True, timeout=60
    )
    assert proc.returncode == 1
    assert_one_clear_error(proc.stderr.decode(), "input line 2", "UTF-8")
    assert proc.stdout.decode().splitlines() == ['{"n": 1}']


def test_invalid_utf8_inside_a_nested_object_names_its_line(warehouse: Warehouse) -> None:
    """A typed line keeps nested objects as read; a bad byte in one is found when the
    batch is checked, and named like a bad byte anywhere else (line, stream), before any
    STATE after it goes out."""
    props = {"id": {"type": "integer"}, "o": {"type": ["null", "object"]}}
    lines = [
        json.dumps(schema_msg("s", props)).encode(),
        json.dumps(record_msg("s", {"id": 1, "o": {"a": 1}})).encode(),
        json.dumps(state_msg({"k": 1})).encode(),
        json.dumps(record_msg("s", {"id": 2, "o": {"a": 1}})).encode(),
        b'{"type":"RECORD","stream":"s","record":{"id":3,"o":{"a":"\xff"}}}',
        json.dumps(record_msg("s", {"id": 4, "o": {"a": 1}})).encode(),
    ]
    config = warehouse.tmp_path / "config-utf8.json"
    config.write_text(json.dumps(warehouse.config))
    proc = subprocess.run(
        [TARGET, "--config", str(config)],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        timeout=120,
    )
    stderr = proc.stderr.decode()
    assert proc.returncode == 1
    assert "input line 5, stream 's': line is not valid UTF-8" in stderr
    assert "Traceback" not in stderr
    assert proc.stdout == b""  # {"k": 1} waits for record 2, which is not stored


def test_a_value_postgresql_rejects_with_validation_off_names_its_own_line(
    warehouse: Warehouse,
) -> None:
    """validate_records off: PostgreSQL judges the value; its COPY error names the row, so
    the error names that record's input line (not the batch's last one)."""
    if warehouse.kind != "postgres":
        pytest.skip("PostgreSQL's COPY error context names the row")
    props = {"id": {"type": "integer"}, "i": {"type": ["null", "integer"]}}
    messages = [schema_msg("w", props)] + [
        record_msg("w", {"id": n, "i": value})
        for n, value in ((1, 1), (2, "abc"), (3, 3), (4, 4))
    ]
    result = warehouse.run(messages, validate_records=False)
    assert result.error is not None
    assert 'invalid input syntax for type bigint: "abc"' in str(result.error)
    assert getattr(result.error, "input_line", None) == 3

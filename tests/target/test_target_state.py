"""STATE leaves the target only after every record before it is committed."""

from __future__ import annotations

import json
import select
import subprocess
import time
import uuid

import pytest
from singer_sdk import Target
from target_harness import TARGET, Warehouse, record_msg, schema_msg, state_msg, to_lines

PROPS = {"id": {"type": "integer"}, "v": {"type": ["null", "string"]}}


def committed_rows(wh: Warehouse) -> int:
    """Row count seen by a separate connection, i.e. only committed rows."""
    try:
        return wh.query(f'SELECT count(*) FROM "{wh.default_schema}"."s"')[0][0]
    except Exception:  # table not created yet
        return 0


@pytest.fixture
def emitted_states(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict, int]]:
    """Every STATE the target writes, with the rows committed at that moment."""
    seen: list[tuple[dict, int]] = []
    original = Target._write_state_message  # the SDK's raw write to stdout

    def spy(self: Target, state: dict) -> None:
        seen.append((state, committed_rows(warehouse)))
        original(self, state)

    monkeypatch.setattr(Target, "_write_state_message", spy)
    return seen


def test_state_is_emitted_only_after_the_records_before_it_are_committed(
    warehouse: Warehouse, emitted_states: list[tuple[dict, int]]
) -> None:
    seen = emitted_states
    messages = [
        schema_msg("s", PROPS),
        record_msg("s", {"id": 1}),
        record_msg("s", {"id": 2}),  # batch full: flushed
        record_msg("s", {"id": 3}),
        state_msg({"after": 3}),  # record 3 still pending: held
        record_msg("s", {"id": 4}),  # flush of 3+4 makes it safe
        record_msg("s", {"id": 5}),
        state_msg({"after": 5}),
        record_msg("s", {"id": 6}),
        record_msg("s", {"id": 7}),
    ]
    result = warehouse.run(messages, batch_size_rows=2)
    assert result.error is None, result.error
    emitted = [(s["after"], n) for s, n in seen if s]
    # each STATE appears once, and by then at least the records before it were committed
    assert [after for after, _ in emitted] == [3, 5]
    assert all(n >= after for after, n in emitted), emitted
    assert result.states == [{"after": 3}, {"after": 5}]
    assert committed_rows(warehouse) == 7


def test_state_with_nothing_pending_is_forwarded_at_once(warehouse: Warehouse) -> None:
    messages = [
        schema_msg("s", PROPS),
        record_msg("s", {"id": 1}),
        state_msg({"n": 1}),
        state_msg({"n": 1}),  # repeated: forwarded once
        record_msg("s", {"id": 2}),
        state_msg({"n": 2}),
    ]
    result = warehouse.run(messages, batch_size_rows=1)
    assert result.error is None, result.error
    assert result.states == [{"n": 1}, {"n": 2}]


def _readline(proc: subprocess.Popen, timeout: float) -> str | None:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().decode() if ready else None


@pytest.mark.postgres
def test_state_on_stdout_of_a_running_target_follows_committed_rows(
    pg_warehouse: Warehouse,
) -> None:
    config_path = pg_warehouse.tmp_path / f"{uuid.uuid4().hex[:6]}.json"
    config_path.write_text(json.dumps({**pg_warehouse.config, "batch_size_rows": 2}))
    proc = subprocess.Popen(
        [TARGET, "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None

    def send(*messages: dict) -> None:
        proc.stdin.write(to_lines(list(messages)).encode())  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    try:
        send(
            schema_msg("s", PROPS),
            record_msg("s", {"id": 1}),
            record_msg("s", {"id": 2}),
            state_msg({"n": 2}),
        )
        line = _readline(proc, 30)
        assert line is not None and json.loads(line) == {"n": 2}
        assert committed_rows(pg_warehouse) == 2

        send(record_msg("s", {"id": 3}), state_msg({"n": 3}))
        time.sleep(0.5)
        assert _readline(proc, 1.0) is None  # record 3 is not committed: state held back
        assert committed_rows(pg_warehouse) == 2

        proc.stdin.close()
        line = _readline(proc, 30)
        assert line is not None and json.loads(line) == {"n": 3}
        assert committed_rows(pg_warehouse) == 3
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_state_flush_seconds_commits_while_data_flows(
    warehouse: Warehouse, emitted_states: list[tuple[dict, int]]
) -> None:
    seen = emitted_states
    messages = [
        schema_msg("s", PROPS),
        record_msg("s", {"id": 1}),
        state_msg({"n": 1}),
        record_msg("s", {"id": 2}),
        record_msg("s", {"id": 3}),
    ]
    # batch_size_rows is far away: only the timer can release the STATE before the end
    result = warehouse.run(messages, batch_size_rows=1000, state_flush_seconds=0)
    assert result.error is None, result.error
    assert seen == [({"n": 1}, 1)]  # emitted mid-run, right after record 1 was committed
    assert committed_rows(warehouse) == 3


def test_empty_state_is_never_emitted(warehouse: Warehouse) -> None:
    messages = [schema_msg("s", PROPS), state_msg({}), record_msg("s", {"id": 1}), state_msg({})]
    result = warehouse.run(messages)
    assert result.error is None, result.error
    assert result.states == []
    assert committed_rows(warehouse) == 1


def test_a_failing_stream_lets_healthy_streams_commit_and_the_safe_state_out(
    warehouse: Warehouse,
) -> None:
    other = schema_msg("other", PROPS)
    messages = [
        schema_msg("s", PROPS),
        other,
        record_msg("other", {"id": 1}),
        state_msg({"n": 1}),  # safe once 'other' is committed
        record_msg("s", {"id": 10}),  # pending in the failing stream
        record_msg("other", {"id": 2}),
        state_msg({"n": 2}),  # not safe: record 10 of 's' is never committed
        record_msg("s", {"id": "not an integer"}),
    ]
    result = warehouse.cli(messages, batch_size_rows=100)
    assert result.returncode == 1
    assert "input line 8, stream 's'" in result.stderr
    assert result.states == [{"n": 1}]
    other_rows = warehouse.query(f'SELECT id FROM "{warehouse.default_schema}"."other" ORDER BY 1')
    assert other_rows == [(1,), (2,)]  # the healthy stream was flushed before the exit
    assert committed_rows(warehouse) == 0


def test_a_failure_found_at_batch_time_flushes_healthy_streams_only_up_to_its_line(
    warehouse: Warehouse,
) -> None:
    """Records are checked per batch, so the reader is past the bad line when the check
    fails: what the healthy stream read after that line is not loaded by the salvage."""
    messages: list[dict | str] = [schema_msg("s", PROPS), schema_msg("other", PROPS)]
    for i in range(10):  # lines 3-22: s, other, s, other, ...
        bad = i == 4  # s record 4: input line 11
        messages.append(record_msg("s", {"id": "not an integer" if bad else i}))
        messages.append(record_msg("other", {"id": i}))
    result = warehouse.cli(messages, batch_size_rows=100)
    assert result.returncode == 1
    assert "input line 11, stream 's'" in result.stderr
    other_rows = warehouse.query(f'SELECT id FROM "{warehouse.default_schema}"."other" ORDER BY 1')
    assert other_rows == [(0,), (1,), (2,), (3,)]  # read before line 11; 4-9 came after it
    assert committed_rows(warehouse) == 0


def test_a_slow_trickle_of_records_still_lets_state_out_while_data_flows(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, emitted_states: list[tuple[dict, int]]
) -> None:
    """Typed lines reach their sink in runs (reader.py); a run ends after RUN_SECONDS,
    so the state_flush_seconds timer sees records arriving slowly, one by one."""
    import target_warehouse.reader as reader
    from target_warehouse.target import TargetWarehouse

    monkeypatch.setattr(reader, "RUN_SECONDS", 0.05)
    seen = emitted_states

    def slowly() -> object:
        yield json.dumps(schema_msg("s", PROPS)) + "\n"
        yield json.dumps(record_msg("s", {"id": 0})) + "\n"
        yield json.dumps(state_msg({"n": 0})) + "\n"  # held: record 0 is not committed
        for i in range(1, 13):
            time.sleep(0.1)
            yield json.dumps(record_msg("s", {"id": i})) + "\n"

    target = TargetWarehouse(config={**warehouse.config, "state_flush_seconds": 0.3})
    target.listen(slowly())  # type: ignore[arg-type]
    assert seen, "the STATE never left"
    state, committed = seen[0]
    assert state == {"n": 0}
    # out mid-run, once the timer flushed the records read so far (not at the end)
    assert 1 <= committed < 13, committed
    assert committed_rows(warehouse) == 13


def test_a_batch_that_fails_before_its_load_holds_back_the_states_after_it(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch drained by the STATE timer fails while it is converted (no stream named by
    the line that triggered it): the salvage must not flush the emptied buffers as if they
    were the batch, so no STATE after its records goes out."""
    from target_warehouse import sinks

    values = sinks.WarehouseSink._values
    calls = {"n": 0}

    def failing(self: sinks.WarehouseSink, *args: object) -> object:
        calls["n"] += 1
        if self.stream_name == "s" and calls["n"] > len(self.columns):  # its second batch
            raise RuntimeError("conversion failed")
        return values(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(sinks.WarehouseSink, "_values", failing)
    messages = [
        schema_msg("s", PROPS),
        record_msg("s", {"id": 1}),
        state_msg({"at": 1}),  # drains s (state_flush_seconds 0): committed, emitted
        record_msg("s", {"id": 2}),
        state_msg({"at": 2}),  # drains s again: that batch fails
        record_msg("s", {"id": 3}),
    ]
    result = warehouse.run(messages, state_flush_seconds=0)
    assert isinstance(result.error, RuntimeError)
    assert getattr(result.error, "failed_stream", None) == "s"
    assert result.states == [{"at": 1}]
    rows = warehouse.query(f'SELECT id FROM "{warehouse.default_schema}"."s"')
    assert rows == [(1,)]


def test_a_widening_the_database_refuses_holds_back_the_states_after_it(
    warehouse: Warehouse,
) -> None:
    """PostgreSQL refuses to retype a column a view uses: that batch's error names its
    stream and lines, and no STATE after its records goes out."""
    if warehouse.kind != "postgres":
        pytest.skip("a view on the table blocks the ALTER on PostgreSQL")
    props = {"id": {"type": "integer"}, "n": {"type": ["null", "integer"]}}
    assert warehouse.run([schema_msg("s", props), record_msg("s", {"id": 1, "n": 1})]).error is None
    import psycopg

    with psycopg.connect(**warehouse.pg_params, autocommit=True) as con:  # type: ignore[arg-type]
        con.execute("CREATE VIEW public.v AS SELECT n FROM public.s")
    messages = [
        schema_msg("s", props),
        record_msg("s", {"id": 2, "n": 2}),
        record_msg("s", {"id": 3, "n": 99999999999999999999}),
        state_msg({"k": 1}),
        record_msg("s", {"id": 5, "n": 5}),
    ]
    result = warehouse.run(messages, state_flush_seconds=0)
    assert result.error is not None
    assert "view" in str(result.error)
    assert getattr(result.error, "input_line", None) == 3  # the batch's lines: 2-3
    assert result.states == []
    assert warehouse.query("SELECT id FROM public.s ORDER BY id") == [(1,)]

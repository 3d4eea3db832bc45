"""target-warehouse: a Singer target for DuckDB (embedded default) and PostgreSQL.

STATE discipline: a STATE message goes to stdout only once every record read before
it is committed. Each sink remembers the input line of its oldest uncommitted record;
a STATE read at line L is released as soon as no sink holds a record from before L
(at once when nothing is pending, else right after the flush that makes it safe).
Every ``state_flush_seconds`` all sinks are flushed so STATE keeps moving. When a
stream fails, the other streams are flushed and the last safe STATE goes out before
the non-zero exit.
"""

from __future__ import annotations

import copy
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from singer_sdk.helpers.capabilities import TargetCapabilities
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.target_base import Target

from target_warehouse.backends import NAMES_TABLE, Backend, NameRow, open_backend
from target_warehouse.errors import EXPECTED_ERRORS, InputError, describe
from target_warehouse.naming import hashed_apart, normalize
from target_warehouse.pipeline import LoadPipeline
from target_warehouse.reader import FastRecords, LineTrackingReader
from target_warehouse.settings import CONFIG_SCHEMA, OVERWRITE
from target_warehouse.sinks import WarehouseSink


class TargetWarehouse(Target):
    """Loads Singer streams into DuckDB or PostgreSQL with set-based batch loads."""

    name = "target-warehouse"
    package_name = "cloudsources"  # the distribution that ships this target (for --version)
    default_sink_class = WarehouseSink
    message_reader_class = LineTrackingReader
    capabilities = [*Target.capabilities, TargetCapabilities.TARGET_SCHEMA]

    config_jsonschema = CONFIG_SCHEMA

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_parallelism = 1  # one connection, one transaction at a time
        self._sources: dict[str, str | None] = {}
        self._schema_source: str | None = None
        self._tables: dict[tuple[str, str], str] = {}
        self._given_names: dict[str, list[NameRow]] = {}  # schema -> NAMES_TABLE's rows
        self._overwritten: set[tuple[str, str]] = set()
        self._last_state_written: dict | None = None
        self._held: list[tuple[int, dict]] = []  # (input line, STATE) not yet safe
        # stream -> its sink, for streams whose records go untouched to one sink (no
        # stream map, no flattening): their RECORDs take the short path. A stream's SCHEMA
        # resets its own entry (and any whose sink the SCHEMA replaced).
        self._direct: dict[str, WarehouseSink] = {}
        flush_every = self.config.get("state_flush_seconds")
        self._flush_every = 30.0 if flush_every is None else float(flush_every)
        self._last_flush = time.monotonic()
        # _sdc_sequence = this + input line: unique and increasing within a run, and
        # later runs start higher (microseconds since the epoch at start).
        self.sequence_base = time.time_ns() // 1000
        # Loads run on a worker thread (see pipeline.py). The input line of the oldest
        # record in the load in flight, and of every batch whose load failed, holds
        # back the STATEs read after it. The lock guards STATE bookkeeping, which the
        # worker also does once a load commits.
        import os
        self.pipeline = LoadPipeline(background=not os.environ.get("TW_SYNC"))
        self._inflight_line: int | None = None
        self._unsaved_lines: list[int] = []
        self._state_lock = threading.RLock()
        reader = self.message_reader
        if isinstance(reader, LineTrackingReader):
            reader.on_failure = self._salvage
            reader.fast_for = self._fast_path_for
        self.backend: Backend = open_backend(self.config)

    # -- naming --------------------------------------------------------------------

    def schema_for(self, stream_name: str) -> str:
        """default_target_schema, else the tap's source name, else the backend default."""
        configured = self.config.get("default_target_schema")
        if configured:
            return str(configured)
        source = self._schema_source or self._sources.get(stream_name)
        if source:
            return normalize(source, self.backend.max_identifier_bytes)
        return self.backend.default_schema

    def table_for(self, schema: str, stream_name: str) -> str:
        """Table for a stream; two streams that normalize alike get told apart, in one
        run or across runs (the table a stream was given once stays its own)."""
        key = (schema, stream_name)
        if key not in self._tables:
            given = {s: n for kind, _, s, n in self.given_names(schema) if kind == "table"}
            name = given.get(stream_name)
            if name is None:
                limit = self.backend.max_identifier_bytes
                name = normalize(stream_name, limit)
                taken = {t for (s, _), t in self._tables.items() if s == schema}
                taken |= {*given.values(), NAMES_TABLE}
                if name in taken:
                    name = hashed_apart(name, stream_name, taken, limit)
                self.record_names(schema, [("table", "", stream_name, name)])
            self._tables[key] = name
        return self._tables[key]

    def given_names(self, schema: str) -> list[NameRow]:
        """The names given out in a schema, by this run and earlier ones."""
        if schema not in self._given_names:
            self.pipeline.wait()  # the connection must be free
            self._given_names[schema] = self.backend.read_names(schema)
        return self._given_names[schema]

    def record_names(self, schema: str, rows: list[NameRow]) -> None:
        if rows:
            self.pipeline.wait()
            self.backend.add_names(schema, rows)
            self.given_names(schema).extend(rows)

    def claim_overwrite(self, schema: str, table: str) -> bool:
        """True the first time a table is loaded this run (overwrite empties it then)."""
        if (schema, table) in self._overwritten:
            return False
        self._overwritten.add((schema, table))
        return True

    # -- message hooks -------------------------------------------------------------

    def _process_schema_message(self, message_dict: dict) -> None:
        stream = message_dict.get("stream")
        if isinstance(stream, str):
            self._direct.pop(stream, None)
        self._use_fast(None)
        source = message_dict.get("source")  # cloudsources extension; other targets ignore it
        if not isinstance(source, str) or not source:
            source = self._sources.get(stream) if isinstance(stream, str) else None
        if isinstance(stream, str):
            self._sources[stream] = source
        self._schema_source = source
        self._flush_before_schema_change(message_dict)
        try:
            super()._process_schema_message(message_dict)
        finally:
            self._schema_source = None
        for name, known in list(self._direct.items()):  # a sink the SCHEMA replaced
            if self._sinks_active.get(name) is not known:
                del self._direct[name]
        sink = self._direct_sink(stream) if isinstance(stream, str) else None
        if sink is not None:  # the stream's very first RECORD can take the typed path
            self._direct[stream] = sink  # type: ignore[index]
            if sink.typed is not None:
                self._use_fast(sink)

    def _flush_before_schema_change(self, message_dict: dict) -> None:
        """Load a stream's pending records before its schema (or key) changes.

        They are written with the table shape they were read for, and before any record
        read under the new schema, so the last record per key still wins.
        """
        stream = message_dict.get("stream")
        maps = self.mapper.stream_maps.get(stream) if isinstance(stream, str) else None
        if not maps or (
            maps[0].raw_schema == message_dict.get("schema")
            and maps[0].raw_key_properties == message_dict.get("key_properties")
        ):
            return
        for stream_map in maps:
            sink = self._sinks_active.get(stream_map.stream_alias)
            if sink is not None and sink.current_size:
                self.drain_one(sink)
        self._release_states()

    @property
    def _line(self) -> int:
        reader = self.message_reader
        return reader.line_number if isinstance(reader, LineTrackingReader) else 0

    def _all_sinks(self) -> list[WarehouseSink]:
        return [*self._sinks_to_clear, *self._sinks_active.values()]  # type: ignore[list-item]

    def _process_record_message(self, message_dict: dict) -> None:
        """The SDK's record path, minus its per-record costs (see WarehouseSink.accept).

        A stream loaded as is (no stream map, no flattening) goes straight to its sink;
        the record counter metric is then counted per batch, and the SDK's max record
        age is checked against the receive time already taken for the record.
        """
        sink = self._direct.get(message_dict.get("stream"))  # type: ignore[arg-type]
        if sink is None:
            self._process_mapped_record(message_dict)
            return
        record = message_dict.get("record")
        if not isinstance(record, dict):
            raise InputError("a RECORD message needs a 'stream' name and a 'record' object")
        received = time.time()
        if sink.accept(record, message_dict, self.message_reader.line_number, received):
            self.drain_one(sink)  # full
            self._release_states()
        self._after_records(received)
        if sink.typed is not None:  # its next lines try the typed path first
            self._use_fast(sink)

    def _use_fast(self, sink: WarehouseSink | None) -> None:
        """Send this stream's next RECORD lines to the typed decoder (see fastdecode.py)."""
        reader = self.message_reader
        if isinstance(reader, LineTrackingReader):
            reader.fast = self._fast_path(sink)

    def _fast_path(self, sink: WarehouseSink | None) -> FastRecords | None:
        """The typed path of a sink whose records go to it untouched, if its schema has one
        (made once, and kept by the sink: a sink a SCHEMA replaces takes its path along)."""
        if sink is None or sink.typed is None:
            return None
        if sink.fast_records is None:
            def accept(envelopes: list[Any], lines: list[Any], numbers: list[int]) -> None:
                self._accept_typed(sink, envelopes, lines, numbers)

            sink.fast_records = FastRecords(sink.stream_name, sink.typed.decode, accept, sink.room)
        return sink.fast_records  # type: ignore[no-any-return]

    def _fast_path_for(self, stream: str) -> FastRecords | None:
        """The reader's way to another stream's typed path (streams whose lines interleave)."""
        return self._fast_path(self._direct.get(stream))

    def _accept_typed(
        self, sink: WarehouseSink, envelopes: list[Any], lines: list[Any], numbers: list[int]
    ) -> None:
        """_process_record_message for a run of lines the typed decoder took."""
        received = time.time()  # one receive time for the run (read within RUN_SECONDS)
        if sink.accept_typed(envelopes, lines, numbers, received):
            self.drain_one(sink)  # full
            self._release_states()
        self._after_records(received)

    def _after_records(self, received: float) -> None:
        """The timed flushes due once records were taken: state_flush_seconds (while a
        STATE waits) and the SDK's max record age (received: when they were read)."""
        if self._held and time.monotonic() - self._last_flush >= self._flush_every:
            self.drain_all()
        elif received - self._last_full_drain_at > self._MAX_RECORD_AGE_IN_MINUTES * 60:
            self._handle_max_record_age()

    def _process_mapped_record(self, message_dict: dict) -> None:
        stream = message_dict.get("stream")
        record = message_dict.get("record")
        if not isinstance(stream, str) or not isinstance(record, dict):
            raise InputError("a RECORD message needs a 'stream' name and a 'record' object")
        maps = self.mapper.stream_maps.get(stream)
        if maps is None:
            self._assert_sink_exists(stream)  # raises: RECORD before its SCHEMA
            return
        line = self._line
        received = time.time()
        drained = False
        for stream_map in maps:
            transformed = stream_map.transform(record if len(maps) == 1 else copy.copy(record))
            if transformed is None:
                continue  # filtered out by a stream map
            sink = self._sinks_active.get(stream_map.stream_alias)
            if sink is None:
                self._assert_sink_exists(stream_map.stream_alias)
                sink = self.get_sink(stream_map.stream_alias)
            if sink.accept(transformed, message_dict, line, received):  # type: ignore[attr-defined]
                self.drain_one(sink)
                drained = True
        if drained:
            self._release_states()
        self._after_records(received)
        direct = self._direct_sink(stream)
        if direct is not None:
            self._direct[stream] = direct

    def _direct_sink(self, stream: str) -> WarehouseSink | None:
        """The sink of a stream whose records go to it untouched (no map, no flattening)."""
        maps = self.mapper.stream_maps.get(stream)
        if (
            maps is None
            or len(maps) != 1
            or type(maps[0]) is not SameRecordTransform
            or maps[0].flattening_enabled
            or maps[0].stream_alias != stream
        ):
            return None
        sink = self._sinks_active.get(stream)
        reader = self.message_reader
        if isinstance(sink, WarehouseSink) and isinstance(reader, LineTrackingReader):
            return sink
        return None

    def _process_state_message(self, message_dict: dict) -> None:
        self._empty_overwritten_tables()
        super()._process_state_message(message_dict)
        state = self._latest_state
        with self._state_lock:
            if not state or state == self._last_state_written:
                return
            if self._held and self._held[-1][1] == state:
                return
            self._held.append((self._line, copy.deepcopy(state)))
            self._release_states()
            held = bool(self._held)
        if held and time.monotonic() - self._last_flush >= self._flush_every:
            self.drain_all()

    def _empty_overwritten_tables(self) -> None:
        """An overwrite stream with no record read yet has its table emptied before a
        STATE goes on: that STATE says the stream's (so far empty) data is committed."""
        for sink in self._all_sinks():
            if (
                sink.load_method == OVERWRITE
                and sink.columns
                and not sink.current_size
                and (sink.db_schema, sink.table) not in self._overwritten
            ):
                sink.process_batch({})  # claims the table: its records then only add rows
                self.pipeline.wait()

    def _process_activate_version_message(self, message_dict: dict) -> None:
        stream = message_dict.get("stream")
        if not isinstance(stream, str) or "version" not in message_dict:
            raise InputError("an ACTIVATE_VERSION message needs 'stream' and 'version'")
        if stream not in self.mapper.stream_maps:
            raise InputError(f"ACTIVATE_VERSION for stream {stream!r} before its SCHEMA")
        for stream_map in self.mapper.stream_maps[stream]:
            sink = self._sinks_active.get(stream_map.stream_alias)
            if sink is not None:  # rows read before the message are loaded first
                self.drain_one(sink)
        for sink in self._sinks_to_clear:
            self.drain_one(sink)
        super()._process_activate_version_message(message_dict)
        self._release_states()

    # -- loads and STATE -------------------------------------------------------------

    def submit_load(self, job: Callable[[], None], first_line: int | None) -> None:
        """Run a sink's load (after the one in flight); STATE waits for its commit."""
        self.pipeline.wait()

        def load() -> None:
            try:
                job()
            except BaseException:
                if first_line is not None:  # never committed: later STATEs stay held
                    with self._state_lock:
                        self._unsaved_lines.append(first_line)
                raise
            with self._state_lock:
                self._inflight_line = None
                self._release_states()

        self._inflight_line = first_line
        self.pipeline.submit(load)

    def _release_states(self) -> None:
        """Emit the newest STATE that no uncommitted record precedes."""
        with self._state_lock:
            if not self._held:
                return
            pending = [s.first_pending_line for s in self._all_sinks() if s.current_size]
            pending += [self._inflight_line, *self._unsaved_lines]
            oldest = min((p for p in pending if p is not None), default=None)
            safe = [i for i, (line, _) in enumerate(self._held) if oldest is None or line < oldest]
            if safe:
                state = self._held[safe[-1]][1]
                del self._held[: safe[-1] + 1]
                self._emit(state)

    def _emit(self, state: dict) -> None:
        with self._state_lock:
            if not state or state == self._last_state_written:
                return  # never an empty {} and never the same STATE twice
            super()._write_state_message(state)
            self._last_state_written = state

    def _write_state_message(self, state: dict) -> None:
        # Called by the SDK's drain_all once every sink is flushed: committed once the
        # load in flight is.
        self.pipeline.wait()
        with self._state_lock:
            if self._unsaved_lines:
                return  # unreachable in practice: a failed load raised in wait()
            self._held.clear()
            self._last_flush = time.monotonic()
            self._emit(state)

    def _salvage(self, failure: BaseException) -> None:
        """A stream failed: commit the healthy streams, then emit the last safe STATE.

        Only what they read up to the failing line is flushed: a record read after it
        (checks run per batch, so the reader may be ahead) is left for the next run.
        """
        failed = getattr(failure, "failed_stream", None) or getattr(failure, "input_stream", None)
        stop = getattr(failure, "input_line", None)
        try:
            self.pipeline.wait()
        except Exception as exc:  # the load in flight failed too: its records stay unsaved
            self.logger.error("A load failed while stopping: %s", describe(exc))
        for sink in self._all_sinks():
            if sink.stream_name == failed:
                continue
            if isinstance(stop, int):
                sink.forget_read_after(stop)
            if not sink.current_size:
                continue
            try:
                self.drain_one(sink)
                self.pipeline.wait()
            except Exception as exc:  # keep salvaging the others; this one stays pending
                self.logger.error(
                    "Could not flush stream '%s' after the failure: %s",
                    sink.stream_name,
                    describe(exc),
                )
        try:
            self._release_states()
        finally:
            self.backend.close()

    def process_endofpipe(self) -> None:
        try:
            super().process_endofpipe()
            self.pipeline.wait()
        except Exception as exc:
            self._salvage(exc)
            raise
        self.backend.close()


def main() -> None:
    """Console script: the SDK's CLI, with expected errors shown as one line."""
    try:
        TargetWarehouse.cli()
    except EXPECTED_ERRORS as exc:
        TargetWarehouse.logger.error("%s", describe(exc))
        sys.exit(1)


if __name__ == "__main__":
    main()

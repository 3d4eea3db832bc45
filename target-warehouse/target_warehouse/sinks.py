"""WarehouseSink: turns one stream's records into set-based batch loads.

Per record the sink does as little as possible (compiled validation, a key check, a few
list appends: see ``accept``); the work happens once per batch and column-wise: pick
values, parse dates, convert to the column type, strip NUL where the database needs
it, evolve the table, hand the batch to the backend. Table DDL runs when a batch is
written, never when a SCHEMA arrives, so rows buffered under an older schema are
written with the table shape they were read for.
"""

from __future__ import annotations

import datetime
import gc
from itertools import repeat
from typing import TYPE_CHECKING, Any

from singer_sdk.sinks import BatchSink

from target_warehouse.backends import Batch, ColumnSpec, TableChange
from target_warehouse.errors import InputError, MissingKeyError, TargetError
from target_warehouse.fastcheck import Violation, compile_columnar, compile_plain
from target_warehouse.fastdecode import decode_texts, typed_stream
from target_warehouse.naming import keep_earlier_names
from target_warehouse.settings import APPEND_ONLY, OVERWRITE, UPSERT
from target_warehouse.sinkparts import TypedBatches
from target_warehouse.tables import Column, plan_table, strip_nul
from target_warehouse.types import (
    LogicalType,
    convert_column,
    converter,
    integers_fit_int64,
    logical_type,
    parse_temporal,
    text_column,
    widen,
)
from target_warehouse.validation import compile_validator, violation_error

if TYPE_CHECKING:
    from target_warehouse.target import TargetWarehouse

DELETED_AT = "_sdc_deleted_at"
TABLE_VERSION = "_sdc_table_version"
_TEMPORAL = (LogicalType.TIMESTAMP, LogicalType.DATE, LogicalType.TIME)
_TEXTUAL = (LogicalType.TEXT, LogicalType.JSON)
# Metadata the target makes (see _values) -> its values' types; None: the tap's values
_MADE_HERE: dict[str, frozenset[type] | None] = {
    "_sdc_extracted_at": None,
    "_sdc_received_at": frozenset({datetime.datetime}),  # aware, UTC
    "_sdc_batched_at": frozenset({datetime.datetime}),
    "_sdc_sequence": frozenset({int}),
    TABLE_VERSION: None,
    "_sdc_sync_started_at": frozenset({int}),
}
# The metadata columns' names (DELETED_AT among them): each only ever its own column
METADATA_COLUMNS = frozenset({*_MADE_HERE, DELETED_AT})
_UTC = datetime.UTC
_from_timestamp = datetime.datetime.fromtimestamp


class WarehouseSink(TypedBatches, BatchSink):
    # Rows per batch unless batch_size_rows says otherwise: two batches are in memory at
    # once (one loading, one being read); 5000 keeps that small and the pipeline busy.
    MAX_SIZE_DEFAULT = 5000

    def __init__(
        self,
        target: TargetWarehouse,
        stream_name: str,
        schema: dict,
        key_properties: list[str] | None,
    ) -> None:
        self._target = target
        super().__init__(target, stream_name, schema, key_properties)

    def get_validator(self) -> None:  # type: ignore[override]
        return None  # validation is compiled in setup() and run in accept()

    @property
    def load_method(self) -> str:
        return str(self.config.get("load_method") or UPSERT)

    def setup(self) -> None:
        super().setup()
        target = self._target
        backend = target.backend
        self.db_schema = target.schema_for(self.stream_name)
        self.table = target.table_for(self.db_schema, self.stream_name)
        props = self.schema.get("properties") or {}
        given = {
            source: name
            for kind, parent, source, name in target.given_names(self.db_schema)
            if kind == "column" and parent == self.table
        }
        names = keep_earlier_names(props, given, backend.max_identifier_bytes, METADATA_COLUMNS)
        target.record_names(
            self.db_schema,
            [("column", self.table, p, names[p]) for p in props if p not in given],
        )
        self.columns = [
            Column(p, names[p], logical_type(s if isinstance(s, dict) else {}))
            for p, s in props.items()
        ]
        self._all_keys = tuple(self.key_properties)
        missing = [k for k in self._all_keys if k not in props]
        if missing:
            raise InputError(f"key properties {missing} are not in the schema's properties")
        upsert = self.load_method != APPEND_ONLY and bool(self._all_keys)
        self._keys = tuple(names[k] for k in self._all_keys) if upsert else ()
        self._names = names
        # hard_delete deletes the row of a key; rows appended (no key to upsert on) have
        # none, so a deletion record is appended as it came, not dropped
        self._hard_delete = bool(self.config.get("hard_delete")) and bool(self._keys)
        if self.config.get("hard_delete") and not self._keys and DELETED_AT in props:
            self.logger.warning(
                "hard_delete does not apply to stream '%s' (%s): records with %s are "
                "appended as rows",
                self.stream_name,
                "append-only" if self.load_method == APPEND_ONLY else "no key_properties",
                DELETED_AT,
            )
        # Plain schemas (what taps send) are checked per batch: a column-wise pre-check,
        # then, only if it is not sure, the generated per-record checker over the batch
        # in input order (see _check_batch); the first bad record is reported with its
        # line exactly as a check on arrival would. Other schemas: per record, on arrival.
        plain = compile_plain(self.schema) if self.validate_schema else None
        self._check_record = plain
        self._check_columns = compile_columnar(self.schema) if plain is not None else None
        self._validate = (
            compile_validator(self.schema) if self.validate_schema and plain is None else None
        )
        self._metadata = self.include_sdc_metadata_properties
        # RECORD lines decoded straight into Structs when the schema allows (the target
        # routes them here through accept_typed); None: dicts only.
        self.typed = typed_stream(self.stream_name, self.schema)
        self._types: dict[str, LogicalType] | None = None  # column types, known once planned
        self.first_pending_line: int | None = None  # input line of the oldest unsaved record
        self._limit = self.max_size
        self._reset_buffers()
        if not self.columns:
            self.logger.warning("Stream '%s' has no properties; nothing to load", self.stream_name)

    def _reset_buffers(self) -> None:
        self._records: list[dict] = []
        self._lines: list[int] = []
        self._extracted: list[Any] = []
        self._received: list[float] = []
        self._versions: list[Any] = []
        self._raw_lines: list[bytes | None] = []  # the line of a typed record, else None
        self._typed_count = 0

    # -- per record: keep it lean -----------------------------------------------------

    def accept(self, record: dict, message: dict, line: int, received: float) -> bool:
        """Check one record and buffer it with its metadata (no conversion here).

        Returns True when the batch is full. The SDK's per-record bookkeeping (context,
        metadata properties, preprocessing, counter metric) is skipped: metadata is
        added column-wise per batch and the record counter is bumped per batch.
        """
        if self._validate is not None:  # a schema checked on arrival (see setup)
            self._check_keys(record)
            self._validate(record)
        if self.first_pending_line is None:
            self.first_pending_line = line
        self._records.append(record)
        self._lines.append(line)
        self._raw_lines.append(None)
        if self._metadata:
            self._extracted.append(message.get("time_extracted"))
            self._received.append(received)
            self._versions.append(message.get("version"))
        self._total_records_read += 1
        size = self._batch_records_read = self._batch_records_read + 1
        return size >= self._limit

    def _check_keys(self, record: dict) -> None:
        for key in self._all_keys:
            if record.get(key) is None:
                state = "null" if key in record else "missing"
                raise MissingKeyError(f"key property {key!r} is {state}")

    def _check_batch(
        self, records: list[dict], raw: dict[str, list[Any]], lines: list[int]
    ) -> None:
        """Key and schema checks of a batch; raises for its first bad record, by line."""
        if self._validate is not None:
            return  # checked on arrival
        keys_ok = all(None not in raw[key] for key in self._all_keys)
        if keys_ok and (self._check_columns is None or self._check_columns(records, raw)):
            return
        check = self._check_record
        for record, line in zip(records, lines, strict=True):
            try:
                self._check_keys(record)
                if check is not None:
                    check(record)
            except InputError as exc:
                error = violation_error(exc) if isinstance(exc, Violation) else exc
                error.input_line = line  # type: ignore[attr-defined]
                error.input_stream = self.stream_name  # type: ignore[attr-defined]
                error.failed_stream = self.stream_name  # type: ignore[attr-defined]
                raise error from None

    @property
    def is_full(self) -> bool:
        return self._batch_records_read >= self._limit

    def start_drain(self) -> dict:
        # The load in flight goes on while this batch is converted; process_batch waits
        # for it before its own load, and puts the batch back if that load failed.
        context = {
            "records": self._records,
            "lines": self._lines,
            "extracted": self._extracted,
            "received": self._received,
            "versions": self._versions,
            "raw_lines": self._raw_lines,
            "typed": self._typed_count,
        }
        self._reset_buffers()
        self._pending_batch = None
        self._context_draining = context
        self._limit = self.max_size  # batch_size_rows may have been changed meanwhile
        if context["records"]:
            self.record_counter_metric.increment(len(context["records"]))
        return context

    def mark_drained(self) -> None:
        super().mark_drained()
        self.first_pending_line = None
        gc.collect(1)  # the reader pauses automatic collection; sweep what this batch left

    # -- per batch ---------------------------------------------------------------------

    def _ensure_table(self) -> dict[str, LogicalType]:
        """Create or evolve the table for this stream's schema (once per sink)."""
        if self._types is None:
            self._target.pipeline.wait()
            backend = self._target.backend
            state = backend.describe(self.db_schema, self.table)
            if state and state.primary_key and not self._keys:
                self.logger.warning(
                    "Dropping the primary key of %s.%s: stream '%s' is loaded without keys",
                    self.db_schema,
                    self.table,
                    self.stream_name,
                )
            change, effective = plan_table(
                state, self.columns, self._keys, backend.supports_primary_key
            )
            if change:
                backend.apply(self.db_schema, self.table, change)
            self._types = effective
        return self._types

    def _widen(self, name: str, to: LogicalType) -> None:
        assert self._types is not None
        self._target.pipeline.wait()
        self.logger.warning(
            "Widening %s.%s column %s from %s to %s: a value does not fit",
            self.db_schema,
            self.table,
            name,
            self._types[name].value,
            to.value,
        )
        self._target.backend.apply(
            self.db_schema, self.table, TableChange(retype=[ColumnSpec(name, to)])
        )
        self._types[name] = to

    def _values(
        self, col: Column, context: dict, batched_at: datetime.datetime, raw: dict[str, list]
    ) -> list[Any]:
        records: list[dict] = context["records"]
        if self._metadata:
            source = col.source
            if source == "_sdc_extracted_at":
                return context["extracted"]
            if source == "_sdc_received_at":
                # one receive time per run of lines: each made into a datetime once
                times = {t: _from_timestamp(t, _UTC) for t in dict.fromkeys(context["received"])}
                return list(map(times.__getitem__, context["received"]))
            if source == "_sdc_batched_at":
                return [batched_at] * len(records)
            if source == "_sdc_sequence":  # unique, increasing in input order within a run
                return list(map(self._target.sequence_base.__add__, context["lines"]))
            if source == TABLE_VERSION:
                return context["versions"]
            if source == "_sdc_sync_started_at":
                return [self.sync_started_at] * len(records)
        return raw[col.source]

    def _known_types(
        self, col: Column, decoded_types: dict[str, frozenset[type]]
    ) -> frozenset[type] | None:
        """The Python types a column's values have, when known without looking at them,
        and stored as they are (no date-time to parse): scalars the typed decoder made,
        and the metadata the target makes itself."""
        if self._metadata and col.source in _MADE_HERE:
            return _MADE_HERE[col.source]
        if col.schema_type in _TEMPORAL:
            return None
        return decoded_types.get(col.source)

    def _parse_dates(self, col: Column, values: list[Any], lines: list[int]) -> list[Any]:
        if values and isinstance(values[0], datetime.date):
            return values  # metadata already made by the target
        parsed, bad = parse_temporal(values, col.schema_type)
        if not bad:
            return parsed
        first = bad[0]
        what = f"{len(bad)} unparseable {col.schema_type.value} value(s) in field {col.source!r}"
        sample = f"first {values[first]!r:.60} on input line {lines[first]}"
        if self.config.get("invalid_datetime") == "error":
            exc = InputError(
                f"{col.schema_type.value} value {values[first]!r:.60} in field "
                f"{col.source!r} cannot be parsed"
            )
            exc.input_line = lines[first]  # type: ignore[attr-defined]
            exc.input_stream = self.stream_name  # type: ignore[attr-defined]
            raise exc
        self.logger.warning("Stream '%s': %s stored as NULL (%s)", self.stream_name, what, sample)
        return parsed

    def process_batch(self, context: dict) -> None:
        """Convert, check and load one batch; a failure names this stream, so that the
        salvage after it leaves this sink's batch pending (holding back every later
        STATE) instead of flushing the emptied buffers as if they were the batch."""
        lines: list[int] = list(context.get("lines") or [])
        try:
            self._process_batch(context)
        except Exception as exc:
            if getattr(exc, "failed_stream", None) is None:  # (a previous load's names its own)
                if isinstance(exc, TargetError) and getattr(exc, "input_line", None) is None:
                    self._load_failed(exc, lines)  # a DDL or check of the whole batch
                else:
                    exc.failed_stream = self.stream_name  # type: ignore[attr-defined]
            raise

    def _process_batch(self, context: dict) -> None:
        records: list[dict] = context.get("records") or []
        saved = dict(context)  # the buffers as they were, until the previous load is safe
        replace_all = self.load_method == OVERWRITE and self._target.claim_overwrite(
            self.db_schema, self.table
        )
        if not self.columns or not (records or replace_all):
            return
        backend = self._target.backend
        encoded: set[str] = set()  # JSON columns already JSON text (see fastdecode)
        raw = self._typed_columns(context, backend.strips_nul, encoded) if records else {}
        decoded_types = self.typed.scalar_types if raw and self.typed else {}
        if raw is None:
            encoded.clear()
            records = self._as_dicts(context)
            # each property's values, as dict.get gives them (C loops: ~2x a listcomp)
            raw = {c.source: list(map(dict.get, records, repeat(c.source))) for c in self.columns}
            self._check_batch(records, raw, context.get("lines") or [])
        if self._types is None:
            self._settle(saved)  # DDL: the connection must be free
        types = self._ensure_table()
        batched_at = datetime.datetime.now(_UTC)
        data: dict[str, list[Any]] = {}
        specs: list[ColumnSpec] = []
        known_types: dict[str, frozenset[type]] = {}
        removed = 0
        for col in self.columns:
            values = self._values(col, context, batched_at, raw) if records else []
            column_type = types[col.name]
            kinds = self._known_types(col, decoded_types)
            if (
                column_type is LogicalType.INTEGER
                and kinds is None  # (typed integers are in range: see fastdecode)
                and not integers_fit_int64(values)
            ):
                self._settle(saved)
                self._widen(col.name, LogicalType.NUMBER)
            if types[col.name] is LogicalType.NUMBER and not backend.numbers_fit(values):
                self._settle(saved)
                self._widen(col.name, widen(LogicalType.NUMBER, LogicalType.TEXT))
            column_type = types[col.name]
            if col.schema_type in _TEMPORAL and column_type is col.schema_type:
                values = self._parse_dates(col, values, context.get("lines") or [])
            as_read = col.source in encoded and column_type is LogicalType.JSON
            if col.source in encoded and not as_read:
                values = decode_texts(values)  # a column widened to text: canonical text
            if not as_read:
                values = convert_column(values, converter(col.schema_type, column_type))
            if column_type is LogicalType.TEXT:
                values = text_column(values, kinds if column_type is col.schema_type else None)
            # (JSON as read holds no escape sequence, so no NUL)
            if backend.strips_nul and column_type in _TEXTUAL and not as_read:
                values, n = strip_nul(values, column_type is LogicalType.JSON)
                removed += n
            if kinds is not None and column_type is col.schema_type:
                known_types[col.name] = kinds
            data[col.name] = values
            raw.pop(col.source, None)  # free this column's decoded values (JSON: dicts) now
            specs.append(ColumnSpec(col.name, column_type))
        if removed:
            self.logger.warning(
                "Removed %d NUL character(s) from stream '%s': %s cannot store U+0000",
                removed,
                self.stream_name,
                backend.dialect,
            )
        hard_delete = self._hard_delete and DELETED_AT in data
        batch = Batch(
            self.db_schema, self.table, specs, data, self._keys, replace_all, hard_delete,
            known_types,
        )
        lines: list[int] = context.get("lines") or []
        count = len(records)
        context.clear()  # the records themselves are no longer needed: free them now
        del records, raw
        dedupes = bool(self._keys) and not hard_delete

        if not backend.prepares_ahead:
            self._settle(saved)
        try:
            finish = backend.prepare_load(batch)
        except TargetError as exc:
            self._settle(saved)  # the previous load's failure, if any, comes first
            self._load_failed(exc, lines)
            raise
        self._settle(saved)
        del saved, batch, data

        def load() -> None:
            try:
                written = finish()
            except TargetError as exc:
                self._load_failed(exc, lines)
                raise
            if dedupes and count > written:
                self.tally_duplicate_merged(count - written)

        self._target.submit_load(load, lines[0] if lines else None)

    def _load_failed(self, exc: TargetError, lines: list[int]) -> None:
        exc.failed_stream = self.stream_name  # type: ignore[attr-defined]
        row = getattr(exc, "batch_row", None)  # the row the database named, from 1
        if lines and isinstance(row, int) and 0 < row <= len(lines):
            exc.input_line = lines[row - 1]  # type: ignore[attr-defined]
        elif lines:
            exc.add_note(f"batch of input lines {lines[0]}-{lines[-1]}")
            exc.input_line = lines[-1]  # type: ignore[attr-defined]
        if lines:
            exc.input_stream = self.stream_name  # type: ignore[attr-defined]

    def activate_version(self, new_version: int) -> None:
        """Rows of older versions (or none) are soft- or hard-deleted."""
        types = self._ensure_table() if self.columns else {}
        version_column = self._names.get(TABLE_VERSION)
        deleted_column = self._names.get(DELETED_AT)
        if not version_column or version_column not in types:
            self.logger.warning(
                "ACTIVATE_VERSION for stream '%s' ignored: add_record_metadata is off, so "
                "rows carry no _sdc_table_version",
                self.stream_name,
            )
            return
        hard = bool(self.config.get("hard_delete"))
        self._target.pipeline.wait()
        removed = self._target.backend.retire_versions(
            self.db_schema, self.table, version_column, deleted_column, int(new_version), hard
        )
        self.logger.info(
            "ACTIVATE_VERSION %s on %s.%s: %d older row(s) %s",
            new_version,
            self.db_schema,
            self.table,
            removed,
            "deleted" if hard else "marked deleted",
        )

    def clean_up(self) -> None:
        if self.columns:
            self._ensure_table()  # a stream with a SCHEMA but no records still gets its table
            if self.load_method == OVERWRITE:  # overwrite with no records still empties it
                self.process_batch({})
        super().clean_up()

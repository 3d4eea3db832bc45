"""WarehouseSink: turns one stream's records into set-based batch loads.

Per record the sink does almost nothing (a null-key check); the work happens once per
batch and column-wise: pick values, convert to the column type, strip NUL where the
database needs it, hand the batch to the backend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jsonschema
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import JSONSchemaValidator

from target_warehouse.backends import Batch, ColumnSpec, TableChange, TableState
from target_warehouse.errors import InputError
from target_warehouse.naming import build_name_map
from target_warehouse.types import LogicalType, convert_column, converter, logical_type, widen

if TYPE_CHECKING:
    from target_warehouse.target import TargetWarehouse

APPEND_ONLY, UPSERT, OVERWRITE = "append-only", "upsert", "overwrite"

# A JSON \u0000 escape that is not itself an escaped backslash followed by "u0000".
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


@dataclass(frozen=True)
class Column:
    source: str  # property name in the record
    name: str  # warehouse column name
    schema_type: LogicalType  # what the stream's JSON Schema says


def plan_table(
    state: TableState | None,
    columns: list[Column],
    keys: tuple[str, ...],
    use_primary_key: bool,
) -> tuple[TableChange, dict[str, LogicalType]]:
    """DDL needed for a table to take this stream, and each column's resulting type.

    Columns are added, widened (integer -> number -> text) but never dropped or
    narrowed; columns the stream no longer sends are left in place.
    """
    wanted = {c.name: c.schema_type for c in columns}
    if state is None:
        create = [ColumnSpec(name, lt) for name, lt in wanted.items()]
        return TableChange(create=create, primary_key=keys if use_primary_key else None), wanted
    change = TableChange()
    effective: dict[str, LogicalType] = {}
    for name, lt in wanted.items():
        if name not in state.columns:
            change.add.append(ColumnSpec(name, lt))
            effective[name] = lt
            continue
        current = state.columns[name]
        if current is None:  # a type we did not create: leave the column alone
            effective[name] = lt
            continue
        effective[name] = widen(current, lt)
        if effective[name] != current:
            change.retype.append(ColumnSpec(name, effective[name]))
    if use_primary_key and state.primary_key != keys:
        change.primary_key = keys
    return change, effective


def strip_nul(values: list[Any], is_json: bool) -> tuple[list[Any], int]:
    """Remove U+0000 from text (or its \\u0000 escape from JSON text); count removals."""
    needle = "\\u0000" if is_json else "\x00"
    try:
        if needle not in "".join(filter(None, values)):  # one C-level scan for the usual case
            return values, 0
    except TypeError:
        pass  # non-text values mixed in: check one by one
    removed = 0
    out = []
    for v in values:
        if isinstance(v, str) and needle in v:
            if is_json:
                v, n = _JSON_NUL.subn(r"\1", v)
            else:
                n = v.count("\x00")
                v = v.replace("\x00", "")
            removed += n
        out.append(v)
    return out, removed


class _RecordValidator(JSONSchemaValidator):
    """Raises a one-line InputError (the SDK's own path logs a traceback first)."""

    def validate(self, record: dict) -> None:  # type: ignore[override]
        try:
            self.validator.validate(record)
        except jsonschema.ValidationError as exc:
            raise InputError(f"record does not match the schema: {exc.message}") from None


class WarehouseSink(BatchSink):
    def __init__(
        self,
        target: TargetWarehouse,
        stream_name: str,
        schema: dict,
        key_properties: list[str] | None,
    ) -> None:
        self._target = target
        super().__init__(target, stream_name, schema, key_properties)

    def get_validator(self) -> JSONSchemaValidator | None:
        return _RecordValidator(self.schema) if self.validate_schema else None

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
        names = build_name_map(props, backend.max_identifier_bytes)
        self.columns = [
            Column(p, names[p], logical_type(s if isinstance(s, dict) else {}))
            for p, s in props.items()
        ]
        missing = [k for k in self.key_properties if k not in props]
        if missing:
            raise InputError(f"key properties {missing} are not in the schema's properties")
        upsert = self.load_method != APPEND_ONLY and bool(self.key_properties)
        self._key_props = tuple(self.key_properties) if upsert else ()
        self._keys = tuple(names[k] for k in self._key_props)
        if not self.columns:
            self.logger.warning("Stream '%s' has no properties; nothing to load", self.stream_name)
            return

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
        self._specs = [ColumnSpec(c.name, effective[c.name]) for c in self.columns]
        self._converters = [converter(c.schema_type, effective[c.name]) for c in self.columns]

    def preprocess_record(self, record: dict, context: dict) -> dict:
        # A missing key is the SDK's MissingKeyPropertiesError; a null one is ours.
        for key in self._key_props:
            if key in record and record[key] is None:
                raise InputError(f"key property {key!r} is null")
        return record

    def process_batch(self, context: dict) -> None:
        records: list[dict] = context.get("records") or []
        replace_all = self.load_method == OVERWRITE and self._target.claim_overwrite(
            self.db_schema, self.table
        )
        if not self.columns or not (records or replace_all):
            return
        backend = self._target.backend
        data: dict[str, list[Any]] = {}
        removed = 0
        for col, spec, convert in zip(self.columns, self._specs, self._converters, strict=True):
            values = convert_column([r.get(col.source) for r in records], convert)
            if backend.strips_nul and spec.type in (LogicalType.TEXT, LogicalType.JSON):
                values, n = strip_nul(values, spec.type is LogicalType.JSON)
                removed += n
            data[spec.name] = values
        if removed:
            self.logger.warning(
                "Removed %d NUL character(s) from stream '%s': %s cannot store U+0000",
                removed,
                self.stream_name,
                backend.dialect,
            )
        batch = Batch(self.db_schema, self.table, self._specs, data, self._keys, replace_all)
        written = backend.load(batch)
        if self._keys and len(records) > written:
            self.tally_duplicate_merged(len(records) - written)

    def clean_up(self) -> None:
        # overwrite with no records at all this run still empties the table
        if self.columns and self.load_method == OVERWRITE:
            self.process_batch({})
        super().clean_up()

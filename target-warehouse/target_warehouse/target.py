"""target-warehouse: a Singer target for DuckDB (embedded default) and PostgreSQL.

STATE discipline: a STATE message goes to stdout only once every record read before
it is committed. The SDK holds STATE until ``drain_all`` (end of input, or every few
minutes); on top of that, a STATE is forwarded at once whenever no sink holds
uncommitted records, i.e. right when it arrives after a flush, or right after a flush
that emptied every sink.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from typing import IO, Any

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import TargetCapabilities
from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import deserialize_json

from target_warehouse.backends import Backend, open_backend
from target_warehouse.errors import EXPECTED_ERRORS, InputError, annotate, describe
from target_warehouse.naming import normalize, short_hash, with_suffix
from target_warehouse.sinks import APPEND_ONLY, OVERWRITE, UPSERT, WarehouseSink

_STREAM_IN_RAW_LINE = re.compile(r'"stream"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _stream_of(message: Any, line: str | None) -> str | None:
    """The stream a line is about, even when the line is not valid JSON."""
    if isinstance(message, dict):
        stream = message.get("stream")
        return stream if isinstance(stream, str) else None
    found = _STREAM_IN_RAW_LINE.search(line or "")
    return found.group(1) if found else None


class LineTrackingReader(SingerReader):
    """Singer reader that numbers input lines so every error can name its line and stream."""

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0

    @property
    def default_input(self) -> Iterator[str]:  # type: ignore[override]
        # Bytes split on b"\n" and decoded line by line: UTF-8 whatever the locale, text
        # byte-exact, and a decoding error is pinned to its own line.
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:
            return iter(sys.stdin)
        return (raw.decode("utf-8") for raw in buffer)

    def process_lines(
        self,
        file_input: IO[str] | Iterator[str] | None,
        callbacks: dict[str, Callable[[dict], None]],
    ) -> Counter[str]:
        stats: Counter[str] = Counter()
        lines = iter(file_input or self.default_input)
        while True:
            self.line_number += 1
            line = ""
            message: Any = None
            try:
                try:
                    line = next(lines, None)
                except UnicodeDecodeError:
                    raise InputError("line is not valid UTF-8") from None
                if line is None:
                    break
                if not line.strip():
                    continue
                message = self.deserialize_json(line)
                kind = message.get("type") if isinstance(message, dict) else None
                callback = callbacks.get(kind) if isinstance(kind, str) else None
                if callback is None:
                    raise InputError(f"unknown message type {kind!r}")
                callback(message)
            except Exception as exc:
                annotate(exc, self.line_number, _stream_of(message, line))
                raise
            stats[kind] += 1
        return stats

    def deserialize_json(self, line: str) -> dict:
        try:
            return deserialize_json(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputLine(f"malformed JSON: {exc.msg} (character {exc.pos + 1})") from None


class TargetWarehouse(Target):
    """Loads Singer streams into DuckDB or PostgreSQL with set-based batch loads."""

    name = "target-warehouse"
    package_name = "cloudsources"  # the distribution that ships this target (for --version)
    default_sink_class = WarehouseSink
    message_reader_class = LineTrackingReader
    capabilities = [*Target.capabilities, TargetCapabilities.TARGET_SCHEMA]

    config_jsonschema = th.PropertiesList(
        th.Property(
            "backend",
            th.StringType,
            default="duckdb",
            allowed_values=["duckdb", "postgres"],
            description="Warehouse engine: embedded DuckDB (default) or PostgreSQL.",
        ),
        th.Property("path", th.StringType, default="warehouse.duckdb", description="DuckDB file."),
        th.Property("host", th.StringType, description="PostgreSQL host (or socket directory)."),
        th.Property("port", th.IntegerType, default=5432, description="PostgreSQL port."),
        th.Property("user", th.StringType, description="PostgreSQL user."),
        th.Property("password", th.StringType, secret=True, description="PostgreSQL password."),
        th.Property("database", th.StringType, description="PostgreSQL database."),
        th.Property(
            "sqlalchemy_url",
            th.StringType,
            secret=True,
            description="postgresql://user:pass@host:port/db (postgresql+psycopg:// also "
            "accepted); replaces host/port/user/password/database.",
        ),
        th.Property(
            "default_target_schema",
            th.StringType,
            description="Schema for every stream. Unset: the tap's source name (the 'source' "
            "key of SCHEMA messages), else 'public' (PostgreSQL) or 'main' (DuckDB).",
        ),
        th.Property(
            "add_record_metadata",
            th.BooleanType,
            default=True,
            description="Add _sdc_* metadata columns (extracted/received/batched/deleted at, "
            "sequence, table version).",
        ),
        th.Property(
            "load_method",
            th.StringType,
            default=UPSERT,
            allowed_values=[UPSERT, APPEND_ONLY, OVERWRITE],
            description="upsert on key_properties (default; streams without keys append), "
            "append-only, or overwrite (empty each table on its first load of the run).",
        ),
    ).to_dict()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_parallelism = 1  # one connection, one transaction at a time
        self._sources: dict[str, str | None] = {}
        self._schema_source: str | None = None
        self._tables: dict[tuple[str, str], str] = {}
        self._overwritten: set[tuple[str, str]] = set()
        self._last_state_written: dict | None = None
        self._state_unsent = False
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
        """Table for a stream; two streams that normalize alike get told apart."""
        key = (schema, stream_name)
        if key not in self._tables:
            limit = self.backend.max_identifier_bytes
            name = normalize(stream_name, limit)
            if name in {t for (s, _), t in self._tables.items() if s == schema}:
                name = with_suffix(name, short_hash(stream_name), limit)
            self._tables[key] = name
        return self._tables[key]

    def claim_overwrite(self, schema: str, table: str) -> bool:
        """True the first time a table is loaded this run (overwrite empties it then)."""
        if (schema, table) in self._overwritten:
            return False
        self._overwritten.add((schema, table))
        return True

    # -- message hooks -------------------------------------------------------------

    def _process_schema_message(self, message_dict: dict) -> None:
        stream = message_dict.get("stream")
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

    def _flush_before_schema_change(self, message_dict: dict) -> None:
        """Load a stream's pending records with the table shape they were read for.

        Otherwise the new sink's DDL (new key, widened column) would run first and the
        old sink would flush into a table that no longer matches it.
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

    def _has_pending(self) -> bool:
        return any(s.current_size for s in self._sinks_active.values()) or any(
            s.current_size for s in self._sinks_to_clear
        )

    def _process_record_message(self, message_dict: dict) -> None:
        super()._process_record_message(message_dict)
        if self._state_unsent and not self._has_pending():
            self._write_state_message(copy.deepcopy(self._latest_state))  # type: ignore[arg-type]

    def _process_state_message(self, message_dict: dict) -> None:
        super()._process_state_message(message_dict)
        if self._latest_state and self._latest_state != self._last_state_written:
            self._state_unsent = True
            if not self._has_pending():
                self._write_state_message(copy.deepcopy(self._latest_state))

    def _write_state_message(self, state: dict) -> None:
        if state == self._last_state_written:
            return
        super()._write_state_message(state)
        self._last_state_written = state
        self._state_unsent = False

    def process_endofpipe(self) -> None:
        super().process_endofpipe()
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

"""DuckDB backend: Arrow-registered staging + set-based DELETE/INSERT per batch.

No PRIMARY KEY or UNIQUE index is ever created: DuckDB's ART index raises false
duplicate-key errors when a key is deleted and re-inserted in one transaction, so
upserts delete the batch's keys and insert the last row per key instead.
"""

from __future__ import annotations

import contextlib
import decimal
import itertools
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from target_warehouse.backends import (
    DELETED_AT,
    NAMES_TABLE,
    STAGE_ROW,
    Batch,
    NameRow,
    TableChange,
    TableState,
    older_versions_sql,
    qualified,
    quote,
)
from target_warehouse.errors import LoadError, WarehouseConnectionError
from target_warehouse.naming import MAX_IDENTIFIER_BYTES
from target_warehouse.types import LogicalType, to_text

SQL_TYPES = {
    LogicalType.BOOLEAN: "BOOLEAN",
    LogicalType.INTEGER: "BIGINT",
    LogicalType.NUMBER: "DECIMAL(38,9)",  # or DOUBLE, by the duckdb_number_type setting
    LogicalType.DATE: "DATE",
    LogicalType.TIME: "TIME",
    LogicalType.TIMESTAMP: "TIMESTAMPTZ",
    LogicalType.TEXT: "VARCHAR",
    LogicalType.JSON: "JSON",
}
_FROM_SQL = {
    "BOOLEAN": LogicalType.BOOLEAN,
    "BIGINT": LogicalType.INTEGER,
    "DOUBLE": LogicalType.NUMBER,
    "DECIMAL(38,9)": LogicalType.NUMBER,
    "DATE": LogicalType.DATE,
    "TIME": LogicalType.TIME,
    "TIMESTAMP WITH TIME ZONE": LogicalType.TIMESTAMP,
    "VARCHAR": LogicalType.TEXT,
    "JSON": LogicalType.JSON,
}
# Arrow types the Python values convert to without help; numbers and JSON travel as
# text and DuckDB casts them (pyarrow will not turn Decimal into double).
_ARROW = {
    LogicalType.BOOLEAN: pa.bool_(),
    LogicalType.INTEGER: pa.int64(),
    LogicalType.DATE: pa.date32(),
    LogicalType.TIME: pa.time64("us"),
    LogicalType.TIMESTAMP: pa.timestamp("us", tz="UTC"),  # naive datetimes count as UTC
}
_counter = itertools.count()
logger = logging.getLogger("target-warehouse")
# Arrow's default allocator (jemalloc/mimalloc) keeps freed batches' memory mapped;
# the system allocator returns it, so peak RSS stays about one batch's worth.
with contextlib.suppress(pa.ArrowException):
    pa.set_memory_pool(pa.system_memory_pool())
CHECKPOINT_ROWS = 122_880  # one DuckDB row group
# DuckDB's own memory_limit default is 80% of RAM, which its buffer pool fills with the
# rows committed since the last checkpoint (~500 bytes a row uncompressed) and with the
# checkpoint's copy of them: 120 MB of a 1M-row load's 290 MB peak at a 128 MB limit.
# Beyond the limit DuckDB spills them to a temporary file and reads them back once at
# the checkpoint. But appends and checkpoints pin ~1 MB per column at once and fail
# (a checkpoint failure invalidates the database) below that: 16 MB failed for 25
# columns, 128 MB for 200. So, unless duckdb_memory_limit is set, the limit is the
# floor or 1.25 MB per column of the widest table loaded so far, whichever is more.
# Should a load still run out (very large values), the write is rolled back and retried
# with twice the limit, up to the cap, instead of failing the run.
MEMORY_FLOOR_MB = 32
MEMORY_PER_COLUMN_MB = 1.25
MEMORY_CAP_MB = 8192


def _out_of_memory(exc: duckdb.Error) -> bool:
    text = str(exc)
    return (isinstance(exc, duckdb.OutOfMemoryException) or "failed to pin block" in text
            or "Out of Memory" in text)


def _memory_setting(value: str) -> str:
    """A DuckDB memory_limit value such as '256MB' or '1GB' (checked: it goes into SET)."""
    text = str(value).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", text, re.IGNORECASE):
        raise WarehouseConnectionError(
            f"duckdb_memory_limit must look like '256MB' or '2GB', not {value!r}"
        )
    return text


_DECIMAL_LIMIT = 10**29  # DECIMAL(38,9) holds 29 integer digits; beyond that: TEXT
_DECIMAL_SCALE = 9  # ... and 9 after the point: a value with more would be rounded


def _too_precise(value: Any) -> bool:
    """A Decimal with significant digits beyond DECIMAL(38,9)'s scale (1.5000000000 fits)."""
    if type(value) is not decimal.Decimal:
        return False
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or exponent >= -_DECIMAL_SCALE:
        return False  # NaN and Infinity (not JSON) are left to the CAST
    return any(digits[exponent + _DECIMAL_SCALE:])


def _arrow_column(values: list[Any], logical: LogicalType) -> pa.Array:
    arrow_type = _ARROW.get(logical)
    if arrow_type is not None:
        try:
            return pa.array(values, type=arrow_type)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            pass  # values the schema did not promise: let DuckDB's CAST judge them as text
    if logical is LogicalType.NUMBER or arrow_type is not None:
        values = [None if v is None else to_text(v) for v in values]
    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowException, TypeError):
        return pa.array([None if v is None else to_text(v) for v in values], type=pa.string())


def _as_text(column: str) -> str:
    """A column's values as text, when it widens to text. DECIMAL(38,9) writes nine
    places (1 -> '1.000000000'); its trailing zeros are dropped, so that an integer
    stored before the widening reads as the integer written after it ('1')."""
    text = f"CAST({column} AS VARCHAR)"
    return (
        f"CASE WHEN typeof({column}) LIKE 'DECIMAL%' AND contains({text}, '.')"
        f" THEN rtrim(rtrim({text}, '0'), '.') ELSE {text} END"
    )


class DuckDBBackend:
    dialect = "duckdb"
    default_schema = "main"
    max_identifier_bytes = MAX_IDENTIFIER_BYTES  # same names as on PostgreSQL
    strips_nul = False  # DuckDB stores U+0000 as is
    supports_primary_key = False
    # one Arrow batch at a time: a second would take the 1M-record peak RSS past 200 MB
    prepares_ahead = False

    def __init__(
        self, path: str, number_type: str = "decimal", memory_limit: str | None = None
    ) -> None:
        self.path = path
        self._unsaved_rows = 0  # committed rows not yet checkpointed into the file
        # None: memory_limit follows the widest table (see _fit_memory); else as configured
        self._memory_mb: int | None = None if memory_limit else MEMORY_FLOOR_MB
        # number -> exact DECIMAL(38,9) (default) or DOUBLE; text always reaches the CAST,
        # so a decimal value is never rounded through a float on its way in.
        self.sql_types = {**SQL_TYPES}
        if number_type == "double":
            self.sql_types[LogicalType.NUMBER] = "DOUBLE"
        elif number_type != "decimal":
            raise WarehouseConnectionError(
                f"duckdb_number_type must be 'decimal' or 'double', not {number_type!r}"
            )
        self._user_limit = _memory_setting(memory_limit) if memory_limit else None
        try:
            if path != ":memory:" and ":" not in Path(path).name:
                Path(path).parent.mkdir(
                    parents=True, exist_ok=True
                )  # e.g. output/ on a fresh clone
            self.con = self._connect()
        except (duckdb.Error, OSError) as exc:
            raise WarehouseConnectionError(
                f"cannot open DuckDB database {path!r}: {' '.join(str(exc).split())}"
            ) from exc

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(self.path)
        con.execute("SET TimeZone = 'UTC'")
        row = con.execute("SELECT current_database()").fetchone()
        self._catalog: str = row[0] if row else "memory"
        # Checkpoints rewrite the table's last, partly filled row group: DuckDB's own
        # trigger (16 MB of WAL, every few batches) made a 1M-row load rewrite each row
        # group several times. This backend checkpoints once per row group's worth of
        # rows instead (see _after_commit).
        con.execute("SET checkpoint_threshold = '1GB'")
        con.execute(f"SET memory_limit = '{self._user_limit or f'{self._memory_mb}MB'}'")
        return con

    def _qualified(self, schema: str, table: str) -> str:
        """catalog.schema.table: a schema named like the database file (stripe.duckdb and
        schema stripe) is otherwise an ambiguous reference to DuckDB."""
        return f"{quote(self._catalog)}.{qualified(schema, table)}"

    def close(self) -> None:
        self.con.close()

    def _fit_memory(self, columns: int) -> None:
        """Raise the automatic memory_limit to what a table this wide needs pinned."""
        if self._memory_mb is None:
            return  # set by the user
        needed = int(columns * MEMORY_PER_COLUMN_MB + 0.999)
        if needed > self._memory_mb:
            self._set_memory(needed)

    def _grow_memory(self, exc: duckdb.Error) -> bool:
        """After a write ran out of the automatic memory_limit: double it, if allowed."""
        if (self._memory_mb is None or self._memory_mb >= MEMORY_CAP_MB
                or not _out_of_memory(exc)):
            return False
        doubled = min(MEMORY_CAP_MB, self._memory_mb * 2)
        logger.warning("DuckDB ran out of its memory_limit; retrying with %d MB (set "
                       "duckdb_memory_limit to choose it)", doubled)
        with contextlib.suppress(duckdb.Error):
            self._set_memory(doubled)
        return True

    def _set_memory(self, mb: int) -> None:
        self._memory_mb = mb  # a reconnect (see _after_commit) applies it again
        self.con.execute(f"SET memory_limit = '{mb}MB'")

    def _after_commit(self, rows: int) -> None:
        """CHECKPOINT once a row group's worth of rows sits only in the WAL."""
        self._unsaved_rows += rows
        if self._unsaved_rows < CHECKPOINT_ROWS:
            return
        self._unsaved_rows = 0
        for _ in range(8):
            try:
                self.con.execute("CHECKPOINT")
                return
            except duckdb.Error as exc:
                fatal = isinstance(exc, duckdb.FatalException) or "invalidated" in str(exc)
                if fatal and self.path != ":memory:":
                    # What is committed is in the WAL: a new connection replays it.
                    with contextlib.suppress(duckdb.Error):
                        self.con.close()
                    self.con = self._connect()
                if not self._grow_memory(exc):
                    return  # committed anyway (WAL); checkpointed later

    def numbers_fit(self, values: list[Any]) -> bool:
        if self.sql_types[LogicalType.NUMBER] == "DOUBLE":
            return True  # the user chose floats
        present = list(filter(None, values))  # zeros fit anyway
        if not present:
            return True
        try:
            if not (min(present) > -_DECIMAL_LIMIT and max(present) < _DECIMAL_LIMIT):
                return False
        except TypeError:
            return True  # non-numbers (validation off): let the CAST judge them
        return not any(map(_too_precise, present))

    def retire_versions(
        self,
        schema: str,
        table: str,
        version_column: str,
        deleted_column: str | None,
        version: int,
        hard: bool,
    ) -> int:
        target = self._qualified(schema, table)
        older = older_versions_sql(version_column).format(param="$version")
        if hard or not deleted_column:
            sql = f"DELETE FROM {target} WHERE {older}"
        else:
            deleted = quote(deleted_column)
            sql = (
                f"UPDATE {target} SET {deleted} = current_timestamp"
                f" WHERE {older} AND {deleted} IS NULL"
            )
        try:
            self.con.execute("BEGIN TRANSACTION")
            row = self.con.execute(sql, {"version": version}).fetchone()
            self.con.execute("COMMIT")
        except duckdb.Error as exc:
            self._rollback()
            message = " ".join(str(exc).split())
            raise LoadError(
                f"DuckDB rejected ACTIVATE_VERSION on {schema}.{table}: {message}"
            ) from exc
        return int(row[0]) if row else 0

    # -- DDL -----------------------------------------------------------------------

    def describe(self, schema: str, table: str) -> TableState | None:
        rows = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_catalog = current_database() AND lower(table_schema) = lower(?)"
            " AND lower(table_name) = lower(?) ORDER BY ordinal_position",  # (DuckDB: any case)
            [schema, table],
        ).fetchall()
        if not rows:
            return None
        self._fit_memory(len(rows))  # e.g. ACTIVATE_VERSION rewrites a wide table's rows
        return TableState(columns={name: _FROM_SQL.get(sql_type) for name, sql_type in rows})

    def read_names(self, schema: str) -> list[NameRow]:
        exists = self.con.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_catalog = current_database()"
            " AND lower(table_schema) = lower(?) AND lower(table_name) = lower(?)",
            [schema, NAMES_TABLE],
        ).fetchone()
        if exists is None:
            return []
        target = self._qualified(schema, NAMES_TABLE)
        rows = self.con.execute(f"SELECT kind, parent, source, name FROM {target}").fetchall()
        return [tuple(r) for r in rows]  # type: ignore[misc]

    def add_names(self, schema: str, rows: list[NameRow]) -> None:
        target = self._qualified(schema, NAMES_TABLE)
        try:
            self.con.execute("BEGIN TRANSACTION")
            self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(self._catalog)}.{quote(schema)}")
            self.con.execute(
                f"CREATE TABLE IF NOT EXISTS {target} (kind VARCHAR NOT NULL,"
                " parent VARCHAR NOT NULL, source VARCHAR NOT NULL, name VARCHAR NOT NULL,"
                " UNIQUE (kind, parent, name), UNIQUE (kind, parent, source))"
            )
            self.con.executemany(f"INSERT INTO {target} VALUES (?, ?, ?, ?)", rows)
            self.con.execute("COMMIT")
        except duckdb.Error as exc:
            self._rollback()
            message = " ".join(str(exc).split())
            where = f"{schema}.{NAMES_TABLE}"
            raise LoadError(f"DuckDB rejected a write to {where}: {message}") from exc

    def apply(self, schema: str, table: str, change: TableChange) -> None:
        target = self._qualified(schema, table)
        statements = []
        if change.create:
            cols = ", ".join(f"{quote(c.name)} {self.sql_types[c.type]}" for c in change.create)
            statements += [
                f"CREATE SCHEMA IF NOT EXISTS {quote(self._catalog)}.{quote(schema)}",
                f"CREATE TABLE IF NOT EXISTS {target} ({cols})",
            ]
        types = self.sql_types
        statements += [
            f"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {quote(c.name)} {types[c.type]}"
            for c in change.add
        ]
        statements += [
            f"ALTER TABLE {target} ALTER COLUMN {quote(c.name)} SET DATA TYPE {types[c.type]}"
            + (f" USING {_as_text(quote(c.name))}" if c.type is LogicalType.TEXT else "")
            for c in change.retype
        ]
        self._transaction(statements, f"{schema}.{table}")

    # -- loading -------------------------------------------------------------------

    def load(self, batch: Batch) -> int:
        return self.prepare_load(batch)()

    def prepare_load(self, batch: Batch) -> Callable[[], int]:
        """Build the batch's Arrow table now; the returned call writes and commits it.

        The Arrow conversion needs the GIL; the DELETE/INSERT run inside DuckDB, which
        releases it, so on the load thread they overlap with reading the next batch.
        """
        target = self._qualified(batch.schema, batch.table)
        where = f"{batch.schema}.{batch.table}"
        statements: list[str] = [f"DELETE FROM {target}"] if batch.replace_all else []
        if not batch.size:
            return lambda: self._transaction(statements, where)

        view = f"__stage_{next(_counter)}"
        arrays = {c.name: _arrow_column(batch.data[c.name], c.type) for c in batch.columns}
        arrays[STAGE_ROW] = pa.array(range(batch.size), type=pa.int64())
        table = pa.table(arrays)
        del arrays
        statements += self._write_sql(batch, target, view)

        width = table.num_columns  # the staging view's columns are pinned too

        def finish() -> int:
            self._fit_memory(width)  # here: the connection is free on the load thread
            self.con.register(view, table)
            try:
                written = self._transaction(statements, where)
            finally:
                self.con.unregister(view)
            self._after_commit(written)
            return written

        return finish

    def _write_sql(self, batch: Batch, target: str, view: str) -> list[str]:
        """Upsert as DELETE of the batch's keys + INSERT of the last row per key.

        Set-based, index-free, and about 3x faster than MERGE on DuckDB; both statements
        run in the batch's one transaction, so readers never see the key missing.
        """
        names = ", ".join(quote(c.name) for c in batch.columns)
        casts = ", ".join(
            f"CAST({quote(c.name)} AS {self.sql_types[c.type]}) AS {quote(c.name)}"
            for c in batch.columns
        )
        source = f"SELECT {casts} FROM {quote(view)}"
        live = f" WHERE {quote(DELETED_AT)} IS NULL" if batch.hard_delete else ""
        if not batch.keys:
            return [f"INSERT INTO {target} ({names}) {source}{live}"]
        keys = [quote(k) for k in batch.keys]
        # Last row per key wins, also inside one batch; a hard delete inserts nothing.
        if batch.keys_distinct():
            latest = f"{source}{live}"
        else:
            latest = (
                f"SELECT * FROM ({source} QUALIFY row_number() OVER"
                f" (PARTITION BY {', '.join(keys)} ORDER BY {quote(STAGE_ROW)} DESC) = 1){live}"
            )
        insert = f"INSERT INTO {target} ({names}) {latest}"
        if batch.replace_all:
            return [insert]
        # "__" never occurs in a normalized name: the alias cannot clash with a table
        match = " AND ".join(f"{target}.{k} = __keys.{k}" for k in keys)
        delete = (
            f"DELETE FROM {target} USING (SELECT DISTINCT {', '.join(keys)} FROM {quote(view)})"
            f" AS __keys WHERE {match}"
        )
        return [delete, insert]

    def _transaction(self, statements: list[str], where: str) -> int:
        """Run statements atomically; return the row count reported by the last one."""
        if not statements:
            return 0
        while True:
            count = 0
            try:
                self.con.execute("BEGIN TRANSACTION")
                for sql in statements:
                    row = self.con.execute(sql).fetchone()
                    count = int(row[0]) if row and isinstance(row[0], int) else 0
                self.con.execute("COMMIT")
            except duckdb.Error as exc:
                self._rollback()
                if self._grow_memory(exc):
                    continue  # nothing of it was committed: the same write again
                message = " ".join(str(exc).split())
                raise LoadError(f"DuckDB rejected a write to {where}: {message}") from exc
            except BaseException:
                self._rollback()
                raise
            return count

    def _rollback(self) -> None:
        with contextlib.suppress(duckdb.Error):  # no transaction left to roll back
            self.con.execute("ROLLBACK")

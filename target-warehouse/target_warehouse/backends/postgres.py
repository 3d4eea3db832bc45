"""PostgreSQL backend: COPY, and one set-based INSERT ... SELECT per flush when needed.

Each flush is one transaction. A batch that only adds rows (no key twice in it and none
already in the table, or no keys at all) is COPYed straight into the table: the table's
PRIMARY KEY turns a key already there into an error, rolled back to a savepoint. Any other
batch is COPYed into the session's staging table for its table shape (created once per
connection, truncated per flush) and merged with
``INSERT ... SELECT DISTINCT ON (keys) ... ON CONFLICT (keys) DO UPDATE`` (upsert) or a
plain INSERT (append). Target tables carry a PRIMARY KEY on the key columns.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg.adapt import Transformer
from psycopg.conninfo import conninfo_to_dict

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
from target_warehouse.backends.pgcopy import copy_batch, encode_rows, register
from target_warehouse.errors import LoadError, WarehouseConnectionError, redact
from target_warehouse.naming import MAX_IDENTIFIER_BYTES
from target_warehouse.types import LogicalType

SQL_TYPES = {
    LogicalType.BOOLEAN: "boolean",
    LogicalType.INTEGER: "bigint",
    LogicalType.NUMBER: "numeric",  # exact: Decimals from the JSON parser go in untouched
    LogicalType.DATE: "date",
    LogicalType.TIME: "time",
    LogicalType.TIMESTAMP: "timestamptz",
    LogicalType.TEXT: "text",
    LogicalType.JSON: "jsonb",
}
_FROM_SQL = {
    "boolean": LogicalType.BOOLEAN,
    "bigint": LogicalType.INTEGER,
    "numeric": LogicalType.NUMBER,
    "date": LogicalType.DATE,
    "time without time zone": LogicalType.TIME,
    "timestamp with time zone": LogicalType.TIMESTAMP,
    "text": LogicalType.TEXT,
    "jsonb": LogicalType.JSON,
}
# Staging column types: JSON travels as text and is cast to jsonb by the INSERT.
_STAGE_TYPES = {**SQL_TYPES, LogicalType.JSON: "text"}


_URL_SCHEME = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://")


_COPY_ROW = re.compile(r"^COPY [^\n]*?, line (\d+)")  # a COPY error's context: row 1, 2...


class PostgresBackend:
    dialect = "postgres"
    default_schema = "public"
    max_identifier_bytes = MAX_IDENTIFIER_BYTES
    strips_nul = True  # text and jsonb cannot hold U+0000
    supports_primary_key = True
    prepares_ahead = True  # encoded while the previous batch loads

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PostgresBackend:
        """Connection parameters from ``sqlalchemy_url`` or host/port/user/password/database."""
        url = config.get("sqlalchemy_url")
        if url:
            try:
                params = conninfo_to_dict(_URL_SCHEME.sub("postgresql://", url))
            except psycopg.Error:
                raise WarehouseConnectionError(
                    "sqlalchemy_url is not a valid postgresql:// URL"
                ) from None
        else:
            params = {
                "host": config.get("host"),
                "port": config.get("port"),
                "user": config.get("user"),
                "password": config.get("password"),
                "dbname": config.get("database"),
            }
        params = {k: v for k, v in params.items() if v not in (None, "")}
        params.setdefault("connect_timeout", 10)
        return cls(params)

    def __init__(self, params: dict[str, Any]) -> None:
        self._password = params.get("password")
        self._stages: set[str] = set()  # staging tables created on this connection
        self._went_direct: dict[str, bool] = {}  # table -> its last batch was COPYed in
        # table -> its PRIMARY KEY columns, as last described or set by this backend
        self._primary_keys: dict[str, tuple[str, ...]] = {}
        where = (
            f"PostgreSQL at {params.get('host', 'localhost')}:{params.get('port', 5432)}"
            f"/{params.get('dbname', '(default database)')}"
        )
        try:
            self.conn = psycopg.connect(
                **params, autocommit=True, application_name="target-warehouse"
            )
            # Naive timestamps (no offset in the source) are read as UTC.
            self.conn.execute("SET TIME ZONE 'UTC'")
            register(self.conn)
            self._encoder = Transformer(self.conn)  # for encode_rows, batch after batch
        except psycopg.Error as exc:
            user = params.get("user")
            who = f" as user {user!r}" if user else ""
            raise WarehouseConnectionError(
                f"cannot connect to {where}{who}: {redact(str(exc), self._password)}"
            ) from None  # the driver's own exception text is not re-shown

    def close(self) -> None:
        self.conn.close()

    def numbers_fit(self, values: list[Any]) -> bool:
        return True  # numeric is exact and unbounded for our purposes

    def retire_versions(
        self,
        schema: str,
        table: str,
        version_column: str,
        deleted_column: str | None,
        version: int,
        hard: bool,
    ) -> int:
        target = qualified(schema, table)
        older = older_versions_sql(version_column).format(param="%(version)s")
        if hard or not deleted_column:
            sql = f"DELETE FROM {target} WHERE {older}"
        else:
            deleted = quote(deleted_column)
            sql = f"UPDATE {target} SET {deleted} = now() WHERE {older} AND {deleted} IS NULL"
        with self._transaction(f"{schema}.{table}") as cur:
            cur.execute(sql, {"version": version})
            return max(cur.rowcount, 0)

    @contextmanager
    def _transaction(self, where: str):  # type: ignore[no-untyped-def]
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                yield cur
        except psycopg.Error as exc:
            message = redact(str(exc), self._password)
            error = LoadError(f"PostgreSQL rejected a write to {where}: {message}")
            found = _COPY_ROW.search(exc.diag.context or "")
            if found:  # the batch's rows are COPYed in order: this names the record
                error.batch_row = int(found.group(1))  # type: ignore[attr-defined]
            raise error from None
        except UnicodeEncodeError:
            raise LoadError(
                f"{where}: a text value is not valid Unicode (lone surrogate?)"
            ) from None

    # -- DDL -----------------------------------------------------------------------

    def _oid(self, schema: str, table: str) -> int | None:
        row = self.conn.execute(
            "SELECT to_regclass(%s)::oid", [qualified(schema, table)]
        ).fetchone()
        return row[0] if row else None

    def describe(self, schema: str, table: str) -> TableState | None:
        oid = self._oid(schema, table)
        if oid is None:
            return None
        cols = self.conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [oid],
        ).fetchall()
        pk = self.conn.execute(
            "SELECT a.attname FROM pg_index i"
            " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
            " WHERE i.indrelid = %s AND i.indisprimary ORDER BY k.ord",
            [oid],
        ).fetchall()
        primary_key = tuple(r[0] for r in pk)
        self._primary_keys[qualified(schema, table)] = primary_key
        return TableState(
            columns={name: _FROM_SQL.get(sql_type) for name, sql_type in cols},
            primary_key=primary_key,
        )

    def read_names(self, schema: str) -> list[NameRow]:
        if self._oid(schema, NAMES_TABLE) is None:
            return []
        rows = self.conn.execute(
            f"SELECT kind, parent, source, name FROM {qualified(schema, NAMES_TABLE)}"
        ).fetchall()
        return [tuple(r) for r in rows]  # type: ignore[misc]

    def add_names(self, schema: str, rows: list[NameRow]) -> None:
        target = qualified(schema, NAMES_TABLE)
        with self._transaction(f"{schema}.{NAMES_TABLE}") as cur:
            self._ensure_schema(cur, schema)
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {target} (kind text NOT NULL, parent text NOT NULL,"
                " source text NOT NULL, name text NOT NULL, UNIQUE (kind, parent, name),"
                " UNIQUE (kind, parent, source))"
            )
            cur.executemany(f"INSERT INTO {target} VALUES (%s, %s, %s, %s)", rows)

    @staticmethod
    def _ensure_schema(cur: psycopg.Cursor, schema: str) -> None:
        exists = cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        if exists.fetchone() is None:  # IF NOT EXISTS alone still needs CREATE rights
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")

    def apply(self, schema: str, table: str, change: TableChange) -> None:
        target = qualified(schema, table)
        if change.create:
            with self._transaction(f"{schema}.{table}") as cur:
                self._ensure_schema(cur, schema)
                cols = [f"{quote(c.name)} {SQL_TYPES[c.type]}" for c in change.create]
                if change.primary_key:
                    cols.append(f"PRIMARY KEY ({', '.join(map(quote, change.primary_key))})")
                cur.execute(f"CREATE TABLE IF NOT EXISTS {target} ({', '.join(cols)})")
            self.describe(schema, table)  # IF NOT EXISTS: another session's table, its key
            return
        with self._transaction(f"{schema}.{table}") as cur:
            for c in change.add:
                column = f"{quote(c.name)} {SQL_TYPES[c.type]}"
                cur.execute(f"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {column}")
            for c in change.retype:
                sql_type = SQL_TYPES[c.type]
                cur.execute(
                    f"ALTER TABLE {target} ALTER COLUMN {quote(c.name)} TYPE {sql_type}"
                    f" USING {quote(c.name)}::{sql_type}"
                )
            if change.primary_key is not None:
                self._set_primary_key(cur, target, change.primary_key)
        if change.primary_key is not None:
            self._primary_keys[target] = change.primary_key

    @staticmethod
    def _set_primary_key(cur: psycopg.Cursor, target: str, keys: tuple[str, ...]) -> None:
        row = cur.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'p'",
            [target],
        ).fetchone()
        if row:
            cur.execute(f"ALTER TABLE {target} DROP CONSTRAINT {quote(row[0])}")
        if keys:
            cur.execute(f"ALTER TABLE {target} ADD PRIMARY KEY ({', '.join(map(quote, keys))})")

    # -- loading -------------------------------------------------------------------

    def load(self, batch: Batch) -> int:
        return self.prepare_load(batch)()

    def prepare_load(self, batch: Batch) -> Callable[[], int]:
        """The returned call loads the batch in one transaction (on the load thread).

        A batch whose keys are all distinct, or with no keys to upsert on, is COPYed
        straight into the table while the table's last batch went that way: the same
        rows INSERT ... ON CONFLICT would write, for about half the server's work. Should
        a key already be in the table, its PRIMARY KEY stops the COPY (a unique
        violation, rolled back to a savepoint; no lookup is paid in advance), and this
        batch and the table's next ones are COPYed into staging and merged with one
        INSERT ... ON CONFLICT (upsert) or INSERT (append).
        """
        target = qualified(batch.schema, batch.table)
        where = f"{batch.schema}.{batch.table}"
        # Encoded here, on the main thread, for the path this table took last time (as
        # far as known: that load may still be running; see load()).
        encoded_direct = self._direct_ok(batch) and self._went_direct.get(target, True)
        payload = (
            encode_rows(
                self._encoder,
                batch.columns,
                batch.data,
                SQL_TYPES if encoded_direct else _STAGE_TYPES,
                ordinal=not encoded_direct,
                known_types=batch.known_types,
            )
            if batch.size
            else None
        )

        def load() -> int:
            # the previous load has ended: its path is known (a direct COPY that met a
            # key sends this batch to staging, encoded again if it was encoded direct)
            direct = encoded_direct and self._went_direct.get(target, True)
            staged_payload = None if encoded_direct else payload
            cur = self.conn.cursor()
            written = 0
            stage = None
            try:
                with self._errors(where):
                    cur.execute("BEGIN")
                    if batch.replace_all:
                        cur.execute(f"DELETE FROM {target}")
                    done = direct and self._direct(cur, batch, target, payload)
                    self._went_direct[target] = done
                    if batch.size and not done:
                        stage = self._stage(cur, batch, staged_payload)
                        if batch.hard_delete and batch.keys:
                            cur.execute(self._delete_sql(batch, target, stage))
                        cur.execute(self._write_sql(batch, target, stage))
                        written = max(cur.rowcount, 0)
                    elif batch.size:
                        written = batch.size
                    cur.execute("COMMIT")
            except BaseException:
                self._abort(cur)
                raise
            cur.close()
            if stage is not None:
                self._stages.add(stage)  # committed: the staging table exists from now on
            return written

        return load

    @staticmethod
    def _direct_ok(batch: Batch) -> bool:
        """Could the batch go straight into the table (if its keys are new)?"""
        if not batch.size or batch.hard_delete:
            return False
        return batch.keys_distinct()

    def _direct(
        self, cur: psycopg.Cursor, batch: Batch, target: str, payload: memoryview | None
    ) -> bool:
        """COPY the batch into the table itself when it only adds rows; True if done."""
        if batch.keys and self._primary_keys.get(target) != batch.keys:
            return False  # only a PRIMARY KEY on exactly these columns stops a known key
        names = ", ".join(quote(c.name) for c in batch.columns)
        cur.execute("SAVEPOINT direct_copy")
        try:
            copy_batch(cur, target, names, batch.columns, batch.data, SQL_TYPES, None, payload)
        except psycopg.errors.UniqueViolation:  # a key committed by another session
            cur.execute("ROLLBACK TO SAVEPOINT direct_copy")
            return False
        return True

    @contextmanager
    def _errors(self, where: str):  # type: ignore[no-untyped-def]
        try:
            yield
        except psycopg.Error as exc:
            message = redact(str(exc), self._password)
            error = LoadError(f"PostgreSQL rejected a write to {where}: {message}")
            found = _COPY_ROW.search(exc.diag.context or "")
            if found:  # the batch's rows are COPYed in order: this names the record
                error.batch_row = int(found.group(1))  # type: ignore[attr-defined]
            raise error from None
        except UnicodeEncodeError:
            raise LoadError(
                f"{where}: a text value is not valid Unicode (lone surrogate?)"
            ) from None

    def _abort(self, cur: psycopg.Cursor) -> None:
        with suppress(psycopg.Error):
            cur.close()
            self.conn.execute("ROLLBACK")

    def _stage(self, cur: psycopg.Cursor, batch: Batch, payload: memoryview | None) -> str:
        """COPY the batch into this table shape's staging table; return its quoted name."""
        defs = [f"{quote(c.name)} {_STAGE_TYPES[c.type]}" for c in batch.columns]
        defs.append(f"{quote(STAGE_ROW)} bigint")
        shape = f"{batch.schema}.{batch.table}({', '.join(defs)})"
        stage = quote("__stage_" + hashlib.sha1(shape.encode()).hexdigest()[:16])
        if stage in self._stages:
            cur.execute(f"TRUNCATE {stage}")
        else:  # created once per connection, emptied per flush (its creation is rolled
            # back with a failed flush, hence IF NOT EXISTS and the set filled after commit)
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ({', '.join(defs)})")
            cur.execute(f"TRUNCATE {stage}")
        names = ", ".join([*(quote(c.name) for c in batch.columns), quote(STAGE_ROW)])
        copy_batch(cur, stage, names, batch.columns, batch.data, _STAGE_TYPES, batch.size, payload)
        return stage

    @staticmethod
    def _latest(batch: Batch, stage: str, names: list[str]) -> str:
        """The last staged row per key (highest staging ordinal)."""
        keys = ", ".join(quote(k) for k in batch.keys)
        return (
            f"SELECT DISTINCT ON ({keys}) {', '.join(names)} FROM {stage}"
            f" ORDER BY {keys}, {quote(STAGE_ROW)} DESC"
        )

    def _delete_sql(self, batch: Batch, target: str, stage: str) -> str:
        keys = [quote(k) for k in batch.keys]
        latest = self._latest(batch, stage, [*keys, quote(DELETED_AT)])
        match = " AND ".join(f"__t.{k} = __s.{k}" for k in keys)
        return (
            f"DELETE FROM {target} AS __t USING ({latest}) AS __s"
            f" WHERE {match} AND __s.{quote(DELETED_AT)} IS NOT NULL"
        )

    def _write_sql(self, batch: Batch, target: str, stage: str) -> str:
        names = [quote(c.name) for c in batch.columns]
        # staged JSON is text: the cast checks and stores it as jsonb
        values = [
            f"{quote(c.name)}::jsonb" if c.type is LogicalType.JSON else quote(c.name)
            for c in batch.columns
        ]
        live = f" WHERE {quote(DELETED_AT)} IS NULL" if batch.hard_delete else ""
        columns = ", ".join(names)
        if not batch.keys:
            return f"INSERT INTO {target} ({columns}) SELECT {', '.join(values)} FROM {stage}{live}"
        keys = [quote(k) for k in batch.keys]
        if batch.keys_distinct():  # no key twice: no DISTINCT ON sort needed
            source = f"SELECT {', '.join(values)} FROM {stage}{live}"
        else:
            latest = self._latest(batch, stage, names)
            source = f"SELECT {', '.join(values)} FROM ({latest}) AS __s{live}"
        insert = f"INSERT INTO {target} ({columns}) {source}"
        updates = [f"{n} = EXCLUDED.{n}" for n in names if n not in keys]
        action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
        return f"{insert} ON CONFLICT ({', '.join(keys)}) {action}"

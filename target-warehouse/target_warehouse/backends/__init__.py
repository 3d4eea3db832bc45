"""The Backend protocol: the only surface through which the target touches a database.

Sinks decide *what* a table must look like and hand over column-wise batches; each
backend module decides *how* in its own SQL dialect. Every identifier is quoted with
:func:`quote`; values only ever travel as parameters, COPY data or Arrow buffers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from target_warehouse.errors import TargetError
from target_warehouse.types import LogicalType

_PLAIN_KEY_TYPES = frozenset({str, int})
# Which warehouse name each stream and property was given (kind "table" or "column",
# parent: the column's table), one per target schema: names never change hands
NAMES_TABLE = "_cloudsources_names"
NameRow = tuple[str, str, str, str]  # (kind, parent, source, name)
STAGE_ROW = "__row"  # staging-only ordinal; "__" never occurs in a normalized column name
DELETED_AT = "_sdc_deleted_at"


def older_versions_sql(version_column: str) -> str:
    """Rows of an older version than the parameter; NULL counts as older (never <=)."""
    column = quote(version_column)
    return f"({column} IS NULL OR {column} < {{param}})"


def quote(identifier: str) -> str:
    """Standard SQL quoted identifier (both PostgreSQL and DuckDB)."""
    return '"' + identifier.replace('"', '""') + '"'


def qualified(schema: str, table: str) -> str:
    return f"{quote(schema)}.{quote(table)}"


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: LogicalType


@dataclass
class TableState:
    """What a table looks like in the database right now."""

    # None for a type this target did not create (left alone, never widened).
    columns: dict[str, LogicalType | None]
    primary_key: tuple[str, ...] = ()


@dataclass
class TableChange:
    """DDL to bring one table in line with a stream's schema, applied in one transaction."""

    create: list[ColumnSpec] = field(default_factory=list)  # non-empty: create the table
    add: list[ColumnSpec] = field(default_factory=list)
    retype: list[ColumnSpec] = field(default_factory=list)  # widen to this type
    primary_key: tuple[str, ...] | None = None  # None: leave as is; (): drop it

    def __bool__(self) -> bool:
        return bool(self.create or self.add or self.retype or self.primary_key is not None)


@dataclass
class Batch:
    """One flush: column-wise values, already converted to the column types."""

    schema: str
    table: str
    columns: list[ColumnSpec]
    data: dict[str, list[Any]]  # column name -> values, all of equal length
    keys: tuple[str, ...] = ()  # upsert on these (last row per key wins); () appends
    replace_all: bool = False  # overwrite: empty the table first, same transaction
    hard_delete: bool = False  # rows whose last record has _sdc_deleted_at set are deleted
    # column name -> the Python types its values are known to have, ready as they are
    # (date-times aware): made by the typed decoder or the target, so a backend need not
    # look at each value
    known_types: dict[str, frozenset[type]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0

    def keys_distinct(self) -> bool:
        """True when no key occurs twice in the batch (then no dedupe pass is needed).

        Only claimed for str/int keys, whose equality is the same in Python and SQL.
        """
        if not self.keys:
            return True
        columns = [self.data[k] for k in self.keys]
        if not all(set(map(type, c)) <= _PLAIN_KEY_TYPES for c in columns):
            return False
        keys = columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))
        return len(set(keys)) == len(keys)


class Backend(Protocol):
    dialect: str
    default_schema: str
    max_identifier_bytes: int
    strips_nul: bool  # the database cannot store U+0000 in text
    supports_primary_key: bool  # upserts rely on a PRIMARY KEY (PostgreSQL) or not (DuckDB)
    # prepare_load may run while the previous load does (two prepared batches in memory)
    prepares_ahead: bool

    def describe(self, schema: str, table: str) -> TableState | None:
        """Current columns and key of a table, or None when it does not exist."""

    def read_names(self, schema: str) -> list[NameRow]:
        """The names given out in this schema so far (NAMES_TABLE; none if absent)."""

    def add_names(self, schema: str, rows: list[NameRow]) -> None:
        """Record names given out (creating the schema and NAMES_TABLE if needed)."""

    def apply(self, schema: str, table: str, change: TableChange) -> None:
        """Create schema/table, add and widen columns, set the key; one transaction."""

    def load(self, batch: Batch) -> int:
        """Write one batch in one transaction; return the number of rows written."""

    def prepare_load(self, batch: Batch) -> Callable[[], int]:
        """The first part of load (the Python-side work, e.g. COPY encoding or Arrow
        conversion); the returned call does the rest (the writes and COMMIT), possibly on
        another thread, and returns the number of rows written.

        With ``prepares_ahead``, it may run while the previous batch's returned call is
        still running on the load thread: it must not use the connection then, and a
        choice it makes from that load's outcome is made again by the returned call.
        """

    def numbers_fit(self, values: list[Any]) -> bool:
        """False when a number column cannot hold one of these values exactly enough."""

    def retire_versions(
        self,
        schema: str,
        table: str,
        version_column: str,
        deleted_column: str | None,
        version: int,
        hard: bool,
    ) -> int:
        """ACTIVATE_VERSION: delete (hard) or mark deleted the rows of older or no version."""

    def close(self) -> None: ...


def open_backend(config: Mapping[str, Any]) -> Backend:
    """Connect to the warehouse named by the target config."""
    kind = config.get("backend") or "duckdb"
    if kind == "duckdb":
        from target_warehouse.backends.duckdb import DuckDBBackend

        return DuckDBBackend(
            config.get("path") or "warehouse.duckdb",
            number_type=str(config.get("duckdb_number_type") or "decimal"),
            memory_limit=config.get("duckdb_memory_limit") or None,  # None: sized by width
        )
    if kind == "postgres":
        from target_warehouse.backends.postgres import PostgresBackend

        return PostgresBackend.from_config(config)
    raise TargetError(f"unknown backend {kind!r} (expected 'duckdb' or 'postgres')")

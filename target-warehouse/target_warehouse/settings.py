"""target-warehouse settings (the SDK adds its built-ins: batch_size_rows,
validate_records, add_record_metadata handling, flattening_*, stream_maps...)."""

from __future__ import annotations

from singer_sdk import typing as th

APPEND_ONLY, UPSERT, OVERWRITE = "append-only", "upsert", "overwrite"

CONFIG_SCHEMA: dict = th.PropertiesList(
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
    th.Property(
        "hard_delete",
        th.BooleanType,
        default=False,
        description="Delete rows instead of marking them: a record with _sdc_deleted_at set "
        "deletes its key's row, and ACTIVATE_VERSION deletes rows of older versions.",
    ),
    th.Property(
        "duckdb_number_type",
        th.StringType,
        default="decimal",
        allowed_values=["decimal", "double"],
        description="DuckDB type for JSON Schema numbers: exact DECIMAL(38,9) (default; a "
        "value beyond 29 integer digits widens the column to text) or DOUBLE.",
    ),
    th.Property(
        "duckdb_memory_limit",
        th.StringType,
        description="DuckDB's memory_limit (e.g. '256MB', '2GB'): the most memory DuckDB "
        "keeps for data before spilling to a temporary file next to the database "
        "(default: 32MB, or 1.25MB per column of the widest table loaded if more).",
    ),
    th.Property(
        "invalid_datetime",
        th.StringType,
        default="null",
        allowed_values=["null", "error"],
        description="An unparseable date, time or date-time (e.g. 0000-00-00 00:00:00) is "
        "stored as NULL with a warning (default), or stops the run with an error.",
    ),
    th.Property(
        "state_flush_seconds",
        th.NumberType,
        default=30,
        description="While data flows, commit every sink and emit STATE at least this often.",
    ),
).to_dict()

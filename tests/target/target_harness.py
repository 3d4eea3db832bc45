"""Test harness for target-warehouse: Singer message builders, runs, reading rows back."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
TARGET = str(BIN / "target-warehouse")


# -- Singer message builders ---------------------------------------------------------


def schema_msg(stream: str, properties: dict, keys: list[str] | None = None, **extra: Any) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": ["id"] if keys is None else keys,
        **extra,
    }


def record_msg(stream: str, record: dict, **extra: Any) -> dict:
    return {"type": "RECORD", "stream": stream, "record": record, **extra}


def state_msg(value: dict) -> dict:
    return {"type": "STATE", "value": value}


def to_lines(messages: list[dict | str]) -> str:
    return "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages)


# -- runs ----------------------------------------------------------------------------


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    error: BaseException | None = None
    states: list[dict] = field(default_factory=list)


@dataclass
class Warehouse:
    """One backend under test: its config, and SQL to read back what the target wrote."""

    kind: str
    config: dict
    tmp_path: Path
    pg_params: dict | None = None

    @property
    def default_schema(self) -> str:
        return "main" if self.kind == "duckdb" else "public"

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        if self.kind == "duckdb":
            import duckdb

            with duckdb.connect(self.config["path"]) as con:
                con.execute("SET TimeZone = 'UTC'")
                return con.execute(sql, params or []).fetchall()
        import psycopg

        assert self.pg_params is not None
        with psycopg.connect(**self.pg_params) as con:
            con.execute("SET TIME ZONE 'UTC'")
            return con.execute(sql, params).fetchall()

    def columns(self, schema: str, table: str) -> dict[str, str]:
        """Column name -> SQL type name (lowercase), in table order."""
        rows = self.query(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position".replace(
                "?", "%s" if self.kind == "postgres" else "?"
            ),
            [schema, table],
        )
        return {name: kind.lower() for name, kind in rows}

    def run(self, messages: list[dict | str], **overrides: Any) -> Run:
        """Run the target in this process (fast); raises nothing, returns the error."""
        from target_warehouse.target import TargetWarehouse

        out = io.StringIO()
        error = None
        target = None
        try:
            target = TargetWarehouse(config={**self.config, **overrides})
            with redirect_stdout(out):
                target.listen(io.StringIO(to_lines(messages)))
        except Exception as exc:
            error = exc
            if target is not None:
                target.backend.close()
        stdout = out.getvalue()
        states = [json.loads(line) for line in stdout.splitlines() if line.strip()]
        return Run(0 if error is None else 1, stdout, "", error, states)

    def cli(self, messages: list[dict | str], **overrides: Any) -> Run:
        """Run the console script as a user does: config file, Singer lines on stdin."""
        config_path = self.tmp_path / f"config-{uuid.uuid4().hex[:8]}.json"
        config_path.write_text(json.dumps({**self.config, **overrides}))
        proc = subprocess.run(
            [TARGET, "--config", str(config_path)],
            input=to_lines(messages).encode(),
            capture_output=True,
            timeout=120,
        )
        stdout = proc.stdout.decode()
        states = [json.loads(line) for line in stdout.splitlines() if line.strip()]
        return Run(proc.returncode, stdout, proc.stderr.decode(), None, states)

"""Fixtures for target-warehouse tests: real DuckDB files and a real PostgreSQL server.

PostgreSQL is CLOUDSOURCES_TEST_PG_URL when set (its user needs CREATEDB), else a
server started once per session with pgserver. Every test gets its own fresh database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from target_harness import Warehouse

# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def target_pg_admin_url(pg_server_url: str) -> str:
    """The suite's shared PostgreSQL server (tests/conftest.py)."""
    return pg_server_url


@pytest.fixture
def pg_params(target_pg_admin_url: str) -> Iterator[dict]:
    """Connection parameters of a fresh database, dropped after the test."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    name = f"tw_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(target_pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    params = {**conninfo_to_dict(target_pg_admin_url), "dbname": name}
    yield params
    with psycopg.connect(target_pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_config(params: dict) -> dict:
    config = {"backend": "postgres", "database": params["dbname"]}
    for key in ("host", "port", "user", "password"):
        if params.get(key):
            config[key] = int(params[key]) if key == "port" else params[key]
    return config


@pytest.fixture
def duckdb_warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse("duckdb", {"backend": "duckdb", "path": str(tmp_path / "w.duckdb")}, tmp_path)


@pytest.fixture
def pg_warehouse(pg_params: dict, tmp_path: Path) -> Warehouse:
    return Warehouse("postgres", pg_config(pg_params), tmp_path, pg_params)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest) -> Warehouse:
    """Each test using this runs once on DuckDB and once on PostgreSQL."""
    name = "pg_warehouse" if request.param == "postgres" else "duckdb_warehouse"
    return request.getfixturevalue(name)

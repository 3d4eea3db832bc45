"""singer-sdk's standard target tests, on DuckDB and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.runners import TargetTestRunner
from target_harness import Warehouse
from target_warehouse.target import TargetWarehouse

# The config given here is replaced per test by the `runner` fixtures below.
_Base = get_target_test_class(TargetWarehouse, config={"backend": "duckdb", "path": ":memory:"})


class TestDuckDBStandard(_Base):  # type: ignore[misc,valid-type]
    @pytest.fixture
    def runner(self, tmp_path: Path) -> TargetTestRunner:
        return TargetTestRunner(TargetWarehouse, config={"path": str(tmp_path / "w.duckdb")})


@pytest.mark.postgres
class TestPostgresStandard(_Base):  # type: ignore[misc,valid-type]
    @pytest.fixture
    def runner(self, pg_warehouse: Warehouse) -> TargetTestRunner:
        return TargetTestRunner(TargetWarehouse, config=pg_warehouse.config)

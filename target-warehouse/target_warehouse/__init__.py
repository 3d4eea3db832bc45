"""target-warehouse: Singer target loading DuckDB or PostgreSQL (see target.py)."""

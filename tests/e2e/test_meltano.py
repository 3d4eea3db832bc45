"""`meltano run` with the project's own meltano.yml, against the sandbox, into DuckDB."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from tap_cloudsources.sources.stripe.streams import COLLECTIONS as STRIPE_COLLECTIONS
from warehouse_reader import mismatches, read_duckdb

ROOT = Path(__file__).resolve().parents[2]
MELTANO = str(Path(sys.executable).parent / "meltano")
COLLECTIONS = [c.name for c in STRIPE_COLLECTIONS]


@pytest.fixture
def meltano_project(tmp_path) -> Path:
    """A copy of the project (meltano.yml installs it with `pip_url: -e .`)."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("meltano.yml", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("tap-cloudsources", "target-warehouse"):
        shutil.copytree(ROOT / name, project / name, ignore=ignore)
    return project


def meltano(project: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([MELTANO, *args], cwd=project, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_meltano_run_loads_stripe_and_resumes_from_state(meltano_project, sandbox):
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "TAP_CLOUDSOURCES_STRIPE_API_KEY": "sk_test_meltano_e2e",
        "TAP_CLOUDSOURCES_STRIPE_API_BASE_URL": sandbox.url,
    }
    meltano(meltano_project, env, "install")

    schedules = json.loads(meltano(meltano_project, env, "schedule", "list", "--format",
                                   "json").stdout)
    job_schedules = {s["name"]: s for s in schedules["schedules"]["job"]}
    assert job_schedules["stripe-every-3-hours"]["interval"] == "0 */3 * * *"
    assert job_schedules["stripe-every-3-hours"]["job"]["name"] == "stripe-to-warehouse"

    meltano(meltano_project, env, "run", "tap-cloudsources-stripe", "target-warehouse")
    warehouse = str(meltano_project / "output" / "warehouse.duckdb")
    for collection in COLLECTIONS:
        expected = requests.get(f"{sandbox.url}/_sandbox/truth/stripe/{collection}",
                                timeout=10).json()["data"]
        rows = read_duckdb(warehouse, "stripe", collection)
        assert len(rows) == len(expected)
        assert mismatches(rows, expected) == [], collection

    # Meltano saved the STATE: with nothing changed, the second run makes one request.
    requests.post(f"{sandbox.url}/_sandbox/stats/reset", timeout=10)
    meltano(meltano_project, env, "run", "tap-cloudsources-stripe", "target-warehouse")
    made = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=10).json()
    assert [q["path"] for q in made] == ["/v1/events"]

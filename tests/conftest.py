"""Fixtures shared by the whole suite: the sandbox, a real PostgreSQL, and pipeline runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

BIN = Path(sys.executable).parent


@pytest.fixture
def sandbox() -> Iterator:
    """A fresh Stripe sandbox (seed 1) on a free port, in this process."""
    from cloudsources_sandbox.server import SandboxServer

    with SandboxServer(host="127.0.0.1", port=0, seed=1, scale=1.0) as server:
        yield server


@pytest.fixture
def admin(sandbox):
    """The sandbox's admin API (faults, stats, truth, advance)."""
    from taprun import Admin

    return Admin(sandbox.url)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A real PostgreSQL: CLOUDSOURCES_TEST_PG_URL if set (its user needs CREATEDB), else one
    started once per session with pgserver."""
    external = os.environ.get("CLOUDSOURCES_TEST_PG_URL")
    if external:
        yield external
        return
    import pgserver

    # Its own directory, not pytest's tmp tree: a concurrent pytest run prunes old tmp dirs.
    with tempfile.TemporaryDirectory(prefix="cloudsources-pg-") as data_dir:
        server = pgserver.get_server(data_dir, cleanup_mode="delete")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty database on the shared server; dropped afterwards."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield urlsplit(pg_server_url)._replace(path=f"/{name}").geturl()
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class PipelineRun:
    tap_rc: int
    target_rc: int
    tap_stderr: str
    target_stderr: str
    states: list[dict]

    @property
    def last_state(self) -> dict | None:
        return self.states[-1] if self.states else None


def run_pipeline(
    tap_config: dict, target_config: dict, workdir: Path, state: dict | None = None
) -> PipelineRun:
    """`tap-cloudsources --config c.json | target-warehouse --config w.json`, as a user runs it."""
    workdir.mkdir(parents=True, exist_ok=True)
    tap_path = workdir / "tap.json"
    target_path = workdir / "target.json"
    tap_path.write_text(json.dumps(tap_config))
    target_path.write_text(json.dumps(target_config))
    tap_cmd = [str(BIN / "tap-cloudsources"), "--config", str(tap_path)]
    if state is not None:
        state_path = workdir / "state-in.json"
        state_path.write_text(json.dumps(state))
        tap_cmd += ["--state", str(state_path)]
    tap = subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    target = subprocess.Popen(
        [str(BIN / "target-warehouse"), "--config", str(target_path)],
        stdin=tap.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert tap.stdout is not None
    tap.stdout.close()  # the target owns the pipe now
    target_out, target_err = target.communicate(timeout=300)
    tap_err = tap.stderr.read() if tap.stderr else b""
    tap.wait(timeout=60)
    # A Singer target writes each committed state as one bare JSON object per line.
    states = [json.loads(line) for line in target_out.decode().splitlines() if line.strip()]
    return PipelineRun(tap.returncode, target.returncode, tap_err.decode(), target_err.decode(),
                       states)


@pytest.fixture
def pipeline() -> type:
    """The pipeline runner, as a fixture so tests need no imports from conftest."""
    return run_pipeline

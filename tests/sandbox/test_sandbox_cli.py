"""`cloudsources sandbox serve` as a user (or a script) runs it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

CLOUDSOURCES = str(Path(sys.executable).parent / "cloudsources")


def start(*extra: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [CLOUDSOURCES, "sandbox", "serve", "--port", "0", "--seed", "2", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the server prints it only once it accepts requests
    assert line.startswith("sandbox listening on http://127.0.0.1:"), line
    return proc, line.removeprefix("sandbox listening on ").strip()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_the_url_serves_and_stops_cleanly(sig):
    proc, url = start()
    try:
        assert requests.get(f"{url}/_sandbox/health", timeout=10).json() == {"ok": True}
        resp = requests.get(f"{url}/v1/customers?limit=2", auth=("sk_test_clitest00", ""),
                            timeout=10)
        assert resp.status_code == 200 and len(resp.json()["data"]) == 2
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert out == "" and err == ""  # request logging is off by default


def test_verbose_logs_requests_to_stderr():
    proc, url = start("--verbose")
    requests.get(f"{url}/_sandbox/health", timeout=10)
    time.sleep(0.1)
    proc.terminate()
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "GET /_sandbox/health" in err


def test_same_seed_on_the_command_line_gives_the_same_data():
    first, url1 = start()
    second, url2 = start()
    try:
        a = requests.get(f"{url1}/_sandbox/truth/stripe/invoices", timeout=10).content
        b = requests.get(f"{url2}/_sandbox/truth/stripe/invoices", timeout=10).content
        assert a == b
    finally:
        for proc in (first, second):
            proc.terminate()
            proc.communicate(timeout=15)


def test_port_in_use_is_an_error(sandbox):
    port = sandbox.url.rsplit(":", 1)[1]
    result = subprocess.run([CLOUDSOURCES, "sandbox", "serve", "--port", port],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "cannot listen" in result.stderr


def test_help_names_the_subcommands():
    result = subprocess.run([CLOUDSOURCES, "sandbox", "serve", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    for flag in ("--host", "--port", "--seed", "--scale", "--verbose"):
        assert flag in result.stdout


def test_demo_subcommand_is_handed_its_own_arguments():
    result = subprocess.run([CLOUDSOURCES, "demo", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and "--warehouse" in result.stdout


def _demo(tmp_path, warehouse: str = "w.duckdb") -> subprocess.CompletedProcess:
    return subprocess.run([CLOUDSOURCES, "demo", "--warehouse", str(tmp_path / warehouse),
                           "--workdir", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=300)


def _table_lines(stdout: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in stdout.splitlines()
            if line.startswith("stripe.")}


def test_demo_loads_every_collection_then_a_second_demo_costs_one_request(tmp_path):
    """`make demo` runs this: sandbox → tap → DuckDB, every table against the sandbox; the
    second demo is incremental (saved STATE), makes one request and ends with the same rows."""
    from tap_cloudsources.sources.stripe.streams import CHILDREN, COLLECTIONS

    first = _demo(tmp_path)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "first run (no saved state)" in first.stdout
    assert "matches the sandbox." in first.stdout
    tables = _table_lines(first.stdout)
    names = [*(c.name for c in COLLECTIONS), *(c.name for c in CHILDREN), "events"]
    assert sorted(tables) == sorted(f"stripe.{name}" for name in names)
    charges = tables["stripe.charges"]
    assert charges[0] == charges[1] == "600" and charges[3] == "yes"
    assert tables["stripe.skus"][3] == "derived" and int(tables["stripe.skus"][0]) > 0

    second = _demo(tmp_path)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "incremental run from" in second.stdout and "matches the sandbox." in second.stdout
    again = _table_lines(second.stdout)
    assert {t: row[0] for t, row in again.items()} == {t: row[0] for t, row in tables.items()}
    total = next(line for line in second.stdout.splitlines() if line.startswith("total API"))
    assert total.split()[-1] == "1"

    # another warehouse file, the same workdir: the saved STATE is not its own, so it
    # syncs in full (a file named like its schema, which DuckDB could find ambiguous)
    third = _demo(tmp_path, "stripe.duckdb")
    assert third.returncode == 0, third.stdout[-2000:] + third.stderr[-2000:]
    assert "full sync" in third.stdout and "matches the sandbox." in third.stdout
    assert _table_lines(third.stdout)["stripe.charges"][:2] == ["600", "600"]


def test_count_seeds_exactly_that_many_of_one_collection_and_scales_the_rest():
    proc, url = start("--count", "charges=1500")
    try:
        def count(name: str) -> int:
            return requests.get(f"{url}/_sandbox/truth/stripe/{name}", timeout=30).json()["count"]

        assert (count("charges"), count("customers"), count("invoices")) == (1500, 200, 300)
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


@pytest.mark.parametrize(("value", "error"), [
    ("refunds=10", "'refunds' is not a seeded collection; one of: charges, customers,"),
    ("charges=0", "'charges=0': expected charges=N with N a positive integer"),
])
def test_count_names_what_is_wrong(value, error):
    result = subprocess.run([CLOUDSOURCES, "sandbox", "serve", "--count", value],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and error in result.stderr

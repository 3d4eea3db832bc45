"""Access denied, permission denied per collection, the watchdog, --test: exit codes, one-line
messages, request counts and the `_sync_runs` record."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from tap_cloudsources.sources.stripe.streams import CHILDREN as STRIPE_CHILDREN
from tap_cloudsources.sources.stripe.streams import COLLECTIONS as STRIPE_COLLECTIONS
from taprun import KEY, TAP, run_tap, tap_config
from warehouse_reader import mismatches, read_duckdb

COLLECTIONS = [*(c.name for c in STRIPE_COLLECTIONS), "events"]
TOTAL = len(COLLECTIONS) + len(STRIPE_CHILDREN)


def test_revoked_key_stops_the_run_at_its_first_request(admin, tmp_path):
    admin.fault(credentials="revoked")
    admin.post("/_sandbox/stats/reset")
    run = run_tap(tmp_path, tap_config(admin.url))
    assert run.returncode == 2
    assert run.last_line == (
        "tap-cloudsources: access denied: stripe: Invalid API Key provided: sk_test_*** (HTTP 401)")
    assert "Traceback" not in run.stderr
    assert KEY not in run.stderr + json.dumps(run.messages)
    stats = admin.get("/_sandbox/stats")
    assert stats["total"] == 1  # the run's first request told; nothing else was attempted
    assert run.of_type("RECORD") == [m for m in run.of_type("RECORD")
                                     if m["stream"] == "_sync_runs"]
    record = run.run_record
    assert (record["status"], record["exit_code"]) == ("access_denied", 2)
    assert record["error"].startswith("access denied: stripe: Invalid API Key provided")


def test_permission_denied_on_one_collection_lets_the_others_complete(admin, pipeline, tmp_path):
    admin.fault(path="/v1/charges", status=403)
    warehouse = tmp_path / "w.duckdb"
    run = pipeline(tap_config(admin.url), {"path": str(warehouse)}, tmp_path / "run")
    assert (run.tap_rc, run.target_rc) == (3, 0), run.tap_stderr[-3000:]
    last = run.tap_stderr.strip().splitlines()[-1]
    assert last.startswith(f"tap-cloudsources: 1 of {TOTAL} collections failed: permission denied: "
                           "stripe: charges: The provided key 'sk_test_***' does not")
    assert "does not have the required permissions" in last
    for collection in COLLECTIONS:
        if collection == "charges":
            continue
        rows = read_duckdb(str(warehouse), "stripe", collection)
        assert mismatches(rows, admin.truth(collection)) == [], collection
        assert "replication_key_value" in run.last_state["bookmarks"][collection]
    assert "replication_key_value" not in run.last_state["bookmarks"].get("charges", {})

    (history,) = read_duckdb(str(warehouse), "stripe", "_sync_runs", key="run_id").values()
    assert (history["status"], history["exit_code"]) == ("partial", 3)
    by_name = {c["collection"]: c for c in history["collections"]}
    assert by_name["charges"]["status"] == "failed"
    assert "does not have the required permissions" in by_name["charges"]["error"]
    assert by_name["charges"]["api_calls"] == 1
    assert {c: by_name[c]["status"] for c in COLLECTIONS if c != "charges"} == {
        c: "ok" for c in COLLECTIONS if c != "charges"}
    assert by_name["customers"]["records"] == 200


def test_watchdog_kills_a_stalled_run_and_keeps_the_safe_state(admin, pipeline, tmp_path):
    admin.fault(path="/v1/customers", kind="stall", stall_seconds=60)
    warehouse = tmp_path / "w.duckdb"
    started = time.monotonic()
    run = pipeline(tap_config(admin.url, stall_seconds=2), {"path": str(warehouse)},
                   tmp_path / "run")
    elapsed = time.monotonic() - started
    assert (run.tap_rc, run.target_rc) == (4, 0), run.tap_stderr[-3000:]
    assert elapsed < 2 + 6  # stall_seconds plus process start-up and a small margin
    assert run.tap_stderr.strip().splitlines()[-1] == (
        "tap-cloudsources: killed: no progress for stall_seconds=2; "
        "the last safe STATE was emitted")
    # charges (synced before customers) is committed with its bookmark.
    assert "replication_key_value" in run.last_state["bookmarks"]["charges"]
    assert len(read_duckdb(str(warehouse), "stripe", "charges")) == 600
    (history,) = read_duckdb(str(warehouse), "stripe", "_sync_runs", key="run_id").values()
    assert (history["status"], history["exit_code"]) == ("killed", 4)
    by_name = {c["collection"]: c for c in history["collections"]}
    assert by_name["charges"]["status"] == "ok"
    assert by_name["customers"]["status"] == "failed"


def test_max_run_seconds_kills_a_long_run(admin, tmp_path):
    admin.fault(latency_ms=300)
    run = run_tap(tmp_path, tap_config(admin.url, max_run_seconds=1))
    assert run.returncode == 4
    assert run.last_line.startswith("tap-cloudsources: killed: run exceeded max_run_seconds=1")
    assert run.run_record["status"] == "killed"


def test_connection_test_makes_one_request(admin, tmp_path):
    admin.post("/_sandbox/stats/reset")
    run = run_tap(tmp_path, tap_config(admin.url), "--test")
    assert run.returncode == 0, run.stderr[-2000:]
    assert admin.get("/_sandbox/stats")["total"] == 1
    admin.fault(credentials="revoked")
    run = run_tap(tmp_path, tap_config(admin.url), "--test")
    assert run.returncode == 2
    assert run.last_line.startswith("tap-cloudsources: access denied: stripe:")


def test_pagination_loop_stops_with_a_clear_error(admin, tmp_path):
    admin.fault(path="/v1/charges", kind="pagination-loop")
    admin.post("/_sandbox/stats/reset")
    run = run_tap(tmp_path, tap_config(admin.url))
    assert run.returncode == 3
    assert run.last_line.startswith(
        f"tap-cloudsources: 1 of {TOTAL} collections failed: stripe: charges: pagination loop: "
        "the API returned the cursor 'ch_")
    assert admin.get("/_sandbox/stats")["by_path"]["/v1/charges"] == 2
    charges = [m for m in run.of_type("RECORD") if m["stream"] == "charges"]
    assert len(charges) == len({m["record"]["id"] for m in charges}) == 100
    customers = [m for m in run.of_type("RECORD") if m["stream"] == "customers"]
    assert len(customers) == 200


def test_summary_and_progress_on_stderr(admin, tmp_path):
    admin.fault(latency_ms=20)
    run = run_tap(tmp_path, tap_config(admin.url, progress_seconds=0.05))
    assert run.returncode == 0
    assert "progress stripe/charges:" in run.stderr
    assert "records/s" in run.stderr
    summary = run.stderr[run.stderr.index("cloudsources run "):]
    assert "· stripe · success (exit 0)" in summary
    row = next(line.split() for line in summary.splitlines() if line.strip().startswith("charges"))
    assert row[:5] == ["charges", "ok", "600", "6", "0"]


def test_sigterm_is_a_reported_stop_not_a_silent_success(admin, tmp_path):
    admin.fault(latency_ms=200)
    config = tmp_path / "c.json"
    config.write_text(json.dumps(tap_config(admin.url)))
    tap = subprocess.Popen([TAP, "--config", str(config)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    assert tap.stdout is not None
    while '"type":"STATE"' not in tap.stdout.readline():
        pass
    tap.send_signal(signal.SIGTERM)
    out, err = tap.communicate(timeout=30)
    assert tap.returncode == 4
    assert err.strip().splitlines()[-1] == (
        "tap-cloudsources: killed: stopped by SIGTERM; the last safe STATE was emitted")
    messages = [json.loads(line) for line in out.splitlines() if line.strip()]
    (record,) = [m["record"] for m in messages
                 if m["type"] == "RECORD" and m["stream"] == "_sync_runs"]
    assert (record["status"], record["exit_code"]) == ("killed", 4)
    assert messages[-1]["type"] == "RECORD"  # the run record closes the output
    assert any(m["type"] == "STATE" for m in messages[-3:])  # after the last safe STATE

"""Faults, rate limits and a killed run: the warehouse still equals a clean run, row for row."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from tap_cloudsources.sources.stripe.streams import CHILDREN as STRIPE_CHILDREN
from tap_cloudsources.sources.stripe.streams import COLLECTIONS as STRIPE_COLLECTIONS
from taprun import TAP, tap_config
from warehouse_reader import mismatches, read_duckdb

COLLECTIONS = [c.name for c in STRIPE_COLLECTIONS]
WITH_CHILDREN = [*COLLECTIONS, *(c.name for c in STRIPE_CHILDREN)]
FAULT_SEED = 11  # a schedule in which every kind occurs
ALL_KINDS = ["429", "429-no-retry-after", "500", "503", "reset", "stall", "truncated"]


def business_columns(rows: dict[str, dict]) -> dict[str, dict]:
    return {key: {k: v for k, v in row.items() if not k.startswith("_sdc_")}
            for key, row in rows.items()}


def test_twenty_percent_faults_give_the_same_warehouse_as_a_clean_run(admin, pipeline, tmp_path):
    # ~240 requests a run (200 of them a customer's payment methods, which Stripe lists only
    # per customer): with this seed every fault kind occurs.
    clean = tmp_path / "clean.duckdb"
    run = pipeline(tap_config(admin.url), {"path": str(clean)}, tmp_path / "clean")
    assert (run.tap_rc, run.target_rc) == (0, 0)

    admin.fault(rate=0.2, kinds=ALL_KINDS, seed=FAULT_SEED, stall_seconds=3)
    faulty = tmp_path / "faulty.duckdb"
    # A 1 s read timeout turns each stall into a retry; retries start at 0.2 s.
    config = tap_config(admin.url, request_timeout=1, max_retries=12)
    run = pipeline(config, {"path": str(faulty)}, tmp_path / "faulty")
    assert (run.tap_rc, run.target_rc) == (0, 0), run.tap_stderr[-3000:]

    injected = admin.get("/_sandbox/faults")["injected"]
    assert set(ALL_KINDS) <= {kind for kind, n in injected.items() if n > 0}, injected
    for collection in WITH_CHILDREN:
        want = business_columns(read_duckdb(str(clean), "stripe", collection))
        got = business_columns(read_duckdb(str(faulty), "stripe", collection))
        assert got == want, collection  # read_duckdb also asserts no duplicate ids
    (history,) = read_duckdb(str(faulty), "stripe", "_sync_runs", key="run_id").values()
    assert history["status"] == "success"
    assert sum(c["retries"] for c in history["collections"]) == sum(injected.values())


def test_client_budget_keeps_the_run_under_the_server_rate_limit(admin, tmp_path, pipeline):
    admin.fault(rate_limit={"requests_per_second": 5, "burst": 5})
    run = pipeline(tap_config(admin.url, max_requests_per_second=4),
                   {"path": str(tmp_path / "a.duckdb")}, tmp_path / "a")
    assert run.tap_rc == 0
    assert admin.get("/_sandbox/faults")["rate_limited"] == 0

    # Without our budget the server throttles us; the run still completes through retries.
    run = pipeline(tap_config(admin.url, max_requests_per_second=1000),
                   {"path": str(tmp_path / "b.duckdb")}, tmp_path / "b")
    assert run.tap_rc == 0, run.tap_stderr[-2000:]
    assert admin.get("/_sandbox/faults")["rate_limited"] > 0
    rows = read_duckdb(str(tmp_path / "b.duckdb"), "stripe", "charges")
    assert mismatches(rows, admin.truth("charges")) == []


def test_a_killed_run_resumes_where_it_stopped(admin, pipeline, tmp_path):
    admin.fault(latency_ms=150)
    config_path = tmp_path / "tap.json"
    config_path.write_text(json.dumps(tap_config(admin.url)))
    admin.post("/_sandbox/stats/reset")
    tap = subprocess.Popen([TAP, "--config", str(config_path)], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    assert tap.stdout is not None
    deadline = time.monotonic() + 60
    # charges is synced first; kill the tap once it has checkpointed three of its six pages.
    checkpoints = 0
    while time.monotonic() < deadline:
        line = tap.stdout.readline()
        if not line:
            break
        lines.append(line)
        message = json.loads(line)
        resume = message.get("value", {}).get("bookmarks", {}).get("charges", {}).get("resume")
        if message["type"] == "STATE" and resume:
            checkpoints += 1
            if checkpoints == 3:
                tap.send_signal(signal.SIGKILL)
                break
    tap.wait(timeout=10)
    assert tap.returncode == -signal.SIGKILL

    # What the killed tap wrote goes through the target, as in a pipe.
    target_config = {"path": str(tmp_path / "w.duckdb")}
    partial_input = tmp_path / "partial.jsonl"
    partial_input.write_text("".join(lines))
    target = subprocess.run([str(TAP).replace("tap-cloudsources", "target-warehouse"),
                             "--config", str(_write(tmp_path / "w.json", target_config))],
                            stdin=partial_input.open(), capture_output=True, text=True,
                            timeout=120)
    assert target.returncode == 0, target.stderr[-2000:]
    saved_state = json.loads(target.stdout.strip().splitlines()[-1])
    resume = saved_state["bookmarks"]["charges"]["resume"]
    emitted_before = {json.loads(x)["record"]["id"] for x in lines
                      if json.loads(x)["type"] == "RECORD" and json.loads(x)["stream"] == "charges"}
    assert 300 <= len(emitted_before) < 600

    admin.fault(latency_ms=0)
    admin.post("/_sandbox/stats/reset")
    second = pipeline(tap_config(admin.url), target_config, tmp_path / "second",
                      state=saved_state)
    assert (second.tap_rc, second.target_rc) == (0, 0), second.tap_stderr[-2000:]
    charges_requests = [q for q in admin.get("/_sandbox/requests") if q["path"] == "/v1/charges"]
    # It resumed below the checkpoint instead of starting the collection over.
    assert charges_requests[0]["query"]["created[lte]"] == str(resume["lte"])
    assert len(charges_requests) <= 4
    for collection in COLLECTIONS:
        rows = read_duckdb(str(tmp_path / "w.duckdb"), "stripe", collection)
        truth = admin.truth(collection)
        assert len(rows) == len(truth), collection
        assert mismatches(rows, truth) == [], collection
    assert "resume" not in second.last_state["bookmarks"]["charges"]


def _write(path, data: dict):
    path.write_text(json.dumps(data))
    return path

"""`cloudsources demo`: sandbox → tap-cloudsources → target-warehouse (DuckDB), then a summary.

It drives the three commands exactly as a user would in a shell, so the demo proves the same
path the README documents. State is kept between runs, so a second demo is incremental.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
SANDBOX_KEY = "sk_test_cloudsources_demo"


def start_sandbox(seed: int, scale: float) -> tuple[subprocess.Popen, str]:
    command = [str(BIN / "cloudsources"), "sandbox", "serve", "--host", "127.0.0.1",
               "--port", "0", "--seed", str(seed), "--scale", str(scale)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("sandbox listening on "):
            return process, line.split("sandbox listening on ", 1)[1].strip()
        if not line and process.poll() is not None:
            break
    process.kill()
    raise SystemExit("demo: the sandbox did not start")


def fetch_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def run_sync(workdir: Path, url: str, warehouse: Path) -> tuple[int, dict | None]:
    """Run the pipe; returns the number of STATE lines and the last committed state."""
    tap_config = workdir / "tap.json"
    target_config = workdir / "target.json"
    state_file = workdir / "state.json"
    tap_config.write_text(json.dumps({"source": "stripe", "api_key": SANDBOX_KEY,
                                      "api_base_url": url,
                                      "start_date": "2024-01-01T00:00:00Z"}, indent=2))
    target_config.write_text(json.dumps({"backend": "duckdb", "path": str(warehouse)}, indent=2))
    tap_cmd = [str(BIN / "tap-cloudsources"), "--config", str(tap_config)]
    # the saved STATE is only good for the warehouse it was committed to
    owner = workdir / "state.warehouse"
    ours = state_file.exists() and warehouse.exists() and owner.exists() \
        and owner.read_text() == str(warehouse)
    if ours:
        tap_cmd += ["--state", str(state_file)]
        print(f"demo: incremental run from {state_file}")
    elif state_file.exists():
        print(f"demo: the saved state is not {warehouse}'s: full sync")
    else:
        print("demo: first run (no saved state): full sync")
    with open(workdir / "tap.log", "w") as tap_log, open(workdir / "target.log", "w") as tgt_log:
        tap = subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, stderr=tap_log)
        target = subprocess.Popen(
            [str(BIN / "target-warehouse"), "--config", str(target_config)],
            stdin=tap.stdout, stdout=subprocess.PIPE, stderr=tgt_log,
        )
        assert tap.stdout is not None
        tap.stdout.close()
        out, _ = target.communicate()
        tap.wait()
    states = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    for name, code in (("tap-cloudsources", tap.returncode), ("target-warehouse",
                                                               target.returncode)):
        if code != 0:
            log = workdir / ("tap.log" if name == "tap-cloudsources" else "target.log")
            tail = log.read_text().strip().splitlines()[-5:]
            raise SystemExit(f"demo: {name} failed (exit {code}):\n  " + "\n  ".join(tail))
    if states:
        state_file.write_text(json.dumps(states[-1], indent=2))
        owner.write_text(str(warehouse))
    return len(states), states[-1] if states else None


def collections() -> list[str]:
    """Every Stripe table the tap writes, in the tap's order."""
    from tap_cloudsources.sources.stripe.streams import CHILDREN, COLLECTIONS

    return [*(c.name for c in COLLECTIONS), *(c.name for c in CHILDREN), "events"]


def fetch_truth(url: str, collection: str) -> set[str] | None:
    """The ids the sandbox holds, or None for a collection derived by the tap (SKUs from
    prices, fee details from balance transactions), which the sandbox keeps no list of."""
    try:
        data = fetch_json(f"{url}/_sandbox/truth/stripe/{collection}")["data"]
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    return {o["id"] for o in data}


def stripe_schema(con: Any) -> str:
    """The stripe schema, with its catalog: a file named stripe.duckdb makes a bare
    "stripe" ambiguous to DuckDB."""
    catalog = con.execute("SELECT current_database()").fetchone()[0]
    return '"' + catalog.replace('"', '""') + '".stripe'


def last_run_calls(con: Any) -> dict[str, int]:
    """API calls per collection in the newest run, from the run history table."""
    row = con.execute(f'SELECT collections FROM {stripe_schema(con)}."_sync_runs" '
                      "ORDER BY ended_at DESC LIMIT 1").fetchone()
    if row is None:
        return {}
    runs = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    return {c["collection"]: c["api_calls"] for c in runs}


def summarize(warehouse: Path, truth: dict[str, set[str] | None]) -> bool:
    import duckdb

    print(f"\n{'table':<40}{'live rows':>10}{'in sandbox':>12}{'API calls':>11}  match")
    all_match = True
    with duckdb.connect(str(warehouse), read_only=True) as con:
        calls = last_run_calls(con)
        for collection, expected in truth.items():
            columns = {row[0] for row in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'stripe' AND table_name = ?", [collection]).fetchall()}
            if not columns:
                print(f"{'stripe.' + collection:<40}{'-':>10}{'':>12}{'':>11}  (no rows yet)")
                all_match &= not expected
                continue
            live = " WHERE NOT coalesce(is_deleted, false)" if "is_deleted" in columns else ""
            query = f'SELECT id FROM {stripe_schema(con)}."{collection}"{live}'
            ids = {row[0] for row in con.execute(query).fetchall()}
            match = "derived" if expected is None else "yes" if ids == expected else "NO"
            all_match &= match != "NO"
            print(f"{'stripe.' + collection:<40}{len(ids):>10}"
                  f"{'-' if expected is None else len(expected):>12}"
                  f"{calls.get(collection, 0):>11}  {match}")
        print(f"{'total API calls this run':<62}{sum(calls.values()):>11}")
    return all_match


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="cloudsources demo", description=__doc__)
    parser.add_argument("--warehouse", default="warehouse.duckdb", type=Path)
    parser.add_argument("--workdir", default=".demo", type=Path,
                        help="configs, logs and the saved STATE")
    parser.add_argument("--seed", default=1, type=int)
    parser.add_argument("--scale", default=1.0, type=float)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)

    sandbox, url = start_sandbox(args.seed, args.scale)
    print(f"demo: sandbox (seed {args.seed}) at {url}")
    try:
        started = time.monotonic()
        _, state = run_sync(args.workdir, url, args.warehouse.resolve())
        elapsed = time.monotonic() - started
        truth = {c: fetch_truth(url, c) for c in collections()}
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    print(f"demo: synced in {elapsed:.1f}s; state saved to {args.workdir / 'state.json'}")
    ok = summarize(args.warehouse, truth)
    print(f"\nwarehouse: {args.warehouse} — "
          + ("matches the sandbox." if ok else "DOES NOT match the sandbox."))
    print("explore it: .venv/bin/python -c \"import duckdb; print(duckdb.connect("
          f"'{args.warehouse}').sql('select status, count(*) from stripe.charges group by 1'))\"")
    return 0 if ok and state else 1


if __name__ == "__main__":
    sys.exit(main())

"""`make bench`, tap line: tap-cloudsources against a zero-latency sandbox.

One invocation starts `cloudsources sandbox serve` (its own process, no injected latency or
rate limit) with a world of N charges (`--count charges=N`; every other collection keeps its
scale-1 size, so the sandbox's memory and start-up are those of the charges), then runs:
  tap-cloudsources with only `charges` selected (a first sync, no STATE), and
  tap-cloudsources with the whole default catalog at the default scale (scale 1), second line.
The tap's client-side request budget is raised to MAX_RPS requests/s in its config, so the
default 25 req/s for test keys does not set the pace: the figures measure the tap (and the
sandbox answering), not a sleep.

The charges-only run is repeated (--rounds, default 3) against the same sandbox, as this
VM's speed drifts by tens of percent from one minute to the next: the median run is
reported, with the range of the rounds' records/s.

Each tap run is a child process: wall time (from spawn to exit, so start-up is included),
records/s (RECORD lines counted on its stdout), peak RSS and CPU time of that child (wait4),
the sandbox's CPU time during the run, and the API requests the sandbox counted
(`GET /_sandbox/stats`, `by_path`) against the fewest that can read the same data: one
`/v1/charges` page per 100 charges, plus the single `/v1/events?limit=1` a first sync makes
to mark where the event feed starts (events deselected; see StripeEventFeed._take_cursor).

    python benchmarks/bench_tap.py --records 100000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

MAIN_BIN = Path(sys.executable).parent
PAGE_SIZE = 100  # Stripe's maximum `limit`, which the tap always asks for
MAX_RPS = 100_000  # tap config max_requests_per_second: the budget must not be the bottleneck
GOAL_RPS = 20_000
API_KEY = "sk_test_bench_12345678"
STREAM_RE = re.compile(rb'^\{"type":"RECORD","stream":"([^"]+)"')


@dataclass
class TapRun:
    name: str
    seconds: float
    first_record_s: float | None
    peak_rss_mb: float
    cpu_s: float
    sandbox_cpu_s: float | None
    records: dict[str, int]
    by_path: dict[str, int]
    minimum: int
    expected: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    round_rates: list[float] = field(default_factory=list)  # records/s of every round

    @property
    def total_records(self) -> int:
        return sum(self.records.values())

    @property
    def requests(self) -> int:
        return sum(self.by_path.values())


class Sandbox:
    """`cloudsources sandbox serve --port 0` as a child process."""

    def __init__(self, scale: float, seed: int = 1, charges: int | None = None) -> None:
        start = time.perf_counter()
        cmd = [str(MAIN_BIN / "cloudsources"), "sandbox", "serve", "--port", "0",
               "--seed", str(seed), "--scale", repr(scale),
               *(["--count", f"charges={charges}"] if charges else [])]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks while the world is generated
        if not line.startswith("sandbox listening on "):
            self.proc.kill()
            raise SystemExit(f"sandbox did not start (scale {scale}): {line!r}")
        self.url = line.split()[-1]
        self.startup_s = time.perf_counter() - start
        self.peak_rss_mb = _proc_rss_mb(self.proc.pid)

    def get(self, route: str) -> dict:
        with urllib.request.urlopen(f"{self.url}/_sandbox/{route}", timeout=600) as resp:
            return json.load(resp)

    def post(self, route: str, body: dict | None = None) -> dict:
        data = json.dumps(body or {}).encode()
        req = urllib.request.Request(f"{self.url}/_sandbox/{route}", data=data, method="POST")
        with urllib.request.urlopen(req, timeout=600) as resp:
            return json.load(resp)

    def cpu_seconds(self) -> float | None:
        return _proc_cpu_s(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _proc_cpu_s(pid: int) -> float | None:
    """user + system CPU seconds of a running process (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):  # peak resident set
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def write_config(work: Path, sandbox: Sandbox) -> Path:
    config = {
        "source": "stripe",
        "api_key": API_KEY,
        "api_base_url": sandbox.url,
        "max_requests_per_second": MAX_RPS,
        "progress_seconds": 3600,  # the run's summary table is enough
    }
    path = work / "tap-config.json"
    path.write_text(json.dumps(config))
    return path


def write_catalog(work: Path, config: Path, only: set[str] | None) -> Path:
    """`--discover`, then select only the streams in `only` (None: keep the default catalog)."""
    out = subprocess.run([str(MAIN_BIN / "tap-cloudsources"), "--config", str(config),
                          "--discover"], check=True, capture_output=True)
    catalog = json.loads(out.stdout)
    if only is not None:
        for stream in catalog["streams"]:
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["selected"] = stream["tap_stream_id"] in only
    name = "all" if only is None else "-".join(sorted(only))
    path = work / f"catalog-{name}.json"
    path.write_text(json.dumps(catalog))
    return path


def run_tap(name: str, sandbox: Sandbox, config: Path, catalog: Path, work: Path) -> TapRun:
    """One tap run to completion; RECORD lines counted per stream as they arrive."""
    faults = sandbox.get("faults")
    if faults["latency_ms"] or faults["rate_limit"] or faults["rules"]:
        raise SystemExit(f"the sandbox is not zero-latency / fault-free: {faults}")
    sandbox.post("stats/reset")
    sandbox_cpu0 = sandbox.cpu_seconds()
    err_path = work / (re.sub(r"[^a-z0-9]+", "-", name.lower()) + ".stderr")
    records: dict[str, int] = {}
    first: float | None = None
    cmd = [str(MAIN_BIN / "tap-cloudsources"), "--config", str(config), "--catalog", str(catalog)]
    with err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, bufsize=1 << 20)
        assert proc.stdout is not None
        for line in proc.stdout:
            match = STREAM_RE.match(line)
            if match:
                if first is None:
                    first = time.perf_counter() - start
                stream = match.group(1).decode()
                records[stream] = records.get(stream, 0) + 1
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    sandbox_cpu1 = sandbox.cpu_seconds()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = err_path.read_text(errors="replace")[-3000:]
        raise SystemExit(f"tap-cloudsources ({name}) failed ({code}):\n{tail}")
    stats = sandbox.get("stats")
    if stats["faults"]:
        raise SystemExit(f"the sandbox injected faults during {name}: {stats['faults']}")
    sandbox_cpu = (None if sandbox_cpu0 is None or sandbox_cpu1 is None
                   else sandbox_cpu1 - sandbox_cpu0)
    return TapRun(name, seconds, first, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime,
                  sandbox_cpu, records, dict(stats["by_path"]), minimum=0)


def pages(n: int) -> int:
    """List requests needed for n objects: an empty list still costs one."""
    return max(1, math.ceil(n / PAGE_SIZE))


def bench_charges(n: int, work: Path, rounds: int) -> tuple[TapRun, Sandbox]:
    print(f"Starting the sandbox with {n:,} charges...", flush=True)
    sandbox = Sandbox(1.0, charges=n)
    try:
        rss = f", peak RSS {sandbox.peak_rss_mb:,.0f} MB" if sandbox.peak_rss_mb else ""
        print(f"  sandbox ready in {sandbox.startup_s:.1f}s{rss}", flush=True)
        config = write_config(work, sandbox)
        catalog = write_catalog(work, config, {"charges"})
        done: list[TapRun] = []
        for number in range(1, rounds + 1):  # each a first sync: no STATE is passed on
            print(f"  round {number}/{rounds}: tap-cloudsources (charges only)...", flush=True)
            done.append(run_tap(f"tap charges only, {n:,}", sandbox, config, catalog, work))
    finally:
        sandbox.stop()
    done.sort(key=lambda r: r.seconds)
    run = done[len(done) // 2]  # the median run (by wall time)
    run.round_rates = [r.total_records / r.seconds for r in done if r.seconds]
    run.expected = {"charges": n}
    run.minimum = pages(run.expected["charges"]) + 1  # + /v1/events?limit=1 (feed cursor)
    return run, sandbox


def list_paths() -> dict[str, str]:
    """List path -> collection name of the tap's top-level Stripe collections (read from the
    tap, so a new collection is counted too), plus the event feed; a full first sync needs
    ceil(count/100) pages of each."""
    from tap_cloudsources.sources.stripe.streams import COLLECTIONS

    return {**{c.path: c.name for c in COLLECTIONS}, "/v1/events": "events"}


def truth_count(sandbox: Sandbox, name: str) -> int | None:
    try:
        return int(sandbox.get(f"truth/stripe/{name}")["count"])
    except urllib.error.HTTPError:
        return None  # the sandbox has no such collection (yet)


def bench_all_streams(work: Path) -> TapRun:
    print("Starting the sandbox at scale 1 (default catalog)...", flush=True)
    sandbox = Sandbox(1.0)
    try:
        config = write_config(work, sandbox)
        catalog = write_catalog(work, config, None)
        print("  running tap-cloudsources (default catalog)...", flush=True)
        run = run_tap("tap default catalog, scale 1", sandbox, config, catalog, work)
        paths = list_paths()
        counts = {path: truth_count(sandbox, name) for path, name in paths.items()}
        customers = counts["/v1/customers"] or 0
    finally:
        sandbox.stop()
    # Lower bound: every list read once at 100 per page, plus payment methods, which Stripe
    # lists only per customer (one request per customer). Child rows embedded in their
    # parent (invoice lines, items, fee refunds, reversals, sources, discounts) cost nothing
    # unless a parent holds more than its first embedded page.
    unknown = sorted(p for p, c in counts.items() if c is None)
    list_minimum = sum(pages(c or 0) for c in counts.values())
    run.minimum = list_minimum + customers
    listed = sum(run.by_path.get(p, 0) for p in paths)
    per_customer = sum(v for p, v in run.by_path.items()
                       if p.startswith("/v1/customers/") and p.endswith("/payment_methods"))
    others = {p: v for p, v in run.by_path.items() if p not in paths
              and not (p.startswith("/v1/customers/") and p.endswith("/payment_methods"))}
    run.notes.append(
        f"requests: {listed:,} list pages (minimum {list_minimum:,})"
        f" + {per_customer:,} per-customer payment_methods lists ({customers:,} customers)"
        f" + {sum(others.values()):,} other (child pages, retrieves)"
        + (": " + ", ".join(f"{p} {v:,}" for p, v in sorted(others.items())) if others else ""))
    if unknown:
        run.notes.append(f"not in the sandbox (counted as one page each): {', '.join(unknown)}")
    run.notes.append("records include the run's one _sync_runs record")
    return run


def report(runs: list[TapRun], sandbox: Sandbox | None, n: int) -> None:
    print(f"\ntap-cloudsources against a zero-latency sandbox (no latency, no rate limit); "
          f"max_requests_per_second={MAX_RPS:,} in the tap config, so the client-side budget "
          f"(default 25 req/s for test keys) does not set the pace")
    print(f"{'run':<34}{'wall s':>8}{'records/s':>11}{'peak RSS MB':>13}{'records':>10}"
          f"{'requests':>10}{'minimum':>9}{'tap CPU s':>11}{'sandbox CPU s':>15}")
    for r in runs:
        rate = r.total_records / r.seconds if r.seconds else 0
        sb = f"{r.sandbox_cpu_s:.2f}" if r.sandbox_cpu_s is not None else "n/a"
        print(f"{r.name:<34}{r.seconds:>8.2f}{rate:>11,.0f}{r.peak_rss_mb:>13.0f}"
              f"{r.total_records:>10,}{r.requests:>10,}{r.minimum:>9,}{r.cpu_s:>11.2f}{sb:>15}")
    print()
    charges = runs[0]
    paths = ", ".join(f"{p} {c:,}" for p, c in sorted(charges.by_path.items()))
    print(f"  {charges.name}: requests by path: {paths}")
    print(f"    minimum = ceil({charges.expected['charges']:,}/{PAGE_SIZE}) /v1/charges pages "
          f"+ 1 /v1/events?limit=1 (the first sync's event-feed cursor)")
    if sandbox is not None:
        rss = f", sandbox peak RSS {sandbox.peak_rss_mb:,.0f} MB" if sandbox.peak_rss_mb else ""
        print(f"    sandbox start-up (world generation) {sandbox.startup_s:.1f}s{rss}")
    for i, r in enumerate(runs):
        if i:
            print(f"  {r.name}:")
            for note in r.notes:
                print(f"    {note}")
        if r.first_record_s is not None:
            after = r.total_records / max(1e-9, r.seconds - r.first_record_s)
            print(f"    first RECORD after {r.first_record_s:.2f}s (start-up); from there "
                  f"{after:,.0f} records/s")
    rate = charges.total_records / charges.seconds if charges.seconds else 0
    met = "met" if rate >= GOAL_RPS else "NOT met"
    spread = ""
    if len(charges.round_rates) > 1:
        spread = (f"  (median of {len(charges.round_rates)} rounds:"
                  f" {min(charges.round_rates):,.0f}-{max(charges.round_rates):,.0f}/s)")
    print(f"\n  tap records/s at {n:,} charges {rate:>10,.0f}  [>= {GOAL_RPS:,}/s] {met}{spread}")
    print(f"  tap requests {charges.requests:,} vs minimum {charges.minimum:,}  "
          f"{'met' if charges.requests <= charges.minimum else 'NOT met'}")
    wrong = {k: v for k, v in charges.expected.items() if charges.records.get(k, 0) != v}
    extra = set(charges.records) - set(charges.expected)
    if wrong or extra:
        print(f"\nWRONG RECORD COUNT: got {charges.records}, expected {charges.expected}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="charges in the sandbox")
    parser.add_argument("--skip-all-streams", action="store_true",
                        help="no second run with the default catalog at scale 1")
    parser.add_argument("--rounds", type=int, default=3,
                        help="charges-only runs; the median is reported (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cloudsources-bench-tap-") as tmp:
        work = Path(tmp)
        charges, sandbox = bench_charges(args.records, work, max(1, args.rounds))
        runs = [charges]
        if not args.skip_all_streams:
            runs.append(bench_all_streams(work))
        report(runs, sandbox, args.records)


if __name__ == "__main__":
    main()

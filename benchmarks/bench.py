"""`make bench`: target-warehouse against MeltanoLabs target-postgres and raw baselines.

One invocation generates N Stripe-charge-like records (STATE every 10k), starts its own
PostgreSQL (pgserver), and loads the same input with:
  target-warehouse on PostgreSQL and on DuckDB (default settings, validation on),
  target-postgres with its defaults and with use_copy (in benchmarks/.venv-peer, created
  on first use: it pins other singer-sdk/SQLAlchemy versions than ours),
  psql \\copy of the same rows as CSV, and DuckDB read_json of the same records.
Each run is a child process: wall time, CPU time and peak RSS (getrusage of that child),
and the row count read back afterwards. Ratios and the issue's goals are printed last.

This VM's speed drifts by tens of percent from one minute to the next, so the runs of
target-warehouse and of the raw baselines are repeated in rounds (--rounds, default 3),
each round running every one of them back to back: a ratio is taken within each round,
and the median over the rounds is reported with its range. target-postgres (a minute or
more per run) runs once per configuration, each run right after a run of target-warehouse on
PostgreSQL, and its ratio is taken against that run.

    python benchmarks/bench.py --records 100000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generate import COLUMNS, NESTED, SCHEMA, STREAM, write_baselines, write_singer  # noqa: E402

MAIN_BIN = Path(sys.executable).parent
PEER_VENV = HERE / ".venv-peer"
PEER_PACKAGE = "meltanolabs-target-postgres"


@dataclass
class Result:
    name: str
    seconds: float
    peak_rss_mb: float
    cpu_seconds: float
    rows: int
    note: str = ""


@dataclass
class Runs:
    """Every round's result of one run."""

    results: list[Result]

    @property
    def name(self) -> str:
        return self.results[0].name

    @property
    def seconds(self) -> float:
        return statistics.median(r.seconds for r in self.results)

    @property
    def cpu_seconds(self) -> float:
        return statistics.median(r.cpu_seconds for r in self.results)

    @property
    def peak_rss_mb(self) -> float:
        return max(r.peak_rss_mb for r in self.results)

    @property
    def rows(self) -> int:
        return min(r.rows for r in self.results)


def run_child(
    cmd: list[str], stdin: Path | None, env: dict | None = None
) -> tuple[float, float, float]:
    """Run one process to completion: wall seconds, peak RSS MB and CPU seconds (user +
    system) of that process."""
    start = time.perf_counter()
    with stdin.open("rb") if stdin else open(os.devnull, "rb") as src:
        proc = subprocess.Popen(
            cmd, stdin=src, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
        )
        assert proc.stderr is not None
        err = proc.stderr.read()  # drained while it runs: a full pipe would block the child
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = err.decode(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{tail}")
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # maxrss: KiB


def ensure_peer() -> Path:
    """target-postgres in its own venv (created on first use)."""
    exe = PEER_VENV / "bin" / "target-postgres"
    if not exe.exists():
        print(f"Creating {PEER_VENV} with {PEER_PACKAGE} (first run only)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        pip = [str(PEER_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, PEER_PACKAGE], check=True)
    return exe


class Postgres:
    """A throwaway PostgreSQL from pgserver; one fresh database per run."""

    def __init__(self, workdir: Path) -> None:
        import pgserver

        self.server = pgserver.get_server(str(workdir / "pg"), cleanup_mode="delete")
        self.uri = self.server.get_uri()
        from psycopg.conninfo import conninfo_to_dict

        self.params = conninfo_to_dict(self.uri)
        self._n = 0

    def fresh_db(self) -> str:
        import psycopg

        self._n += 1
        name = f"bench{self._n}"
        with psycopg.connect(self.uri, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        return name

    def count(self, db: str, schema: str, table: str) -> int:
        import psycopg

        with psycopg.connect(**{**self.params, "dbname": db}) as con:
            row = con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()
            return int(row[0]) if row else 0

    def close(self) -> None:
        self.server.cleanup()


def duckdb_count(path: Path, table: str) -> int:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        return int(row[0]) if row else 0


def write_config(workdir: Path, name: str, config: dict) -> Path:
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(config))
    return path


def bench_warehouse_pg(pg: Postgres, work: Path, singer: Path) -> Result:
    db = pg.fresh_db()
    p = pg.params
    config = {"backend": "postgres", "host": p["host"], "user": p["user"], "database": db}
    if p.get("port"):
        config["port"] = int(p["port"])
    cfg = write_config(work, "tw-pg", config)
    measured = run_child([str(MAIN_BIN / "target-warehouse"), "--config", str(cfg)], singer)
    return Result("target-warehouse → PostgreSQL", *measured, pg.count(db, "public", STREAM))


def fresh_duckdb(path: Path) -> Path:
    """No database file left by an earlier round."""
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    return path


def bench_warehouse_duckdb(work: Path, singer: Path) -> Result:
    path = fresh_duckdb(work / "tw.duckdb")
    cfg = write_config(work, "tw-duck", {"backend": "duckdb", "path": str(path)})
    measured = run_child([str(MAIN_BIN / "target-warehouse"), "--config", str(cfg)], singer)
    return Result("target-warehouse → DuckDB", *measured, duckdb_count(path, STREAM))


def bench_peer(pg: Postgres, work: Path, singer: Path, use_copy: bool) -> Result:
    exe = ensure_peer()
    db = pg.fresh_db()
    p = pg.params
    url = f"postgresql+psycopg://{p['user']}@/{db}?host={p['host']}"
    if p.get("port"):
        url += f"&port={p['port']}"
    config: dict = {"sqlalchemy_url": url, "default_target_schema": "public"}
    if use_copy:
        config["use_copy"] = True
    cfg = write_config(work, f"peer-{use_copy}", config)
    measured = run_child([str(exe), "--config", str(cfg)], singer)
    name = "target-postgres use_copy" if use_copy else "target-postgres defaults"
    return Result(name, *measured, pg.count(db, "public", STREAM))


_PG_TYPES = {"integer": "bigint", "boolean": "boolean", "object": "jsonb"}


def _pg_column_type(name: str) -> str:
    prop = SCHEMA["properties"][name]
    types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    kind = next(t for t in types if t != "null")
    if prop.get("format") == "date-time":
        return "timestamptz"
    return _PG_TYPES.get(kind, "text")


def bench_psql_copy(pg: Postgres, work: Path, csv_path: Path) -> Result:
    db = pg.fresh_db()
    cols = ", ".join(f'"{c}" {_pg_column_type(c)}' for c in COLUMNS)
    ddl = f"CREATE TABLE public.raw_copy ({cols}, PRIMARY KEY (id));"
    psql = shutil.which("psql")
    p = pg.params
    if psql:
        script = work / "copy.sql"
        script.write_text(f"{ddl}\n\\copy public.raw_copy FROM '{csv_path}' WITH (FORMAT csv)\n")
        cmd = [psql, "-q", "-v", "ON_ERROR_STOP=1", "-h", p["host"], "-U", p["user"], "-d", db]
        if p.get("port"):
            cmd += ["-p", str(p["port"])]
        measured = run_child([*cmd, "-f", str(script)], None)
        how = "psql \\copy"
    else:  # same CSV through psycopg's COPY FROM STDIN
        code = (
            "import psycopg,sys\n"
            f"con=psycopg.connect({dict(p, dbname=db)!r})\n"
            f"con.execute({ddl!r})\n"
            "cur=con.cursor()\n"
            "with cur.copy('COPY public.raw_copy FROM STDIN WITH (FORMAT csv)') as cp:\n"
            f"    f=open({str(csv_path)!r},'rb')\n"
            "    [cp.write(b) for b in iter(lambda: f.read(1<<20), b'')]\n"
            "con.commit()\n"
        )
        measured = run_child([sys.executable, "-c", code], None)
        how = "psycopg COPY FROM STDIN (psql not found)"
    return Result(f"raw {how}", *measured, pg.count(db, "public", "raw_copy"), how)


def bench_read_json(work: Path, ndjson: Path) -> Result:
    path = fresh_duckdb(work / "raw.duckdb")
    code = (
        "import duckdb\n"
        f"con=duckdb.connect({str(path)!r})\n"
        f"con.execute(\"CREATE TABLE raw AS SELECT * FROM read_json('{ndjson}',"
        " format='newline_delimited')\")\n"
        "con.close()\n"
    )
    measured = run_child([sys.executable, "-c", code], None)
    return Result("raw DuckDB read_json", *measured, duckdb_count(path, "raw"))


def report(results: dict[str, Runs], n: int, rounds: int) -> None:
    print(f"\n{n:,} Stripe-charge-like records ({len(COLUMNS)} columns, {len(NESTED)} nested)")
    print(f"{'run':<40}{'runs':>5}{'wall s':>9}{'cpu s':>8}{'records/s':>11}"
          f"{'peak RSS MB':>13}{'rows':>10}")
    for r in results.values():
        rate = n / r.seconds if r.seconds else 0
        print(f"{r.name:<40}{len(r.results):>5}{r.seconds:>9.2f}{r.cpu_seconds:>8.2f}"
              f"{rate:>11,.0f}{r.peak_rss_mb:>13.0f}{r.rows:>10,}")
    print("(wall and cpu: the median over the runs; peak RSS: the highest; a paired run is"
          " the one\n a target-postgres run right after it is compared with)")
    print()

    def ratio(slow: str, fast: str, goal: str, ok: float, faster: bool) -> None:
        if slow not in results or fast not in results:
            return
        a, b = results[slow].results, results[fast].results
        if f"{fast}_before_{slow}" in results:  # a peer, against the run just before it
            b = results[f"{fast}_before_{slow}"].results
        per_round = [x.seconds / y.seconds for x, y in zip(a, b, strict=True)]
        x = statistics.median(per_round)
        met = x >= ok if faster else x <= ok
        spread = (
            f"  (rounds {min(per_round):.2f}-{max(per_round):.2f}x)" if len(per_round) > 1 else ""
        )
        print(f"  {goal:<60}{x:>7.2f}x  {'met' if met else 'NOT met'}{spread}")

    print(f"Ratios, median of {rounds} round(s) (goal in brackets):")
    ratio("peer", "tw_pg", "target-postgres defaults / target-warehouse PG   [>= 15x]", 15, True)
    ratio("peer_copy", "tw_pg", "target-postgres use_copy / target-warehouse PG   [>= 4x]", 4, True)
    ratio("tw_pg", "copy", "target-warehouse PG / raw copy                    [<= 2x]", 2, False)
    ratio("tw_duck", "read_json", "target-warehouse DuckDB / read_json               [<= 3x]", 3,
          False)
    tw = [r.peak_rss_mb for k, r in results.items() if k.startswith("tw_")]
    if tw:
        met = "met" if max(tw) <= 200 else "NOT met"
        print(f"  target-warehouse peak RSS {max(tw):.0f} MB  [<= 200 MB at 1M records] {met}")
    bad = [r.name for r in results.values() if r.rows != n]
    if bad:
        print(f"\nWRONG ROW COUNT: {', '.join(bad)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--skip-peer", action="store_true", help="no target-postgres runs")
    parser.add_argument("--only-warehouse", action="store_true", help="target-warehouse only")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of target-warehouse and baseline runs (default 3)")
    args = parser.parse_args()
    n = args.records
    with tempfile.TemporaryDirectory(prefix="cloudsources-bench-") as tmp:
        work = Path(tmp)
        singer, csv_path, ndjson = work / "in.singer", work / "rows.csv", work / "rows.ndjson"
        print(f"Generating {n:,} records...", flush=True)
        write_singer(n, singer)
        write_baselines(singer, csv_path, ndjson)
        os.sync()  # the input is on disk: no writeback competes with the first run
        pg = Postgres(work)
        results: dict[str, Runs] = {}
        try:
            repeated = [
                ("tw_duck", lambda: bench_warehouse_duckdb(work, singer)),
                ("tw_pg", lambda: bench_warehouse_pg(pg, work, singer)),
            ]
            if not args.only_warehouse:
                repeated += [
                    ("read_json", lambda: bench_read_json(work, ndjson)),
                    ("copy", lambda: bench_psql_copy(pg, work, csv_path)),
                ]
            once = []
            if not (args.skip_peer or args.only_warehouse):
                once += [
                    ("peer_copy", lambda: bench_peer(pg, work, singer, use_copy=True)),
                    ("peer", lambda: bench_peer(pg, work, singer, use_copy=False)),
                ]
            rounds = max(1, args.rounds)
            for number in range(1, rounds + 1):
                for key, step in repeated:
                    print(f"  round {number}/{rounds}: {key}...", flush=True)
                    result = step()
                    results.setdefault(key, Runs([])).results.append(result)
            for key, step in once:  # each right after a run of ours, to compare with
                for name, run in ((f"tw_pg_before_{key}", repeated[1][1]), (key, step)):
                    print(f"  {name}...", flush=True)
                    result = run()
                    if name != key:
                        result.name += " (paired)"
                    results[name] = Runs([result])
        finally:
            pg.close()
        report(results, n, rounds)


if __name__ == "__main__":
    main()

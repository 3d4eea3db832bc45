"""The console script (target_warehouse/cli.py) starts without singer_sdk's package
__init__ (the tap side), loads all the same, and leaves the package whole for code that
asks it for more."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
from target_harness import record_msg, schema_msg, state_msg, to_lines

RUN_THE_CONSOLE_SCRIPT = """
import sys
from target_warehouse.cli import main
sys.argv = ["target-warehouse", "--config", sys.argv[1]]
try:
    main()
finally:
    print(sorted(m for m in ("singer_sdk.streams", "requests") if m in sys.modules),
          file=sys.stderr)
"""


def test_the_console_script_loads_without_the_tap_side_of_singer_sdk(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"backend": "duckdb", "path": str(path)}))
    props = {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}}
    messages = [schema_msg("s", props), record_msg("s", {"id": 1, "name": "a"})]
    messages += [record_msg("s", {"id": 2, "name": "b"}), state_msg({"done": True})]
    proc = subprocess.run(
        [sys.executable, "-c", RUN_THE_CONSOLE_SCRIPT, str(config)],
        input=to_lines(messages),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1] == "[]"  # neither was imported
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [{"done": True}]
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT id, name FROM s ORDER BY id").fetchall() == [(1, "a"), (2, "b")]


def test_what_the_package_init_provides_is_still_found() -> None:
    code = (
        "from target_warehouse.cli import _singer_sdk_without_init\n"
        "_singer_sdk_without_init()\n"
        "import sys\n"
        "from singer_sdk import typing as th\n"  # a submodule: no __init__ needed
        "print('streams' in dir(sys.modules['singer_sdk']), 'singer_sdk.streams' in sys.modules)\n"
        "from singer_sdk import Stream, Target\n"  # the package's own names: __init__ runs
        "import singer_sdk\n"
        "print(Target is singer_sdk.target_base.Target, Stream.__module__, th.__name__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "False False",
        "True singer_sdk.streams.core singer_sdk.typing",
    ]


def test_a_slow_tap_on_a_pipe_gets_its_state_while_it_still_writes(tmp_path: Path) -> None:
    """stdin is read a megabyte at a time at most, yet a read returns what the pipe holds:
    a trickle of records still reaches the state_flush_seconds timer."""
    config = tmp_path / "config.json"
    path = tmp_path / "w.duckdb"
    config.write_text(
        json.dumps({"backend": "duckdb", "path": str(path), "state_flush_seconds": 1})
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_THE_CONSOLE_SCRIPT, str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    states: list[str] = []
    threading.Thread(target=lambda: states.extend(proc.stdout), daemon=True).start()  # type: ignore[arg-type]

    def send(message: dict) -> None:
        proc.stdin.write((json.dumps(message) + "\n").encode())  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    send(schema_msg("s", {"id": {"type": "integer"}}))
    send(record_msg("s", {"id": 0}))
    send(state_msg({"at": 0}))
    deadline = time.monotonic() + 30
    sent = 1
    while not states and time.monotonic() < deadline:  # one small line every 0.1 s
        send(record_msg("s", {"id": sent}))
        sent += 1
        time.sleep(0.1)
    before_the_end = list(states)
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    assert [json.loads(line) for line in before_the_end] == [{"at": 0}]
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM s").fetchone() == (sent,)

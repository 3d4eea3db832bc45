"""Bad configuration fails fast with one clear line, no traceback, non-zero exit."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tap_cloudsources.sources.stripe.streams import CHILDREN as STRIPE_CHILDREN
from tap_cloudsources.sources.stripe.streams import COLLECTIONS as STRIPE_COLLECTIONS

TAP = str(Path(sys.executable).parent / "tap-cloudsources")


def run_tap(tmp_path: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run([TAP, "--config", str(path), *args], capture_output=True, text=True,
                          timeout=120)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"source": "stripe"},
         "tap-cloudsources: config error: missing setting 'api_key' "
         "(required for source 'stripe')"),
        ({"source": "zendeks", "api_key": "sk_test_12345678"},
         "tap-cloudsources: config error: unknown source 'zendeks'; available: stripe"),
        ({"api_key": "sk_test_12345678"},
         "tap-cloudsources: config error: 'source' is a required property"),
    ],
)
def test_invalid_config_is_one_line(tmp_path, config, expected):
    result = run_tap(tmp_path, config)
    assert result.returncode == 1
    assert last_line(result.stderr) == expected
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unreachable_api_base_url_is_one_line(tmp_path):
    port = closed_port()
    config = {"source": "stripe", "api_key": "sk_test_secretvalue99",
              "api_base_url": f"http://127.0.0.1:{port}", "max_retries": 1}
    result = run_tap(tmp_path, config)
    assert result.returncode == 1
    assert last_line(result.stderr) == (
        f"tap-cloudsources: cannot reach the stripe API at http://127.0.0.1:{port}: "
        "connection refused"
    )
    assert "Traceback" not in result.stderr
    assert "sk_test_secretvalue99" not in result.stderr + result.stdout


def test_rejected_key_is_access_denied_without_the_key(tmp_path, sandbox):
    config = {"source": "stripe", "api_key": "sk_live_notavalidkey42",
              "api_base_url": sandbox.url}
    result = run_tap(tmp_path, config)
    assert result.returncode == 2
    line = last_line(result.stderr)
    assert line.startswith("tap-cloudsources: access denied: stripe: Invalid API Key provided")
    assert "notavalidkey42" not in result.stderr
    assert "Traceback" not in result.stderr


def test_about_and_discover_need_no_network(tmp_path):
    about = subprocess.run([TAP, "--about", "--format", "json"], capture_output=True, text=True,
                           timeout=60)
    assert about.returncode == 0
    settings = json.loads(about.stdout)["settings"]["properties"]
    assert {"source", "api_key", "api_base_url", "start_date"} <= set(settings)
    discover = run_tap(tmp_path, {"source": "stripe", "api_key": "sk_test_12345678"},
                       "--discover")
    assert discover.returncode == 0
    catalog = json.loads(discover.stdout)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    runs = streams.pop("_sync_runs")
    assert runs["key_properties"] == ["run_id"]
    assert sorted(streams) == sorted([*(c.name for c in STRIPE_COLLECTIONS),
                                      *(c.name for c in STRIPE_CHILDREN), "events"])
    assert all(s["key_properties"] == ["id"] for s in streams.values())
    # A child collection (invoice lines, cards…) has no bookmark of its own: its parent's.
    assert {name: s.get("replication_key") for name, s in streams.items()} == {
        **{c.name: c.replication_key for c in STRIPE_COLLECTIONS}, "events": "created",
        **{c.name: None for c in STRIPE_CHILDREN}}


def test_an_unreachable_proxy_is_named_without_its_password(tmp_path, monkeypatch):
    port = closed_port()
    monkeypatch.setenv("HTTP_PROXY", f"http://bob:s3cretpw@127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    config = {"source": "stripe", "api_key": "sk_test_secretvalue99",
              "api_base_url": "http://api.example.test", "max_retries": 1}
    result = run_tap(tmp_path, config)
    assert result.returncode == 1
    assert last_line(result.stderr) == (
        "tap-cloudsources: cannot reach the stripe API at http://api.example.test through the "
        f"proxy http://127.0.0.1:{port}: connection refused")
    assert "s3cretpw" not in result.stderr


def test_a_target_that_stops_reading_ends_the_run_with_one_clear_line(tmp_path, sandbox):
    """The reader of stdout exits (a target that failed): the tap stops, says why in its
    last line, and does not blame a collection."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"source": "stripe", "api_key": "sk_test_12345678",
                                "api_base_url": sandbox.url}))
    tap = subprocess.Popen([TAP, "--config", str(path)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    assert tap.stdout is not None and tap.stderr is not None
    assert tap.stdout.readline().startswith('{"type":"SCHEMA"')
    tap.stdout.close()  # the target is gone
    stderr = tap.stderr.read()
    assert tap.wait(timeout=120) == 1
    assert last_line(stderr) == (
        "tap-cloudsources: stdout was closed: the target stopped reading (did it exit? see its "
        "error); stopped")
    assert "Traceback" not in stderr

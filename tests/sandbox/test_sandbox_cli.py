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

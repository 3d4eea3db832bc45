"""Helpers for running the tap alone against a (faulty) sandbox, and its admin API."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

TAP = str(Path(sys.executable).parent / "tap-cloudsources")
# Child collections the sandbox keeps no truth of: the tap derives them from their parents
# (fee details from balance transactions, SKUs from one-time prices).
DERIVED_CHILDREN = ("balance_transaction_fee_details", "skus")
KEY = "sk_test_engine_secret_0042"


@dataclass
class TapRun:
    returncode: int
    messages: list[dict]
    stderr: str

    def of_type(self, kind: str) -> list[dict]:
        return [m for m in self.messages if m["type"] == kind]

    @property
    def run_record(self) -> dict:
        (record,) = [m["record"] for m in self.of_type("RECORD") if m["stream"] == "_sync_runs"]
        return record

    @property
    def last_line(self) -> str:
        return self.stderr.strip().splitlines()[-1]


class Admin:
    """The sandbox's admin API."""

    def __init__(self, url: str) -> None:
        self.url = url

    def post(self, path: str, body: dict | None = None) -> dict:
        response = requests.post(f"{self.url}{path}", json=body or {}, timeout=10)
        response.raise_for_status()
        return response.json()

    def get(self, path: str) -> dict | list:
        response = requests.get(f"{self.url}{path}", timeout=10)
        response.raise_for_status()
        return response.json()

    def fault(self, **rule) -> dict:
        return self.post("/_sandbox/faults", rule)

    def truth(self, collection: str) -> list[dict]:
        return self.get(f"/_sandbox/truth/stripe/{collection}")["data"]


def tap_config(url: str, **overrides) -> dict:
    return {"source": "stripe", "api_key": KEY, "api_base_url": url,
            "start_date": "2024-01-01T00:00:00Z", **overrides}


def run_tap(tmp_path: Path, config: dict, *args: str, timeout: float = 180) -> TapRun:
    path = tmp_path / "tap-config.json"
    path.write_text(json.dumps(config))
    result = subprocess.run([TAP, "--config", str(path), *args], capture_output=True, text=True,
                            timeout=timeout)
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return TapRun(result.returncode, messages, result.stderr)

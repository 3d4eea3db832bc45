"""Stripe-charge-like Singer input for the benchmark: 18 properties, 3 nested objects."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

STREAM = "charges"
STATE_EVERY = 10_000

_STR = {"type": ["null", "string"]}
_INT = {"type": ["null", "integer"]}
_BOOL = {"type": ["null", "boolean"]}
_TS = {"type": ["null", "string"], "format": "date-time"}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "object": _STR,
        "amount": _INT,
        "amount_captured": _INT,
        "amount_refunded": _INT,
        "captured": _BOOL,
        "created": _TS,
        "currency": _STR,
        "customer": _STR,
        "description": _STR,
        "paid": _BOOL,
        "refunded": _BOOL,
        "status": _STR,
        "livemode": _BOOL,
        "receipt_email": _STR,
        "metadata": {"type": ["null", "object"], "additionalProperties": True},
        "billing_details": {
            "type": ["null", "object"],
            "properties": {
                "name": _STR,
                "email": _STR,
                "address": {
                    "type": ["null", "object"],
                    "properties": {k: _STR for k in ("city", "country", "line1", "postal_code")},
                },
            },
        },
        "payment_method_details": {
            "type": ["null", "object"],
            "properties": {
                "type": _STR,
                "card": {
                    "type": ["null", "object"],
                    "properties": {
                        "brand": _STR,
                        "last4": _STR,
                        "exp_month": _INT,
                        "exp_year": _INT,
                    },
                },
            },
        },
    },
}
# Flat column list for the raw baselines (nested objects as JSON text).
COLUMNS = list(SCHEMA["properties"])
NESTED = {"metadata", "billing_details", "payment_method_details"}


def charge(i: int, rng: random.Random) -> dict[str, Any]:
    created = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=i * 37)
    amount = rng.randint(100, 500_000)
    refunded = rng.random() < 0.05
    return {
        "id": f"ch_{i:012d}",
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount if refunded else 0,
        "captured": True,
        "created": created.isoformat().replace("+00:00", "Z"),
        "currency": rng.choice(["usd", "eur", "gbp"]),
        "customer": f"cus_{rng.randint(1, 50_000):08d}",
        "description": f'Invoice {i} — line\twith "quotes" and ünïcode',
        "paid": True,
        "refunded": refunded,
        "status": "succeeded",
        "livemode": False,
        "receipt_email": f"user{i % 9973}@example.com",
        "metadata": {"order_id": str(i), "plan": rng.choice(["basic", "pro"])},
        "billing_details": {
            "name": f"Customer {i}",
            "email": f"user{i % 9973}@example.com",
            "address": {
                "city": "Paris",
                "country": "FR",
                "line1": "1 rue X",
                "postal_code": "75001",
            },
        },
        "payment_method_details": {
            "type": "card",
            "card": {
                "brand": "visa",
                "last4": f"{i % 10_000:04d}",
                "exp_month": 12,
                "exp_year": 2030,
            },
        },
    }


def write_singer(n: int, path: Path, seed: int = 7) -> None:
    """SCHEMA, n RECORDs, a STATE every STATE_EVERY records and at the end."""
    rng = random.Random(seed)
    extracted = "2024-06-01T00:00:00+00:00"
    with path.open("w", encoding="utf-8") as out:
        schema = {"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA, "key_properties": ["id"]}
        out.write(json.dumps(schema) + "\n")
        for i in range(n):
            record = {
                "type": "RECORD",
                "stream": STREAM,
                "record": charge(i, rng),
                "time_extracted": extracted,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            if (i + 1) % STATE_EVERY == 0 or i + 1 == n:
                state = {"bookmarks": {STREAM: {"created": i}}}
                out.write(json.dumps({"type": "STATE", "value": state}) + "\n")


def write_baselines(singer_path: Path, csv_path: Path, ndjson_path: Path) -> None:
    """The same rows as CSV (for psql \\copy) and as bare records (for DuckDB read_json)."""
    import csv

    with (
        singer_path.open(encoding="utf-8") as src,
        csv_path.open("w", encoding="utf-8", newline="") as csv_out,
        ndjson_path.open("w", encoding="utf-8") as nd_out,
    ):
        writer = csv.writer(csv_out)
        for line in src:
            message = json.loads(line)
            if message.get("type") != "RECORD":
                continue
            rec = message["record"]
            nd_out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            writer.writerow(
                [
                    (json.dumps(rec[c], ensure_ascii=False) if c in NESTED else rec[c])
                    if rec.get(c) is not None
                    else None
                    for c in COLUMNS
                ]
            )

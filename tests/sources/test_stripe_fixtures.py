"""Stripe's own example objects (fixtures3.json, the file stripe-mock serves) for our collections
validate against our stream schemas and load through target-warehouse (issue 5).

The examples come from the copy in tests/fixtures/stripe_fixtures3.json (only the object types
of issue 5's collections), so this runs on a fresh machine; when ../shared/fixtures is present,
the copy is checked against it and any further example of a type we read is tested too. Object
types map to collections through the tap's streams (`object_type`, from streams.COLLECTIONS and
any other Stripe stream that declares one; `events` reads `event` objects): a collection added
later is covered without touching this file, and an example no collection reads yet is
reported as skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from jsonschema import FormatChecker
from jsonschema.validators import validator_for
from tap_cloudsources.sources.stripe.streams import COLLECTIONS
from tap_cloudsources.tap import TapCloudSources
from warehouse_reader import mismatches, read_duckdb

COPY = Path(__file__).resolve().parents[1] / "fixtures" / "stripe_fixtures3.json"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "stripe" / "fixtures3.json"
TARGET = str(Path(sys.executable).parent / "target-warehouse")
DELETED_AT = 1234567890  # fixtures3's placeholder timestamp


@cache
def streams_by_type() -> dict[str, list]:
    """Object type → the tap's Stripe streams that read it (built offline: no request made)."""
    tap = TapCloudSources(config={"source": "stripe", "api_key": "sk_test_fixtures_only",
                                  "api_base_url": "http://127.0.0.1:9"})
    by_type: dict[str, list] = {}
    for stream in tap.streams.values():
        if getattr(stream, "source", None) != "stripe":
            continue
        kind = "event" if stream.name == "events" else getattr(stream, "object_type", None)
        if kind:
            by_type.setdefault(kind, []).append(stream)
    return by_type


def load_examples() -> dict[str, dict]:
    examples = json.loads(COPY.read_text())["resources"]
    if SHARED.exists():  # anything further of a type we read (e.g. a collection added since)
        ours = streams_by_type()
        for name, obj in json.loads(SHARED.read_text())["resources"].items():
            if obj.get("object") in ours:
                examples.setdefault(name, obj)
    return examples


EXAMPLES = load_examples()


def is_stub(obj: dict) -> bool:
    """A deletion stub (`deleted_customer`: {"id", "object", "deleted": true})."""
    return obj.get("deleted") is True


def as_emitted(stream, obj: dict) -> dict:
    """The record the tap writes for this object: plus Segment's foreign-key columns and
    `is_deleted`. A deletion is written as `is_deleted: true` and `_sdc_deleted_at`, never as
    Stripe's `deleted` flag (not a column). Events are written as Stripe sends them."""
    if stream.name == "events":
        return dict(obj)
    record = {k: v for k, v in obj.items() if k != "deleted"} if is_stub(obj) else dict(obj)
    return stream.with_segment_fields(record, deleted_at=DELETED_AT if is_stub(obj) else None)


def schema_errors(schema: dict, record: dict) -> list[str]:
    validator = validator_for(schema)(schema, format_checker=FormatChecker())
    return [f"{'.'.join(map(str, e.absolute_path)) or '<record>'}: {e.message[:300]}"
            for e in sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))]


def example_params() -> list:
    ours = streams_by_type()
    params = []
    for name, obj in EXAMPLES.items():
        kind = obj.get("object")
        marks = () if kind in ours else pytest.mark.skip(
            reason=f"no collection reads `{kind}` objects yet")
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def test_every_collection_is_mapped_to_a_stream():
    ours = streams_by_type()
    assert {c.object_type for c in COLLECTIONS} <= set(ours)
    assert [s.name for s in ours["event"]] == ["events"]


def test_the_copy_matches_the_shared_fixtures():
    """The copy is verbatim, and holds every example of a type our collections read."""
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is not on this machine")
    shared = json.loads(SHARED.read_text())["resources"]
    copy = json.loads(COPY.read_text())["resources"]
    assert {name: shared.get(name) for name in copy} == copy
    ours = {c.object_type for c in COLLECTIONS} | {"event"}
    assert {n for n, o in shared.items() if o.get("object") in ours} <= set(copy)


@pytest.mark.parametrize("name", example_params())
def test_a_fixture_object_validates_against_our_schema(name):
    obj = EXAMPLES[name]
    for stream in streams_by_type()[obj["object"]]:
        schema = type(stream).load_schema()  # as the tap loads it
        if not is_stub(obj):
            assert schema_errors(schema, obj) == [], (stream.name, "as Stripe sends it")
        assert schema_errors(schema, as_emitted(stream, obj)) == [], (stream.name, "as written")


def load(warehouse: Path, records: dict[str, list[dict]]) -> subprocess.CompletedProcess:
    lines = []
    by_name = {s.name: s for streams in streams_by_type().values() for s in streams}
    for name, rows in records.items():
        lines.append({"type": "SCHEMA", "stream": name, "key_properties": ["id"],
                      "schema": type(by_name[name]).load_schema()})
        lines += [{"type": "RECORD", "stream": name, "record": row} for row in rows]
    config = warehouse.with_suffix(".json")
    config.write_text(json.dumps({"backend": "duckdb", "path": str(warehouse),
                                  "default_target_schema": "stripe"}))
    return subprocess.run([TARGET, "--config", str(config)], capture_output=True, text=True,
                          input="".join(json.dumps(m) + "\n" for m in lines), timeout=120)


def records_of(stubs: bool) -> dict[str, list[dict]]:
    records: dict[str, list[dict]] = {}
    for obj in EXAMPLES.values():
        if is_stub(obj) != stubs or not obj.get("id"):
            continue
        for stream in streams_by_type().get(obj["object"], []):
            records.setdefault(stream.name, []).append(as_emitted(stream, obj))
    return records


def test_fixture_objects_load_through_target_warehouse(tmp_path):
    records = records_of(stubs=False)
    assert {c.name for c in COLLECTIONS} <= set(records)  # an example for every collection
    warehouse = tmp_path / "w.duckdb"
    done = load(warehouse, records)
    assert done.returncode == 0, done.stderr[-3000:]
    for name, written in records.items():
        rows = read_duckdb(str(warehouse), "stripe", name)
        expected = list({r["id"]: r for r in written}.values())  # same id twice: last wins
        assert set(rows) == {r["id"] for r in expected}, name
        # Every field, nested objects included (JSON columns), reads back as Stripe sent it.
        assert mismatches(rows, expected) == [], name
    charge = read_duckdb(str(warehouse), "stripe", "charges")["ch_1PgafuB7WZ01zgkWXYmPNZs8"]
    assert (charge["amount"], charge["currency"], charge["status"]) == (100, "usd", "succeeded")
    assert charge["balance_transaction_id"] == "txn_1PgaxNB7WZ01zgkWEV3TLf40"
    assert charge["billing_details"]["address"] == EXAMPLES["charge"]["billing_details"][
        "address"]
    assert charge["is_deleted"] is False
    invoice = read_duckdb(str(warehouse), "stripe", "invoices")["in_1Pgc6tB7WZ01zgkWu9fdqL6I"]
    assert invoice["customer_id"] == invoice["customer"] == EXAMPLES["invoice"]["customer"]
    assert invoice["lines"] == EXAMPLES["invoice"]["lines"]
    price = read_duckdb(str(warehouse), "stripe", "prices")["price_1PgafmB7WZ01zgkW6dKueIc5"]
    assert price["product_id"] == "prod_QXg1hqf4jFNsqG"
    event = read_duckdb(str(warehouse), "stripe", "events")["evt_1Pgc76B7WZ01zgkWwyRHS12y"]
    assert event["type"] == EXAMPLES["event"]["type"]
    assert event["data"] == EXAMPLES["event"]["data"]


def test_deletion_stubs_load_as_deleted_rows(tmp_path):
    records = records_of(stubs=True)
    assert {"customers", "invoices", "products"} <= set(records)
    warehouse = tmp_path / "w.duckdb"
    done = load(warehouse, records)
    assert done.returncode == 0, done.stderr[-3000:]
    for name, written in records.items():
        rows = read_duckdb(str(warehouse), "stripe", name)
        assert set(rows) == {r["id"] for r in written}, name
        assert all(row["is_deleted"] is True and row["_sdc_deleted_at"] is not None
                   for row in rows.values()), name

"""Child collections (invoice lines, subscription items, cards, payment methods, fee details…):
read with their parents, so a first sync costs the parents' pages plus only the child pages
Stripe does not embed; later syncs re-read only the children of parents that changed."""

from __future__ import annotations

import math
from collections import Counter

from tap_cloudsources.sources.stripe.streams import CHILDREN as STRIPE_CHILDREN
from tap_cloudsources.sources.stripe.streams import COLLECTIONS as STRIPE_COLLECTIONS
from taprun import DERIVED_CHILDREN, run_tap, tap_config
from warehouse_reader import mismatches, read_duckdb

FAST = {"max_requests_per_second": 1000}  # the sandbox has no rate limit unless asked


def pages(n: int) -> int:
    return max(1, math.ceil(n / 100))


def add_lines(admin, invoice_id: str | None = None) -> dict:
    """Fifteen more lines on a draft invoice: more than the 10 Stripe embeds in `lines`."""
    result = admin.post("/_sandbox/advance", {"seconds": 60, "actions": [
        {"collection": "invoices", "action": "add_lines", "id": invoice_id}]})
    (action,) = result["actions"]
    return next(i for i in admin.truth("invoices") if i["id"] == action["id"])


def expected_fee_details(admin) -> list[dict]:
    return [{**fee, "id": f"{txn['id']}-{n}", "balance_transaction_id": txn["id"]}
            for txn in admin.truth("balance_transactions")
            for n, fee in enumerate(txn["fee_details"])]


def expected_skus(admin) -> list[dict]:
    """Retired SKUs, as their current equivalent: one per one-time price."""
    return [{"id": p["id"], "object": "sku", "active": p["active"], "price": p["unit_amount"],
             "currency": p["currency"], "product": p["product"], "product_id": p["product"],
             "metadata": p["metadata"], "created": p["created"], "attributes": {}}
            for p in admin.truth("prices") if p["type"] == "one_time"]


def test_first_sync_costs_each_list_page_plus_only_the_child_pages(admin, tmp_path):
    invoice = add_lines(admin)
    assert len(invoice["lines"]["data"]) > 10
    admin.post("/_sandbox/stats/reset")
    run = run_tap(tmp_path, tap_config(admin.url, **FAST))
    assert run.returncode == 0, run.stderr[-2000:]

    made = Counter(q["path"] for q in admin.get("/_sandbox/requests"))
    expected = Counter({c.path: pages(len(admin.truth(c.name))) for c in STRIPE_COLLECTIONS})
    expected["/v1/events"] = pages(len(admin.truth("events")))
    # Stripe lists a customer's payment methods only per customer: one page each.
    payment_methods = Counter(p["customer"] for p in admin.truth("payment_methods"))
    for customer in admin.truth("customers"):
        expected[f"/v1/customers/{customer['id']}/payment_methods"] = pages(
            payment_methods[customer["id"]])
    # The one invoice with more than 10 lines pages the rest from its own lines endpoint.
    expected[f"/v1/invoices/{invoice['id']}/lines"] = pages(len(invoice["lines"]["data"]) - 10)
    assert made == expected

    rows = {m["record"]["id"]: m["record"] for m in run.of_type("RECORD")
            if m["stream"] == "invoice_lines"}
    truth_lines = admin.truth("invoice_lines")
    assert len(rows) == len(truth_lines)
    assert {line["id"] for line in invoice["lines"]["data"]} <= set(rows)
    assert all(rows[line["id"]]["invoice_id"] == invoice["id"]
               for line in invoice["lines"]["data"])


def test_every_child_collection_equals_the_source_after_first_and_second_sync(
        admin, pipeline, tmp_path):
    warehouse = {"path": str(tmp_path / "w.duckdb")}
    first = pipeline(tap_config(admin.url, **FAST), warehouse, tmp_path / "one")
    assert (first.tap_rc, first.target_rc) == (0, 0), first.tap_stderr[-2000:]
    with_truth = [c.name for c in STRIPE_CHILDREN if c.name not in DERIVED_CHILDREN]
    for name in with_truth:
        truth = admin.truth(name)
        rows = read_duckdb(warehouse["path"], "stripe", name)
        assert len(rows) == len(truth) > 0, name
        assert mismatches(rows, truth) == [], name
    fees = read_duckdb(warehouse["path"], "stripe", "balance_transaction_fee_details")
    assert mismatches(fees, expected_fee_details(admin)) == []
    assert len(fees) == len(expected_fee_details(admin)) > 0
    skus = read_duckdb(warehouse["path"], "stripe", "skus")
    assert mismatches(skus, expected_skus(admin)) == []
    assert len(skus) == len(expected_skus(admin)) > 0

    changes = admin.post("/_sandbox/advance", {"changes": 80})
    invoice = add_lines(admin)
    admin.post("/_sandbox/stats/reset")
    second = pipeline(tap_config(admin.url, **FAST), warehouse, tmp_path / "two",
                      state=first.last_state)
    assert (second.tap_rc, second.target_rc) == (0, 0), second.tap_stderr[-2000:]
    for name in with_truth:
        truth = admin.truth(name)
        rows = read_duckdb(warehouse["path"], "stripe", name)
        live = {key: row for key, row in rows.items() if not row["is_deleted"]}
        assert set(live) == {o["id"] for o in truth}, name
        assert mismatches(live, truth) == [], name
    fees = read_duckdb(warehouse["path"], "stripe", "balance_transaction_fee_details")
    assert mismatches(fees, expected_fee_details(admin)) == []
    skus = read_duckdb(warehouse["path"], "stripe", "skus")
    assert mismatches(skus, expected_skus(admin)) == []
    assert len(skus) == len(expected_skus(admin))
    assert sum(len(ids) for ids in changes["created"].values()) >= 20
    assert changes["created"].get("prices") or changes["updated"].get("prices")

    # No per-customer payment-method lists again: their events carry the changes. Only the
    # invoice that outgrew its embedded page reads its own lines endpoint.
    paths = [q["path"] for q in admin.get("/_sandbox/requests")]
    assert not [p for p in paths if p.endswith("/payment_methods")]
    assert [p for p in paths if p.endswith("/lines")] == [f"/v1/invoices/{invoice['id']}/lines"]


def test_a_deleted_customer_marks_its_discount_and_cards_deleted(admin, pipeline, tmp_path):
    warehouse = {"path": str(tmp_path / "w.duckdb")}
    first = pipeline(tap_config(admin.url, **FAST), warehouse, tmp_path / "one")
    assert (first.tap_rc, first.target_rc) == (0, 0), first.tap_stderr[-2000:]
    discounts = read_duckdb(warehouse["path"], "stripe", "discounts")
    with_discount = {row["customer_id"] for row in discounts.values()}
    customer = next(c for c in admin.truth("customers") if c["id"] in with_discount)
    result = admin.post("/_sandbox/advance", {"seconds": 60, "actions": [
        {"collection": "customers", "action": "delete", "id": customer["id"]}]})
    assert result["actions"][0]["id"] == customer["id"]
    second = pipeline(tap_config(admin.url, **FAST), warehouse, tmp_path / "two",
                      state=first.last_state)
    assert (second.tap_rc, second.target_rc) == (0, 0), second.tap_stderr[-2000:]
    rows = read_duckdb(warehouse["path"], "stripe", "customers")
    assert rows[customer["id"]]["is_deleted"] is True
    discounts = read_duckdb(warehouse["path"], "stripe", "discounts")
    mine = [row for row in discounts.values() if row["customer_id"] == customer["id"]]
    assert mine and all(row["is_deleted"] is True for row in mine)
    assert admin.truth("discounts") and all(
        d["customer"] != customer["id"] for d in admin.truth("discounts"))


def test_invoice_lines_that_page_forever_stop_that_collection_only(admin, tmp_path):
    """singer-io's tap-stripe loops on an invoice's `lines` that never end: here the child
    collection fails with a clear error, the run is partial (exit 3) and every other
    collection, the invoices themselves included, is read."""
    invoice = add_lines(admin)
    admin.fault(path=f"/v1/invoices/{invoice['id']}/lines", kind="pagination-loop")
    run = run_tap(tmp_path, tap_config(admin.url, **FAST), timeout=120)
    assert run.returncode == 3, run.stderr[-2000:]
    collections = {c["collection"]: c for c in run.run_record["collections"]}
    assert collections["invoice_lines"]["status"] == "failed"
    error = collections["invoice_lines"]["error"]
    assert "invoice_lines" in error and invoice["id"] in error and "pagination loop" in error, error
    failed = sorted(name for name, c in collections.items() if c["status"] != "ok")
    assert failed == ["invoice_lines"]
    invoices = {m["record"]["id"] for m in run.of_type("RECORD") if m["stream"] == "invoices"}
    assert invoices == {i["id"] for i in admin.truth("invoices")}
    lines_requests = [q for q in admin.get("/_sandbox/requests")
                      if q["path"].endswith("/lines")]
    assert 2 <= len(lines_requests) <= 3  # stopped at the first repeated cursor


def test_shipping_rates_changed_without_events_arrive_with_the_next_activity(
        admin, pipeline, tmp_path):
    """order_shipping_methods (the retired Orders API's shipping methods) reads shipping rates,
    which Stripe announces by no event: the small list is read whole whenever the account
    shows activity, so an archived rate and a new one both arrive. A run with no event at
    all still costs a single request."""
    warehouse = {"path": str(tmp_path / "w.duckdb")}
    first = pipeline(tap_config(admin.url, **FAST), warehouse, tmp_path / "one")
    assert (first.tap_rc, first.target_rc) == (0, 0), first.tap_stderr[-2000:]
    rows = read_duckdb(warehouse["path"], "stripe", "order_shipping_methods")
    assert mismatches(rows, admin.truth("order_shipping_methods")) == [] and len(rows) == 5

    result = admin.post("/_sandbox/advance", {"seconds": 60, "actions": [
        {"collection": "shipping_rates", "action": "deactivate"},
        {"collection": "shipping_rates", "action": "create"}]})
    archived, created = (a["id"] for a in result["actions"])
    admin.post("/_sandbox/stats/reset")
    quiet = pipeline(tap_config(admin.url, **FAST), warehouse, tmp_path / "two",
                     state=first.last_state)
    assert (quiet.tap_rc, quiet.target_rc) == (0, 0), quiet.tap_stderr[-2000:]
    assert [q["path"] for q in admin.get("/_sandbox/requests")] == ["/v1/events"]

    admin.post("/_sandbox/advance", {"changes": 10})
    admin.post("/_sandbox/stats/reset")
    third = pipeline(tap_config(admin.url, **FAST), warehouse, tmp_path / "three",
                     state=quiet.last_state)
    assert (third.tap_rc, third.target_rc) == (0, 0), third.tap_stderr[-2000:]
    rows = read_duckdb(warehouse["path"], "stripe", "order_shipping_methods")
    truth = admin.truth("order_shipping_methods")
    assert mismatches(rows, truth) == [] and len(rows) == len(truth) == 6
    assert rows[archived]["active"] is False and created in rows
    shipping = [q for q in admin.get("/_sandbox/requests") if q["path"] == "/v1/shipping_rates"]
    assert len(shipping) == 1 and "created[gte]" in shipping[0]["query"]  # from start_date

"""The fault admin API: the random schedule's determinism, the request log, clearing, errors."""

from __future__ import annotations

from collections import Counter

import pytest
import requests
from cloudsources_sandbox.server import SandboxServer

AUTH = ("sk_test_4eC39HqLyjWDarjt", "")
MIXED = {"rate": 0.3, "kinds": ["429", "429-no-retry-after", "500", "503"], "seed": 7}


def add(url: str, rule: dict) -> dict:
    resp = requests.post(f"{url}/_sandbox/faults", json=rule, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def schedule(url: str, n: int = 60) -> list[tuple[int, str | None, str | None]]:
    """What n sequential requests got: status, fault label, rate-limit reason."""
    out = []
    for i in range(n):
        path = "/v1/customers" if i % 2 else "/v1/charges"
        resp = requests.get(f"{url}{path}?limit=1", auth=AUTH, timeout=10)
        out.append((resp.status_code, resp.headers.get("Stripe-Rate-Limited-Reason")))
    log = requests.get(f"{url}/_sandbox/requests", timeout=10).json()[-n:]
    pairs = zip(out, log, strict=True)
    return [(status, entry["fault"], reason) for (status, reason), entry in pairs]


def test_random_faults_follow_the_seed_and_the_request_sequence(sandbox):
    add(sandbox.url, MIXED)
    first = schedule(sandbox.url)
    faulted = [s for s in first if s[1] is not None]
    assert 8 <= len(faulted) <= 30  # about 30% of 60
    assert {fault for _, fault, _ in faulted} == set(MIXED["kinds"])
    assert all(str(status) == fault[:3] for status, fault, _ in faulted)
    # The same rule on another sandbox (other data, other seed) gives the same schedule.
    with SandboxServer(port=0, seed=5, scale=0.1) as other:
        add(other.url, MIXED)
        assert schedule(other.url) == first
        requests.delete(f"{other.url}/_sandbox/faults", timeout=10)
        add(other.url, dict(MIXED, seed=8))
        assert schedule(other.url) != first
    # Re-adding the rule restarts its sequence.
    requests.delete(f"{sandbox.url}/_sandbox/faults", timeout=10)
    add(sandbox.url, MIXED)
    assert schedule(sandbox.url) == first


def test_faults_and_counts_show_in_faults_and_stats(sandbox):
    add(sandbox.url, MIXED)
    requests.post(f"{sandbox.url}/_sandbox/stats/reset", timeout=10)
    labels = Counter(fault for _, fault, _ in schedule(sandbox.url, 40) if fault)
    state = requests.get(f"{sandbox.url}/_sandbox/faults", timeout=10).json()
    assert state["injected"] == dict(labels)
    assert state["rules"] == [dict(MIXED, id=1, paths=None, stall_seconds=30,
                                   injected=sum(labels.values()))]
    stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
    assert stats["faults"] == dict(labels) and stats["total"] == 40
    assert stats["by_path"] == {"/v1/charges": 20, "/v1/customers": 20}


def test_request_log_records_path_query_status_fault_and_time(sandbox):
    base = sandbox.url
    requests.get(f"{base}/v1/charges", auth=AUTH, timeout=10)  # before the reset: not logged
    requests.post(f"{base}/_sandbox/stats/reset", timeout=10)
    add(base, {"path": "/v1/invoices", "status": 500, "times": 1})
    page = requests.get(f"{base}/v1/customers?limit=2", auth=AUTH, timeout=10).json()
    cursor = page["data"][-1]["id"]
    requests.get(f"{base}/v1/customers?limit=2&starting_after={cursor}", auth=AUTH, timeout=10)
    requests.get(f"{base}/v1/invoices", auth=AUTH, timeout=10)
    requests.get(f"{base}/v1/events?types[]=a.b&types[]=c.d&created[gte]=1", auth=AUTH,
                 timeout=10)
    requests.get(f"{base}/v1/charges", timeout=10)  # no key
    requests.get(f"{base}/_sandbox/health", timeout=10)  # admin: not logged
    log = requests.get(f"{base}/_sandbox/requests", timeout=10).json()
    assert [{k: v for k, v in e.items() if k != "t"} for e in log] == [
        {"path": "/v1/customers", "query": {"limit": "2"}, "status": 200, "fault": None},
        {"path": "/v1/customers", "query": {"limit": "2", "starting_after": cursor},
         "status": 200, "fault": None},
        {"path": "/v1/invoices", "query": {}, "status": 500, "fault": "status-500"},
        {"path": "/v1/events", "query": {"types[]": ["a.b", "c.d"], "created[gte]": "1"},
         "status": 200, "fault": None},
        {"path": "/v1/charges", "query": {}, "status": 401, "fault": None},
    ]
    times = [e["t"] for e in log]
    assert times == sorted(times) and isinstance(times[0], float)
    requests.post(f"{base}/_sandbox/stats/reset", timeout=10)
    assert requests.get(f"{base}/_sandbox/requests", timeout=10).json() == []


def test_dropped_requests_are_logged_without_a_status(sandbox):
    add(sandbox.url, {"path": "/v1/prices", "kind": "reset", "times": 1})
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sandbox.url}/v1/prices", auth=AUTH, timeout=10)
    log = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=10).json()
    assert log[-1]["status"] is None and log[-1]["fault"] == "reset"


def test_delete_clears_rules_credentials_latency_rate_limit_and_counts(sandbox):
    base = sandbox.url
    add(base, {"rate": 1.0, "kinds": ["500"], "seed": 1})
    add(base, {"path": "/v1/charges", "kind": "pagination-loop"})
    add(base, {"credentials": "revoked", "latency_ms": 20,
               "rate_limit": {"requests_per_second": 1, "burst": 1}})
    assert requests.get(f"{base}/v1/charges", auth=AUTH, timeout=10).status_code == 401
    cleared = requests.delete(f"{base}/_sandbox/faults", timeout=10).json()
    assert cleared == {"rules": [], "injected": {}, "rate_limited": 0, "credentials": "ok",
                       "latency_ms": 0, "rate_limit": None}
    assert requests.get(f"{base}/_sandbox/faults", timeout=10).json() == cleared
    for _ in range(3):  # no bucket left either
        assert requests.get(f"{base}/v1/charges", auth=AUTH, timeout=10).status_code == 200


BAD_BODIES = [
    [], {}, {"rate": 1.5, "kinds": ["500"]}, {"rate": 0.5, "kinds": []},
    {"rate": 0.5, "kinds": ["418"]}, {"rate": 0.5, "kinds": ["500"], "seed": "x"},
    {"rate": 0.5, "kinds": ["500"], "paths": "/v1/charges"},
    {"rate": 0.5, "kinds": ["500"], "bogus": 1},
    {"path": "/v1/charges"}, {"path": "/v1/charges", "status": 403, "kind": "500"},
    {"path": "/v1/charges", "status": 418},  # no standard body for 418: give one
    {"path": "/v1/charges", "status": 403, "times": 0},
    {"path": "/v1/charges", "kind": "teapot"}, {"path": "/nope", "status": 500},
    {"credentials": "maybe"}, {"latency_ms": -1}, {"rate_limit": {"requests_per_second": 0}},
    {"credentials": "ok", "path": "/v1/charges"},
    {"credentials": "revoked", "latency_ms": -1},  # all or nothing: not revoked either
]


def test_bad_rules_are_refused_and_change_nothing(sandbox):
    for body in BAD_BODIES:
        resp = requests.post(f"{sandbox.url}/_sandbox/faults", json=body, timeout=10)
        assert resp.status_code == 400, body
        assert isinstance(resp.json()["error"], str), body
    state = requests.get(f"{sandbox.url}/_sandbox/faults", timeout=10).json()
    assert state["rules"] == [] and state["credentials"] == "ok" and state["latency_ms"] == 0


def test_a_body_that_is_not_json_is_refused(sandbox):
    resp = requests.post(f"{sandbox.url}/_sandbox/faults", data=b"{nope", timeout=10)
    assert resp.status_code == 400


def test_rules_apply_in_the_order_they_were_added(sandbox):
    add(sandbox.url, {"path": "/v1/charges", "status": 403, "times": 1})
    add(sandbox.url, {"path": "/v1/charges", "status": 500, "times": 1})
    statuses = [requests.get(f"{sandbox.url}/v1/charges", auth=AUTH, timeout=10).status_code
                for _ in range(3)]
    assert statuses == [403, 500, 200]

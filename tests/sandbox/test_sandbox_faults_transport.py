"""Faults below HTTP (reset, stall, truncated body), latency and the token-bucket rate limit."""

from __future__ import annotations

import base64
import socket
import threading
import time

import pytest
import requests
from cloudsources_sandbox.server import SandboxServer

KEY = "sk_test_4eC39HqLyjWDarjt"
AUTH = (KEY, "")


def add(url: str, rule: dict) -> dict:
    resp = requests.post(f"{url}/_sandbox/faults", json=rule, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def raw_get(url: str, path: str, timeout: float = 10) -> socket.socket:
    """Send a GET by hand, so the test sees exactly what comes back on the wire."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    token = base64.b64encode(f"{KEY}:".encode()).decode()
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {token}\r\n"
                 "\r\n".encode())
    return sock


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_reset_closes_the_connection_without_any_response(sandbox):
    add(sandbox.url, {"path": "/v1/charges", "kind": "reset", "times": 2})
    with raw_get(sandbox.url, "/v1/charges") as sock, pytest.raises(ConnectionResetError):
        read_all(sock)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sandbox.url}/v1/charges", auth=AUTH, timeout=10)
    assert requests.get(f"{sandbox.url}/v1/charges", auth=AUTH, timeout=10).status_code == 200


def test_truncated_promises_the_whole_body_and_sends_part_of_it(sandbox):
    whole = requests.get(f"{sandbox.url}/v1/customers?limit=5", auth=AUTH, timeout=10).content
    add(sandbox.url, {"rate": 1.0, "kinds": ["truncated"], "seed": 1})
    with raw_get(sandbox.url, "/v1/customers?limit=5") as sock:
        head, _, body = read_all(sock).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert lines[0] == "HTTP/1.1 200 OK"
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(whole)
    assert 0 < len(body) < len(whole) and whole.startswith(body)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):  # IncompleteRead
        requests.get(f"{sandbox.url}/v1/customers?limit=5", auth=AUTH, timeout=10)


def test_stall_sends_nothing_for_stall_seconds_and_does_not_block_others(sandbox):
    add(sandbox.url, {"path": "/v1/charges", "kind": "stall", "stall_seconds": 0.8})
    with raw_get(sandbox.url, "/v1/charges") as stalled:
        stalled.settimeout(0.3)
        with pytest.raises(TimeoutError):
            stalled.recv(1)  # nothing at all while stalled
        start = time.monotonic()
        other = requests.get(f"{sandbox.url}/v1/customers", auth=AUTH, timeout=10)
        assert other.status_code == 200 and time.monotonic() - start < 0.6  # not queued
        stalled.settimeout(5)
        assert stalled.recv(1) == b""  # then the server closes, still without a response
    with pytest.raises(requests.exceptions.ReadTimeout):  # a client's read timeout fires
        requests.get(f"{sandbox.url}/v1/charges", auth=AUTH, timeout=0.3)


def test_stop_cuts_a_stall_short():
    server = SandboxServer(port=0, seed=1, scale=0.1).start()
    add(server.url, {"rate": 1.0, "kinds": ["stall"], "seed": 1, "stall_seconds": 60})
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            requests.get(f"{server.url}/v1/charges", auth=AUTH, timeout=30)
        except requests.RequestException as exc:
            outcome.append(exc)

    client = threading.Thread(target=call)
    client.start()
    deadline = time.monotonic() + 5
    while not requests.get(f"{server.url}/_sandbox/requests", timeout=5).json():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    start = time.monotonic()
    server.stop()
    client.join(timeout=5)
    assert time.monotonic() - start < 2
    assert not client.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], requests.ConnectionError)


def test_latency_delays_every_api_response_but_not_admin(sandbox):
    state = add(sandbox.url, {"latency_ms": 150})
    assert state["latency_ms"] == 150
    start = time.monotonic()
    assert requests.get(f"{sandbox.url}/v1/prices", auth=AUTH, timeout=10).status_code == 200
    assert requests.get(f"{sandbox.url}/v1/prices", timeout=10).status_code == 401
    assert time.monotonic() - start >= 0.3
    start = time.monotonic()
    requests.get(f"{sandbox.url}/_sandbox/health", timeout=10)
    assert time.monotonic() - start < 0.14
    add(sandbox.url, {"latency_ms": 0})
    start = time.monotonic()
    requests.get(f"{sandbox.url}/v1/prices", auth=AUTH, timeout=10)
    assert time.monotonic() - start < 0.14


def test_token_bucket_answers_stripes_429_beyond_the_rate_per_key(sandbox):
    state = add(sandbox.url, {"rate_limit": {"requests_per_second": 4}})
    assert state["rate_limit"] == {"requests_per_second": 4, "burst": 4}
    session = requests.Session()
    start = time.monotonic()
    answers = [session.get(f"{sandbox.url}/v1/customers?limit=1", auth=AUTH, timeout=10)
               for _ in range(12)]
    elapsed = time.monotonic() - start
    ok = [r for r in answers if r.status_code == 200]
    limited = [r for r in answers if r.status_code == 429]
    assert len(ok) + len(limited) == 12
    assert 4 <= len(ok) <= 4 + int(elapsed * 4) + 1  # the burst, plus what refilled meanwhile
    for resp in limited:
        assert resp.headers["Stripe-Rate-Limited-Reason"] == "global-rate"
        assert "Retry-After" not in resp.headers
        assert resp.json()["error"]["code"] == "rate_limit"
    # Another key has its own bucket.
    other = session.get(f"{sandbox.url}/v1/customers", auth=("sk_test_anotherkey1", ""),
                        timeout=10)
    assert other.status_code == 200
    time.sleep(0.3)  # refills at 4 a second: at least one more request goes through
    assert session.get(f"{sandbox.url}/v1/customers", auth=AUTH, timeout=10).status_code == 200
    faults = requests.get(f"{sandbox.url}/_sandbox/faults", timeout=10).json()
    assert faults["rate_limited"] == len(limited)
    stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
    assert stats["faults"] == {"rate-limited": len(limited)}
    assert stats["by_path"]["/v1/customers"] == 14  # rate-limited requests are still counted


def test_a_client_that_hangs_up_mid_request_leaves_no_traceback(sandbox, capfd):
    import struct

    host, port = sandbox.url.removeprefix("http://").split(":")
    for _ in range(3):
        client = socket.create_connection((host, int(port)))
        client.sendall(b"GET /v1/customers HTTP/1.1\r\nHost: x\r\n")  # headers never end
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # RST: the server's read fails with ConnectionResetError
    time.sleep(0.5)
    # The server is still serving, and said nothing about the three resets.
    assert requests.get(f"{sandbox.url}/v1/customers?limit=1", auth=AUTH, timeout=10).ok
    assert "Traceback" not in capfd.readouterr().err

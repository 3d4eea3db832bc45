"""The wire under HttpClient, against real local HTTP servers: the query as requests would
encode it, redirects (credentials never follow to another host), the environment's proxy."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from tap_cloudsources.engine.http import HttpClient, RetryPolicy
from tap_cloudsources.engine.ratelimit import RequestBudget
from tap_cloudsources.engine.report import CollectionMeter
from tap_cloudsources.engine.transport import Transport
from tap_cloudsources.sources.stripe.client import STRIPE_ERRORS


class Recorder(ThreadingHTTPServer):
    """Answers every GET with what it received; `routes` maps a path to (status, headers)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[dict] = []
        self.routes: dict[str, tuple[int, dict[str, str]]] = {}
        self.failures: dict[str, int] = {}  # a path's next n answers are HTTP 500

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        seen = {"target": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}
        self.server.seen.append(seen)
        path = self.path.split("?")[0]
        status, headers = self.server.routes.get(path, (200, {}))
        if self.server.failures.get(path):
            self.server.failures[path] -= 1
            status = 500
        body = json.dumps(seen).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve() -> Iterator[Recorder]:
    server = Recorder()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


api = pytest.fixture(_serve)
other_host = pytest.fixture(_serve)

AUTH = {"Authorization": "Bearer sk_test_transport1"}


def _transport(url: str) -> Transport:
    return Transport(url, AUTH, connect_timeout=5, read_timeout=5)


def test_query_is_encoded_as_requests_would(api):
    answer = _transport(api.url).get(
        f"{api.url}/v1/charges", {"limit": 100, "expand[]": ["data.customer", "data.invoice"],
                                  "starting_after": None, "created[gte]": 1700000000})
    assert answer.status_code == 200
    assert api.seen[0]["target"] == ("/v1/charges?limit=100&expand%5B%5D=data.customer"
                                     "&expand%5B%5D=data.invoice&created%5Bgte%5D=1700000000")
    headers = api.seen[0]["headers"]
    assert headers["authorization"] == AUTH["Authorization"]
    assert headers["user-agent"].startswith("tap-cloudsources")
    assert headers["accept"] == "application/json"


def test_a_path_with_a_query_gets_more_params_appended(api):
    _transport(api.url).get(f"{api.url}/api/v2/tickets.json?page=2", {"per_page": 100})
    assert api.seen[0]["target"] == "/api/v2/tickets.json?page=2&per_page=100"


def test_redirects_are_followed_and_credentials_stay_on_their_host(api, other_host):
    api.routes["/same"] = (302, {"Location": "/moved"})
    api.routes["/away"] = (307, {"Location": f"{other_host.url}/landed"})
    transport = _transport(api.url)

    moved = transport.get(f"{api.url}/same", None)
    assert (moved.status_code, moved.path) == (200, "/moved")
    assert api.seen[-1]["headers"]["authorization"] == AUTH["Authorization"]

    landed = transport.get(f"{api.url}/away", None)
    assert (landed.status_code, landed.path) == (200, "/landed")
    assert other_host.seen[-1]["target"] == "/landed"
    assert "authorization" not in other_host.seen[-1]["headers"]


def test_the_environment_proxy_is_used_and_no_proxy_bypasses_it(api, monkeypatch):
    """A plain-HTTP proxy receives the absolute URL; the API host itself is never reached."""
    proxy = api
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    answer = _transport("http://api.example.test").get("http://api.example.test/v1/x", None)
    assert answer.status_code == 200
    assert proxy.seen[-1]["target"] == "http://api.example.test/v1/x"

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    direct = _transport(api.url).get(f"{api.url}/v1/y", None)
    assert direct.status_code == 200 and api.seen[-1]["target"] == "/v1/y"


def test_client_errors_name_the_path_without_the_query(api):
    api.routes["/v1/charges"] = (404, {})
    client = HttpClient(source="stripe", base_url=api.url, headers=AUTH, errors=STRIPE_ERRORS,
                        retry=RetryPolicy(max_retries=1), budget=RequestBudget(100, 1.0))
    with pytest.raises(Exception, match=r"\(GET /v1/charges\)$"):
        client.get_json("/v1/charges", {"limit": 100}, CollectionMeter("charges"))


# -- a page sent ahead: the next list page is on the wire while this one is written ---------

def _client(url: str, slept: list[float] | None = None) -> HttpClient:
    return HttpClient(source="stripe", base_url=url, headers=AUTH, errors=STRIPE_ERRORS,
                      retry=RetryPolicy(max_retries=3), budget=RequestBudget(100, 1.0),
                      sleep=(slept if slept is not None else []).append)


def test_a_get_sent_ahead_is_answered_later_and_counted_once(api):
    client, meter = _client(api.url), CollectionMeter("charges")
    sent = client.send_ahead("/v1/charges", {"limit": 100, "starting_after": "ch_1"}, meter)
    assert meter.calls == 1
    body = client.get_json("/v1/charges", {"limit": 100, "starting_after": "ch_1"}, meter,
                           sent=sent)
    assert body["target"] == "/v1/charges?limit=100&starting_after=ch_1"
    assert (meter.calls, meter.retries, len(api.seen)) == (1, 0, 1)


def test_a_failed_get_sent_ahead_is_retried_like_any_other(api):
    api.failures["/v1/charges"] = 1  # the retry finds the server healthy again
    slept: list[float] = []
    client, meter = _client(api.url, slept), CollectionMeter("charges")
    sent = client.send_ahead("/v1/charges", {"limit": 100}, meter)
    body = client.get_json("/v1/charges", {"limit": 100}, meter, sent=sent)
    assert body["target"] == "/v1/charges?limit=100"
    assert (meter.calls, meter.retries, len(slept), len(api.seen)) == (2, 1, 1, 2)


def test_an_answer_never_read_does_not_block_the_next_send(api):
    client, meter = _client(api.url), CollectionMeter("charges")
    client.send_ahead("/v1/charges", {"page": 1}, meter)  # its reader gave up
    sent = client.send_ahead("/v1/charges", {"page": 2}, meter)
    assert client.get_json("/v1/charges", None, meter, sent=sent)["target"].endswith("page=2")


def test_a_connection_the_server_closed_is_opened_again(api):
    api.routes["/v1/charges"] = (200, {"Connection": "close"})
    client, meter = _client(api.url), CollectionMeter("charges")
    for page in (1, 2, 3):
        sent = client.send_ahead("/v1/charges", {"page": page}, meter)
        body = client.get_json("/v1/charges", None, meter, sent=sent)
        assert body["target"] == f"/v1/charges?page={page}"
    assert (meter.calls, meter.retries) == (3, 0)


def test_an_unreachable_host_sent_ahead_gets_the_usual_error(unused_port):
    client, meter = _client(f"http://127.0.0.1:{unused_port}"), CollectionMeter("charges")
    sent = client.send_ahead("/v1/charges", None, meter)
    with pytest.raises(Exception, match="connection refused$"):
        client.get_json("/v1/charges", None, meter, sent=sent)


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_redirect_of_a_get_sent_ahead_keeps_credentials_on_their_host(api, other_host):
    api.routes["/away"] = (307, {"Location": f"{other_host.url}/landed"})
    client, meter = _client(api.url), CollectionMeter("charges")
    sent = client.send_ahead("/away", None, meter)
    assert client.get_json("/away", None, meter, sent=sent)["target"] == "/landed"
    assert "authorization" not in other_host.seen[-1]["headers"]

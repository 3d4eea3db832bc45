"""One HTTP server for every emulated API, plus the admin routes under /_sandbox/.

APIs: Stripe under /v1/ (stripe.py), Zendesk under /api/v2/ (zendesk.py), Salesforce under
/services/ (salesforce.py).

Admin routes (no auth):
  GET  /_sandbox/health                         {"ok": true}
  GET  /_sandbox/clock                          {"clock": unix, "iso": "..."}
  GET  /_sandbox/stats                          API request counts (admin calls not counted),
                                                and faults injected by kind
  POST /_sandbox/stats/reset                    zero the counts and clear the request log
  GET  /_sandbox/requests                       the API requests since the last reset, in order
  GET  /_sandbox/faults                         rules, settings and faults injected (faults.py)
  POST /_sandbox/faults                         add a rule or change a setting
  DELETE /_sandbox/faults                       clear rules and settings
  POST /_sandbox/advance                        {"changes": N} or {"creates","updates","deletes"},
                                                optional "seconds" (default 3600), optional
                                                "actions": [{"collection","action","id"?}]
                                                (stripe_actions.py); {"seconds": N,
                                                "changes": 0} only moves the clock
  POST /_sandbox/keys                           {"key": "rk_test_...", "permissions":
                                                {"charges": "read", ...}}: a Stripe restricted
                                                key (unlisted resources: none)
  GET  /_sandbox/truth/<source>/<collection>    every current object, newest first
"""

from __future__ import annotations

import email.utils
import json
import socket
import struct
import sys
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .faults import Faults
from .salesforce import SalesforceAPI
from .stripe import StripeAPI
from .stripe_source import EVENT_RETENTION, StripeSource
from .stripe_views import VIEWS, view_all
from .surface import Response, Surface
from .world import World
from .zendesk import ZendeskAPI

ADMIN = "/_sandbox/"
LOG_LIMIT = 100_000  # requests kept in the log; a long benchmark must not grow it forever


class Stats:
    """Counts of API requests by source and by path (without the query string), faults
    injected by kind, and the ordered log of requests."""

    def __init__(self, sources: Sequence[str]) -> None:
        self._sources = list(sources)
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.by_source: dict[str, int] = dict.fromkeys(self._sources, 0)
            self.by_path: dict[str, int] = {}
            self.faults: Counter[str] = Counter()
            self.log: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)

    def count(self, source: str, path: str) -> None:
        with self._lock:
            self.total += 1
            self.by_source[source] = self.by_source.get(source, 0) + 1
            self.by_path[path] = self.by_path.get(path, 0) + 1

    def record(self, path: str, query: str, status: int | None, fault: str | None,
               at: float) -> None:
        grouped: dict[str, list[str]] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            grouped.setdefault(name, []).append(value)
        # One value as a string; a repeated parameter (types[]=a&types[]=b) as a list.
        params = {k: v[0] if len(v) == 1 else v for k, v in grouped.items()}
        with self._lock:
            if fault is not None:
                self.faults[fault] += 1
            self.log.append({"path": path, "query": params, "status": status, "fault": fault,
                             "t": at})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"total": self.total, "by_source": dict(self.by_source),
                    "by_path": dict(self.by_path), "faults": dict(self.faults)}

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.log)


class Sandbox:
    """Routes a request to an API surface or to the admin routes. Transport-independent."""

    def __init__(self, world: World, surfaces: Sequence[Surface]) -> None:
        self.world = world
        self.surfaces = list(surfaces)
        self.stats = Stats([s.source for s in self.surfaces])
        self.faults = Faults(self.surfaces)

    def dispatch(self, method: str, target: str, headers: Mapping[str, str],
                 body: bytes) -> Response:
        url = urlsplit(target)
        if url.path.startswith(ADMIN):
            return self._admin(method, url.path[len(ADMIN):], body)
        for surface in self.surfaces:
            if url.path.startswith(surface.prefix):
                at = time.monotonic()
                self.stats.count(surface.source, url.path)
                resp, fault = self.faults.apply(surface, method, url.path, url.query, headers,
                                                body)
                # A reset or a stall never answers, so it has no status to log.
                dropped = resp.transport is not None and resp.transport.kind != "truncated"
                self.stats.record(url.path, url.query, None if dropped else resp.status, fault,
                                  at)
                return resp
        self.stats.count("unknown", url.path)
        return Response(404, {"error": f"no emulated API serves {url.path}"})

    def _admin(self, method: str, route: str, body: bytes) -> Response:
        world = self.world
        if method == "GET" and route == "health":
            return Response(200, {"ok": True})
        if method == "GET" and route == "clock":
            iso = datetime.fromtimestamp(world.clock, UTC).isoformat().replace("+00:00", "Z")
            return Response(200, {"clock": world.clock, "iso": iso})
        if method == "GET" and route == "stats":
            return Response(200, self.stats.snapshot())
        if method == "POST" and route == "stats/reset":
            self.stats.reset()
            return Response(200, self.stats.snapshot())
        if method == "GET" and route == "requests":
            return Response(200, self.stats.requests())
        if route == "faults" and method in ("GET", "POST", "DELETE"):
            return self._faults(method, body)
        if method == "POST" and route == "advance":
            return self._advance(body)
        if method == "POST" and route == "keys":
            return self._keys(body)
        if method == "GET" and route.startswith("truth/"):
            return self._truth(*route[len("truth/"):].partition("/")[::2])
        return Response(404, {"error": f"unknown sandbox route: {method} {ADMIN}{route}"})

    def _advance(self, body: bytes) -> Response:
        try:
            args = json.loads(body or b"{}")
            if not isinstance(args, dict):
                raise ValueError("body must be a JSON object")
            unknown = set(args) - {"changes", "seconds", "creates", "updates", "deletes",
                                   "actions"}
            if unknown:
                raise ValueError(f"unknown fields: {sorted(unknown)}")
            if not isinstance(args.get("actions", []), list):
                raise ValueError("actions must be a list")
            for key, value in args.items():
                if key == "actions":
                    continue
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError(f"{key} must be an integer")
            with self.world.lock:
                return Response(200, self.world.advance(**args))
        except ValueError as exc:
            return Response(400, {"error": str(exc)})

    def _keys(self, body: bytes) -> Response:
        stripe = next((s for s in self.surfaces if isinstance(s, StripeAPI)), None)
        try:
            if stripe is None:
                raise ValueError("no Stripe surface")
            return Response(200, stripe.access.register(json.loads(body or b"{}")))
        except ValueError as exc:
            return Response(400, {"error": str(exc)})

    def _faults(self, method: str, body: bytes) -> Response:
        if method == "DELETE":
            self.faults.clear()
        elif method == "POST":
            try:
                self.faults.configure(json.loads(body or b"{}"))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError too
                return Response(400, {"error": str(exc)})
        return Response(200, self.faults.snapshot())

    def _truth(self, source: str, name: str) -> Response:
        name = TRUTH_ALIASES.get((source, name), name)
        with self.world.lock:
            coll = self.world.collections(source).get(name)
            src = self.world.sources.get(source)
            if coll is None and source == "stripe" and name in VIEWS \
                    and isinstance(src, StripeSource):
                data = view_all(src, self.world, name)
            elif coll is None:
                return Response(404, {"error": f"no collection {source}/{name}"})
            else:
                data = list(coll.newest_first())
            if source == "stripe" and name == "events":  # what the API can still list
                horizon = self.world.clock - EVENT_RETENTION
                data = [e for e in data if e["created"] >= horizon]
        return Response(200, {"collection": name, "count": len(data), "data": data})


# Segment's collection names that differ from the resource's: the retired Orders API's
# shipping methods are served as shipping rates.
TRUTH_ALIASES = {("stripe", "order_shipping_methods"): "shipping_rates"}


def build_sandbox(seed: int = 1, scale: float = 1.0,
                  counts: Mapping[str, int] | None = None) -> Sandbox:
    world = World(seed=seed, scale=scale, sources=[StripeSource()], counts=counts)
    # Zendesk and Salesforce serve authentication, limits and faults only, no data yet.
    return Sandbox(world, [StripeAPI(world), ZendeskAPI(world), SalesforceAPI(world)])


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: Sandbox, verbose: bool = False) -> None:
        self.sandbox = sandbox
        self.verbose = verbose
        self.stopping = threading.Event()  # set by stop(): stalls and latency end at once
        super().__init__(address, SandboxHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-request (a killed tap, a timeout) is normal here, not
        worth a traceback; anything else still gets one."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as API clients expect
    server_version = "cloudsources-sandbox"
    disable_nagle_algorithm = True  # headers and body go out in two writes; avoid the 40 ms stall
    server: SandboxHTTPServer

    def date_time_string(self, timestamp: float | None = None) -> str:
        """`Date` follows the sandbox clock: the world's "now" (clients use it as the server's
        time, e.g. for Stripe's 30-day event retention)."""
        return email.utils.formatdate(self.server.sandbox.world.clock, usegmt=True)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        try:
            resp = self.server.sandbox.dispatch(self.command, self.path, self.headers, body)
            payload = resp.encode()
        except Exception:  # a bug must not kill the connection without an answer
            traceback.print_exc(file=sys.stderr)
            error = {"type": "api_error", "message": "Sandbox internal error."}
            resp = Response(500, {"error": error})
            payload = resp.encode()
        if resp.delay > 0:
            self.server.stopping.wait(resp.delay)
        fault = resp.transport
        if fault is not None and fault.kind in ("reset", "stall"):
            self._drop(fault.kind, fault.seconds)
            return
        self.log_request(resp.status)
        self.send_response_only(resp.status)
        self.send_header("Server", self.version_string())
        if "Date" not in resp.headers:  # Stripe's comes from the sandbox clock
            self.send_header("Date", self.date_time_string())
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if fault is not None and fault.kind == "truncated":
            payload = payload[:len(payload) // 2]  # the header promised the whole body
            self.close_connection = True
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _drop(self, kind: str, seconds: float) -> None:
        """Leave the request unanswered: a stall sends nothing for a while, then closes; a reset
        closes at once with an RST (SO_LINGER 0), which the client sees as a connection reset."""
        self.close_connection = True
        if kind == "stall":
            self.server.stopping.wait(seconds)
            return  # the server then closes the connection normally
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.verbose:
            super().log_message(format, *args)

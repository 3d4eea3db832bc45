"""The wire under `HttpClient`: one urllib3 connection pool per source, nothing more.

`requests` costs about a millisecond of CPU per call on top of urllib3 (hooks, cookie jar,
adapters, a Response wrapper); at 100 records a page that is a tenth of a fast tap's time.
So the client speaks urllib3 directly and keeps requests only to read the environment the
way requests does (HTTPS_PROXY / NO_PROXY, REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE), once.
"""

from __future__ import annotations

import http.client
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import certifi
import requests
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    DecodeError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as TransportTimeout

# Network failures worth another try. A refused connection or an unknown host is a
# NewConnectionError; a body cut short or a reset connection is a ProtocolError.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    TransportTimeout, NewConnectionError, ProtocolError, ProxyError, SSLError, DecodeError,
)
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _user_agent() -> str:
    try:
        return f"tap-cloudsources/{version('cloudsources')}"
    except PackageNotFoundError:
        return "tap-cloudsources"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the server sent: the part of a response the error policies read."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive
    content: bytes
    reason: str
    path: str  # the request's path, without the query

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class Sent:
    """A GET on the wire whose answer has not been read yet."""

    def __init__(self, transport: Transport, url: str, conn: HTTPConnection | None,
                 error: Exception | None = None) -> None:
        self.transport, self.url, self.conn, self.error = transport, url, conn, error

    def receive(self) -> Answer:
        if self.error is not None:
            raise self.error
        if self.conn is None:  # not sent ahead (through a proxy): an ordinary GET now
            return self.transport.get(self.url, None)
        self.transport.in_flight.discard(self.conn)
        try:
            response = self.conn.getresponse()
            data = response.data
        except TRANSIENT_ERRORS:
            self.conn.close()
            raise
        except TimeoutError as exc:  # the socket's own, not urllib3's
            self.conn.close()
            raise ReadTimeoutError(None, self.url, "Read timed out.") from exc  # type: ignore[arg-type]
        except (OSError, http.client.HTTPException) as exc:
            # The error the pool raises for it, so the client words it the same way.
            self.conn.close()
            raise ProtocolError("Connection aborted.", exc) from exc
        return self.transport.answer(self.url, response, data)


class Transport:
    """GETs against one API host, over kept-alive connections."""

    def __init__(self, base_url: str, headers: Mapping[str, str], *,
                 connect_timeout: float, read_timeout: float) -> None:
        settings = requests.Session().merge_environment_settings(base_url, {}, None, None, None)
        scheme = urlsplit(base_url).scheme or "http"
        proxy = (settings["proxies"] or {}).get(scheme) or (settings["proxies"] or {}).get("all")
        verify = settings["verify"]
        tls: dict[str, Any] = (
            {"cert_reqs": "CERT_NONE"} if verify is False
            else {"cert_reqs": "CERT_REQUIRED",
                  "ca_certs": verify if isinstance(verify, str) else certifi.where()})
        if verify is False:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.headers = {"User-Agent": _user_agent(), "Accept": "application/json",
                        "Accept-Encoding": "gzip, deflate", **headers}
        self.proxy = proxy
        self.tls = tls
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self._ahead: dict[tuple[str, str], HTTPConnection] = {}
        self.in_flight: set[HTTPConnection] = set()  # sent ahead, answer not read yet
        timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        # retries=False: the client above owns every retry decision, and sees every answer.
        options: dict[str, Any] = {"timeout": timeout, "retries": False, **tls}
        self.pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options))

    @property
    def proxy_shown(self) -> str | None:
        """The proxy as an error message may name it: never its credentials."""
        if not self.proxy:
            return None
        parts = urlsplit(self.proxy)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"

    def get(self, url: str, params: Mapping[str, Any] | None) -> Answer:
        url = _with_query(url, params)
        response = self.pool.request("GET", url, headers=self.headers, redirect=False)
        return self.answer(url, response, response.data)

    def answer(self, url: str, response: urllib3.BaseHTTPResponse, data: bytes) -> Answer:
        """The answer to a GET of `url`, after following its redirects (from the pool or
        from a connection of `send`, so both follow them the same way)."""
        headers = self.headers
        for _ in range(MAX_REDIRECTS):
            location = response.headers.get("Location")
            if response.status not in REDIRECTS or not location:
                break
            target = urljoin(url, location)
            if urlsplit(target).netloc != urlsplit(url).netloc:
                # As requests does: credentials never follow a redirect to another host.
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = target
            response = self.pool.request("GET", url, headers=headers, redirect=False)
            data = response.data
        return Answer(response.status, response.headers, data, response.reason or "",
                      urlsplit(url).path)

    def send(self, url: str, params: Mapping[str, Any] | None) -> Sent:
        """Send a GET and return at once; `Sent.receive()` reads the answer later, and the
        server works on it meanwhile. No thread: a second one would fight this one for the
        interpreter lock, which costs more than the wait it hides.

        A connection of its own per host (a pool hands out whole request-and-answer turns
        only), kept alive like the pool's. Through a proxy, the GET is simply made later."""
        url = _with_query(url, params)
        parts = urlsplit(url)
        if self.proxy:
            return Sent(self, url, None)
        key = (parts.scheme, parts.netloc)
        conn = self._ahead.get(key)
        if conn is not None and (conn in self.in_flight or not conn.is_connected):
            # Dropped by the server while idle, or an answer never read (its reader gave
            # up): connect again.
            self.in_flight.discard(conn)
            conn.close()
        if conn is None:
            cls, extra = ((HTTPSConnection, self.tls) if parts.scheme == "https"
                          else (HTTPConnection, {}))
            conn = self._ahead[key] = cls(parts.hostname or "", parts.port,
                                          timeout=self.connect_timeout, **extra)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn.timeout = self.connect_timeout
            conn.request("GET", target, headers=self.headers)
            conn.timeout = self.read_timeout  # what getresponse() waits for the answer
        except TRANSIENT_ERRORS as exc:
            conn.close()
            return Sent(self, url, None, error=exc)
        except OSError as exc:
            conn.close()
            return Sent(self, url, None, error=ProtocolError("Connection aborted.", exc))
        self.in_flight.add(conn)
        return Sent(self, url, conn)


def _with_query(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    # As requests does: None means "leave out", a list repeats the key.
    query = urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
    return f"{url}{'&' if '?' in url else '?'}{query}" if query else url


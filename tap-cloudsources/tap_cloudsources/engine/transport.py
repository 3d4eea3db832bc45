"""The wire under `HttpClient`: one urllib3 connection pool per source, nothing more.

`requests` costs about a millisecond of CPU per call on top of urllib3 (hooks, cookie jar,
adapters, a Response wrapper); at 100 records a page that is a tenth of a fast tap's time.
So the client speaks urllib3 directly and keeps requests only to read the environment the
way requests does (HTTPS_PROXY / NO_PROXY, REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE), once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import certifi
import requests
import urllib3
from urllib3.exceptions import (
    DecodeError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    SSLError,
    TimeoutError,
)

# Network failures worth another try. A refused connection or an unknown host is a
# NewConnectionError; a body cut short or a reset connection is a ProtocolError.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    TimeoutError, NewConnectionError, ProtocolError, ProxyError, SSLError, DecodeError,
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
        timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        # retries=False: the client above owns every retry decision, and sees every answer.
        options: dict[str, Any] = {"timeout": timeout, "retries": False, **tls}
        self.pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options))

    def get(self, url: str, params: Mapping[str, Any] | None) -> Answer:
        if params:
            # As requests does: None means "leave out", a list repeats the key.
            query = urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
            url = f"{url}{'&' if '?' in url else '?'}{query}" if query else url
        headers = self.headers
        for _ in range(MAX_REDIRECTS + 1):
            response = self.pool.request("GET", url, headers=headers, redirect=False)
            location = response.headers.get("Location")
            if response.status not in REDIRECTS or not location:
                break
            target = urljoin(url, location)
            if urlsplit(target).netloc != urlsplit(url).netloc:
                # As requests does: credentials never follow a redirect to another host.
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = target
        return Answer(response.status, response.headers, response.data, response.reason or "",
                      urlsplit(url).path)

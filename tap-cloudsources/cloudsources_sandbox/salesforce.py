"""The Salesforce surface, minimal for now: the OAuth token endpoint, the versions list and
`/limits`, Bearer sessions on `/services/data/...`, `Sforce-Limit-Info` and Salesforce's error
bodies, so that faults answer on these paths as Salesforce does. The data routes (query,
sobjects, Bulk 2.0) extend `_rest`.

Contract: /work/shared/fixtures/API_NOTES.md section 3 (§3.1 OAuth, §3.2 REST, §3.3 limits,
§3.4 errors).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from .fakedata import rand_chars
from .salesforce_faults import (
    API_MAX,
    AUTH_FAILURE,
    EXPIRED_GRANT,
    INVALID_CLIENT,
    INVALID_CLIENT_ID,
    INVALID_SESSION,
    NOT_FOUND,
    OTHER_FAULTS,
    SALESFORCE_FAULTS,
    TOKEN_FAULTS,
    UNSUPPORTED_GRANT,
)
from .surface import FaultAnswers, Response
from .world import World

SOURCE = "salesforce"
PREFIX = "/services/"
DATA = "/services/data"
TOKEN = "/services/oauth2/token"
MIN_SECRET = 8  # client ids, secrets, passwords and refresh tokens this long are accepted
GRANTS = ("refresh_token", "password", "client_credentials")
OLDEST, LATEST = 31, 63  # versions 21.0-30.0 are retired; Spring '25 is current on the clock
SEASONS = ("Winter", "Spring", "Summer")  # three releases a year since v20.0, Winter '11
VERSION = re.compile(r"v(\d+)\.0")
ID_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def id18(id15: str) -> str:
    """The 18-character form of a 15-character record id: a case-safe checksum suffix."""
    suffix = ""
    for start in (0, 5, 10):
        chunk = id15[start:start + 5]
        suffix += ID_SUFFIX[sum(1 << i for i, ch in enumerate(chunk) if ch.isupper())]
    return id15 + suffix


def versions() -> list[dict[str, str]]:
    out = []
    for n in range(OLDEST, LATEST + 1):
        season, year = SEASONS[(n - 20) % 3], 11 + (n - 20) // 3
        out.append({"label": f"{season} '{year:02d}", "url": f"{DATA}/v{n}.0",
                    "version": f"{n}.0"})
    return out


def bearer(headers: Mapping[str, str]) -> str:
    scheme, _, value = (headers.get("Authorization") or "").strip().partition(" ")
    return value.strip() if scheme.lower() in ("bearer", "oauth") else ""


class SalesforceAPI:
    source = SOURCE
    prefix = PREFIX
    faults: FaultAnswers = SALESFORCE_FAULTS

    def __init__(self, world: World) -> None:
        self.world = world
        ids = world.rng("salesforce", "org")
        self.org_id = "00D" + rand_chars(ids, 12)  # 15 characters, as in access tokens
        self.user_id = "005" + rand_chars(ids, 12)
        self._rng = random.Random()  # tokens and error ids need only be unique
        self._lock = threading.Lock()
        self._usage = 0  # REST requests so far (the 24-hour rolling window is not emulated)

    # -- the fault layer's hooks ------------------------------------------------------------
    def answers(self, path: str, headers: Mapping[str, str]) -> FaultAnswers:
        if path.startswith(DATA):
            return SALESFORCE_FAULTS
        return TOKEN_FAULTS if path.rstrip("/") == TOKEN else OTHER_FAULTS

    def fault_vars(self, path: str, headers: Mapping[str, str]) -> dict[str, str]:
        rest = path.startswith(DATA + "/v")
        with self._lock:
            if rest:  # once per request (Surface.fault_vars), faulted or not
                self._usage += 1
            usage = self._usage
            error_id = (f"{self._rng.randrange(10**8, 2**31)}-{self._rng.randrange(10**4, 10**6)}"
                        f" ({-self._rng.randrange(10**8, 2**31)})")
        # A revoked credential is refused at the token endpoint whatever was sent.
        key = "oauth2" if path.rstrip("/") == TOKEN else bearer(headers)
        return {"key": key, "usage": str(usage), "error_id": error_id}

    # -- answering ----------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, headers: Mapping[str, str],
               body: bytes = b"") -> Response:
        if path.rstrip("/") == TOKEN:
            return self._token(body, headers)
        if path == DATA or path.startswith(DATA + "/"):
            with self._lock:
                usage = self._usage
            out = {"Sforce-Limit-Info": f"api-usage={usage}/{API_MAX}"}
            status, payload = self._rest(method, path[len(DATA):].strip("/"), headers, usage)
            return Response(status, payload, out)
        return NOT_FOUND.render({})

    def _rest(self, method: str, route: str, headers: Mapping[str, str],
              usage: int) -> tuple[int, Any]:
        if method not in ("GET", "HEAD"):
            return 404, NOT_FOUND.body
        if not route:  # the versions list needs no session (§3.2)
            return 200, versions()
        if not self.valid_token(bearer(headers)):
            return 401, INVALID_SESSION.body
        version, _, resource = route.partition("/")
        match = VERSION.fullmatch(version)
        if version != "latest" and not (match and OLDEST <= int(match.group(1)) <= LATEST):
            return 404, NOT_FOUND.body
        if resource == "limits":
            return 200, self._limits(usage)
        return 404, NOT_FOUND.body

    def valid_token(self, token: str) -> bool:
        """A session of this org: what the token endpoint issues (`{org_id}!...`)."""
        org, bang, secret = token.partition("!")
        return org == self.org_id and bool(bang) and len(secret) >= MIN_SECRET

    def _token(self, body: bytes, headers: Mapping[str, str]) -> Response:
        form = dict(reversed(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
        grant = form.get("grant_type", "")
        secret = form.get("client_secret", "")
        if grant not in GRANTS:
            return Response(400, UNSUPPORTED_GRANT)
        if len(form.get("client_id", "")) < MIN_SECRET:
            return Response(400, INVALID_CLIENT_ID)
        if grant == "refresh_token" and len(form.get("refresh_token", "")) < MIN_SECRET:
            return Response(400, EXPIRED_GRANT)
        if grant != "refresh_token" and len(secret) < MIN_SECRET:
            return Response(400, INVALID_CLIENT)
        if grant == "password" and (not form.get("username")
                                    or len(form.get("password", "")) < MIN_SECRET):
            return Response(400, AUTH_FAILURE)
        instance = f"http://{headers.get('Host') or 'localhost'}"
        identity = f"{instance}/id/{id18(self.org_id)}/{id18(self.user_id)}"
        issued_at = str(self.world.clock * 1000)
        # Keyed by the consumer secret; the sandbox knows it only when the client sends it.
        mac = hmac.new(secret.encode(), (identity + issued_at).encode(), hashlib.sha256)
        with self._lock:
            token = f"{self.org_id}!AQ" + rand_chars(self._rng, 94)
        # No refresh_token: the refresh, password and client-credentials flows issue none.
        return Response(200, {
            "access_token": token, "instance_url": instance, "id": identity,
            "token_type": "Bearer", "issued_at": issued_at,
            "signature": base64.b64encode(mac.digest()).decode("ascii"),
            "scope": "refresh_token api" if grant == "refresh_token" else "api",
        })

    @staticmethod
    def _limits(usage: int) -> dict[str, Any]:
        """The documented /limits shape (§3.2), with a Developer Edition's allocations."""
        def limit(most: int, left: int | None = None) -> dict[str, Any]:
            return {"Max": most, "Remaining": most if left is None else left}
        return {
            "ConcurrentAsyncGetReportInstances": limit(200),
            "DailyApiRequests": {**limit(API_MAX, max(0, API_MAX - usage)),
                                 "cloudsources": limit(0)},  # a connected app's share
            "DailyAsyncApexExecutions": limit(250_000),
            "DailyBulkApiBatches": limit(15_000),
            "DailyBulkV2QueryFileStorageMB": limit(976_562),
            "DailyBulkV2QueryJobs": limit(10_000),
            "DataStorageMB": limit(5),
            "FileStorageMB": limit(20),
            "HourlyODataCallout": limit(20_000),
            "SingleEmail": limit(15),
        }

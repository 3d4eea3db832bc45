"""The Zendesk Support API v2 surface, minimal for now: authentication, the rate-limit headers,
`GET /api/v2/users/me` and Zendesk's 404 for every other route, so that faults answer on these
paths as Zendesk does. The data routes (tickets, users, incremental exports) extend `_route`.

Contract: /work/shared/fixtures/API_NOTES.md section 2 (§2.1 auth, §2.2 errors, §2.5 limits).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .surface import FaultAnswers, Response, fill
from .world import World
from .zendesk_faults import (
    AUTH_FAILED,
    HEADERS,
    INCREMENTAL_FAULTS,
    INVALID_ENDPOINT_BODY,
    LIMIT,
    OAUTH_FAULTS,
    OAUTH_INCREMENTAL_FAULTS,
    OAUTH_INVALID,
    ZENDESK_FAULTS,
)

SOURCE = "zendesk"
PREFIX = "/api/v2/"
MIN_SECRET = 8  # any email with any API token (or any OAuth token) this long is accepted
OAUTH_EMAIL = "admin@cloudsources-sandbox.example"  # whom an OAuth token stands for
DAY = 86_400


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def credential(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """("basic", "email/token:secret") or ("bearer", token) as sent; None without either."""
    scheme, _, value = (headers.get("Authorization") or "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return "bearer", value
    if scheme.lower() == "basic" and value:
        try:
            return "basic", base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "basic", ""
    return None


def token_email(user: str) -> str | None:
    """The email of a valid `{email}/token:{api_token}` pair. Password auth (`{email}:{pw}`) is
    deprecated and off by default in new accounts (§2.1), so it is refused."""
    name, sep, secret = user.partition(":")
    email, marker, rest = name.rpartition("/token")
    if not sep or not marker or rest or "@" not in email or len(secret) < MIN_SECRET:
        return None
    return email


class MinuteWindow:
    """The account's requests in the current wall-clock minute, for the rate-limit headers.
    Informational only: the sandbox does not refuse past LIMIT (use the rate_limit setting)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minute, self._count = -1, 0

    def hit(self, now: float) -> None:
        with self._lock:
            minute = int(now // 60)
            if minute != self._minute:
                self._minute, self._count = minute, 0
            self._count += 1

    def state(self, now: float) -> dict[str, str]:
        with self._lock:
            used = self._count if int(now // 60) == self._minute else 0
        return {"remaining": str(max(0, LIMIT - used)), "reset": str(60 - int(now) % 60)}


class ZendeskAPI:
    source = SOURCE
    prefix = PREFIX
    faults: FaultAnswers = ZENDESK_FAULTS

    def __init__(self, world: World) -> None:
        self.world = world
        self._window = MinuteWindow()

    def answers(self, path: str, headers: Mapping[str, str]) -> FaultAnswers:
        incremental = path.startswith(PREFIX + "incremental/")
        oauth = (credential(headers) or ("",))[0] == "bearer"
        if oauth:
            return OAUTH_INCREMENTAL_FAULTS if incremental else OAUTH_FAULTS
        return INCREMENTAL_FAULTS if incremental else ZENDESK_FAULTS

    def fault_vars(self, path: str, headers: Mapping[str, str]) -> dict[str, str]:
        now = time.time()
        self._window.hit(now)  # once per request (Surface.fault_vars), faulted or not
        cred = credential(headers)
        return {"key": cred[1] if cred else "", **self._window.state(now)}

    def handle(self, method: str, path: str, query: str, headers: Mapping[str, str],
               body: bytes = b"") -> Response:
        values = self._window.state(time.time())
        cred = credential(headers)
        if cred is None or (cred[0] == "basic" and token_email(cred[1]) is None):
            return AUTH_FAILED.render(values, HEADERS)
        if cred[0] == "bearer" and len(cred[1]) < MIN_SECRET:
            return OAUTH_INVALID.render(values, HEADERS)
        email = OAUTH_EMAIL if cred[0] == "bearer" else token_email(cred[1]) or ""
        out = fill(dict(HEADERS), values)
        route = path[len(PREFIX):].removesuffix(".json")
        if method in ("GET", "HEAD") and route == "users/me":
            return Response(200, {"user": self._me(email, headers)}, out)
        return Response(404, INVALID_ENDPOINT_BODY, out)

    def _me(self, email: str, headers: Mapping[str, str]) -> dict[str, Any]:
        """The authenticated user: an admin (incremental exports are admin-only), shaped like
        go-zendesk's GET_user.json; the id is stable for an email."""
        user_id = 360_000_000_000 + int(hashlib.sha256(email.encode()).hexdigest(), 16) % 10**10
        base = f"http://{headers.get('Host') or 'localhost'}{PREFIX}"
        clock = self.world.clock
        local = email.partition("@")[0].replace(".", " ").replace("_", " ")
        return {
            "id": user_id, "url": f"{base}users/{user_id}.json",
            "name": local.title() or "Sandbox Admin", "email": email,
            "created_at": _iso(clock - 400 * DAY), "updated_at": _iso(clock - DAY),
            "time_zone": "UTC", "iana_time_zone": "Etc/UTC", "phone": None,
            "shared_phone_number": None, "photo": None, "locale_id": 1, "locale": "en-US",
            "organization_id": None, "role": "admin", "verified": True, "external_id": None,
            "tags": [], "alias": None, "active": True, "shared": False, "shared_agent": False,
            "last_login_at": _iso(clock), "two_factor_auth_enabled": False, "signature": None,
            "details": None, "notes": None, "role_type": None, "custom_role_id": None,
            "moderator": True, "ticket_restriction": None, "only_private_comments": False,
            "restricted_agent": False, "suspended": False, "chat_only": False,
            "default_group_id": None, "report_csv": True, "user_fields": {},
        }

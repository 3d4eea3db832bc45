"""What every emulated API surface gives the HTTP app, and the response it returns."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec


@dataclass(frozen=True)
class Transport:
    """A fault the HTTP layer acts out instead of (or while) answering: reset, stall, truncated."""

    kind: str
    seconds: float = 0.0


@dataclass
class Response:
    status: int
    body: Any  # a JSON value, or bytes sent as they are (a non-JSON body)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    transport: Transport | None = None
    delay: float = 0.0  # seconds to wait before answering (injected latency)

    def encode(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        # UTF-8 as real APIs send it (clients must cope with it). msgspec is ~15x faster than
        # json.dumps on a page of 100 charges, which keeps the sandbox out of a tap benchmark.
        try:
            return _ENCODER.encode(self.body)
        except (TypeError, OverflowError):  # beyond msgspec's types: the standard library
            return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


_ENCODER = msgspec.json.Encoder()
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(value: Any, values: Mapping[str, str]) -> Any:
    """Replace `{name}` in every string of a JSON value; unknown names are left as they are."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    return value


# What a load balancer in front of an API sends when the backend is away: not JSON at all.
UNAVAILABLE_PAGE = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class Answer:
    """A canned API answer. `{name}` in its strings is filled from the surface's fault_vars."""

    status: int
    body: Any  # JSON value, or bytes for a non-JSON body (sent without the API's own headers)
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def render(self, values: Mapping[str, str],
               common: Mapping[str, str] | None = None) -> Response:
        # A non-JSON page comes from a proxy in front of the API, which adds no API headers.
        json_answer = self.content_type == "application/json"
        base = dict(common or {}) if json_answer else {}
        headers = fill({**base, **self.headers}, values)
        return Response(self.status, fill(self.body, values), headers, self.content_type)


@dataclass(frozen=True)
class FaultAnswers:
    """How one API answers each injected fault: data only, so a new API adds a table, not code.

    `kinds` holds the answers of the random kinds that are HTTP answers ("429",
    "429-no-retry-after", "500", "503" for Stripe); `statuses` the default body of a scripted
    status. `{retry_after}` in an answer is the rule's `retry_after` (default 1 second), or for
    `rate_limited` the seconds until the token bucket lets the caller through.
    """

    kinds: Mapping[str, Answer]
    statuses: Mapping[int, Answer]
    revoked: Answer  # every request while credentials are revoked
    rate_limited: Answer  # beyond the token bucket
    headers: Mapping[str, str] = field(default_factory=dict)  # on every JSON answer
    rate_limit_reasons: tuple[str, ...] = ("",)  # random 429s pick {reason} among these
    cursor_params: tuple[str, ...] = ()  # a pagination loop ignores these query parameters
    loop_body: Mapping[str, Any] = field(default_factory=dict)  # ...and sets these on the page
    path_suffix: str = ""  # optional on the API's paths (Zendesk's ".json"): rules ignore it


class Surface(Protocol):
    """One API (Stripe, Zendesk, Salesforce) mounted under a path prefix."""

    source: str
    prefix: str
    faults: FaultAnswers  # every kind and status the API answers: rules are checked against it

    def answers(self, path: str, headers: Mapping[str, str]) -> FaultAnswers:
        """The table for this request: the same kinds and statuses as `faults`, but an API may
        word them by path or credential (Zendesk's incremental exports, Salesforce's OAuth)."""
        ...

    def handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Response: ...

    def fault_vars(self, path: str, headers: Mapping[str, str]) -> dict[str, str]:
        """Values for the {placeholders} of fault answers; "key" identifies the caller. Called
        exactly once per API request, before it is answered, so an API may meter it here."""
        ...

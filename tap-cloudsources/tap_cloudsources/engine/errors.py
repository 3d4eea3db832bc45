"""What an HTTP answer means for the run, as lookup tables rather than if-chains.

Each source supplies an `ErrorPolicy`: a status table plus, where the API says more in a header
or body than in its status, a `refine` hook (e.g. Salesforce's 403 REQUEST_LIMIT_EXCEEDED is a
quota, not a permission problem; Stripe's `Stripe-Should-Retry` overrides the status).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import msgspec


class Outcome(enum.Enum):
    OK = "ok"
    RETRY = "retry"  # transient: back off and try again
    AUTH = "auth"  # credentials rejected: stop the whole run
    PERMISSION = "permission"  # this collection may not be read: skip it, finish the others
    QUOTA = "quota"  # the account's API allowance is spent: stop the run
    FATAL = "fatal"  # a request the API will never accept as sent


class HttpAnswer(Protocol):
    """What a policy reads of a response (the transport's `Answer`, or a requests.Response)."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def content(self) -> bytes: ...
    @property
    def text(self) -> str: ...
    @property
    def reason(self) -> str: ...


DEFAULT_STATUS_TABLE: Mapping[int, Outcome] = {
    401: Outcome.AUTH,
    403: Outcome.PERMISSION,
    408: Outcome.RETRY,
    409: Outcome.RETRY,
    425: Outcome.RETRY,
    429: Outcome.RETRY,
}


def body_text(response: HttpAnswer, limit: int = 300) -> str:
    """The body as short text; never raises, whatever the server sent."""
    try:
        text = response.text
    except Exception:  # noqa: BLE001 - a broken body must not hide the status
        return ""
    return " ".join(text.split())[:limit]


def json_or_none(response: HttpAnswer) -> object | None:
    try:
        return msgspec.json.decode(response.content or b"null")
    except msgspec.DecodeError:
        return None


@dataclass(frozen=True)
class ErrorPolicy:
    """Maps a response to an `Outcome` and a human reason taken from the API's own words."""

    statuses: Mapping[int, Outcome] = field(default_factory=lambda: DEFAULT_STATUS_TABLE)
    reason_from_body: Callable[[object], str | None] = lambda body: None
    refine: Callable[[HttpAnswer, Outcome], Outcome] | None = None

    def classify(self, response: HttpAnswer) -> Outcome:
        status = response.status_code
        if status < 400:
            outcome = Outcome.OK
        elif status in self.statuses:
            outcome = self.statuses[status]
        else:
            outcome = Outcome.RETRY if status >= 500 else Outcome.FATAL
        return self.refine(response, outcome) if self.refine else outcome

    def reason(self, response: HttpAnswer) -> str:
        body = json_or_none(response)
        message = None
        if body is not None:
            try:
                message = self.reason_from_body(body)
            except (AttributeError, KeyError, IndexError, TypeError):
                message = None
        if not message:
            message = body_text(response) or response.reason or ""
        status = f"HTTP {response.status_code}"
        return f"{message} ({status})" if message else status

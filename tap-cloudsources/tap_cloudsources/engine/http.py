"""One request path for every source: budget → request → classify → retry or raise.

Retries: the server's hint first (`Retry-After` in seconds or as an HTTP date, then the
rate-limit reset headers), else exponential backoff with jitter. The total time spent retrying
one request is bounded. Every call is counted on the collection's meter.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError

from tap_cloudsources.engine.errors import ErrorPolicy, HttpAnswer, Outcome, json_or_none
from tap_cloudsources.engine.ratelimit import RequestBudget
from tap_cloudsources.engine.report import CollectionMeter
from tap_cloudsources.engine.transport import TRANSIENT_ERRORS, Sent, Transport
from tap_cloudsources.errors import (
    AccessDenied,
    APIError,
    PermissionDenied,
    QuotaExhausted,
    RetriesExhausted,
    SourceUnreachable,
    redact,
)

logger = logging.getLogger("tap-cloudsources.http")

UNREACHABLE = frozenset({"connection refused", "host name not found"})
UNREACHABLE_RETRIES = 2
RESET_HEADERS = ("ratelimit-reset", "x-ratelimit-reset", "rate-limit-reset", "x-rate-limit-reset")
REMAINING_HEADERS = tuple(name.replace("reset", "remaining") for name in RESET_HEADERS)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 8
    max_retry_seconds: float = 600.0  # per request, waits included
    base_delay: float = 0.4
    max_delay: float = 60.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Equal-jitter exponential backoff: never zero, never synchronised across clients."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def server_wait_hint(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait, from Retry-After or a rate-limit reset header."""
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                when = parsedate_to_datetime(retry_after)
                return max(0.0, when.timestamp() - (now if now is not None else time.time()))
            except (TypeError, ValueError):
                pass
    for name in RESET_HEADERS:
        value = headers.get(name)
        if value:
            try:
                seconds = float(value)
            except ValueError:
                continue
            if seconds > 1e9:  # an epoch timestamp, not a delay
                seconds -= now if now is not None else time.time()
            return max(0.0, seconds)
    return None


def quota_spent(headers: Mapping[str, str]) -> bool:
    for name in REMAINING_HEADERS:
        value = headers.get(name)
        if value is not None:
            try:
                return float(value) <= 0
            except ValueError:
                return False
    return False


class HttpClient:
    """Sends a source's GET requests; shared by every collection of that source."""

    def __init__(
        self,
        *,
        source: str,
        base_url: str,
        headers: Mapping[str, str],
        errors: ErrorPolicy,
        retry: RetryPolicy,
        budget: RequestBudget,
        secrets: tuple[str, ...] = (),
        on_progress: Callable[[], None] = lambda: None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: Transport | None = None,
    ) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.errors = errors
        self.retry = retry
        self.budget = budget
        self.secrets = secrets
        self.on_progress = on_progress
        self._sleep = sleep
        self._clock = clock
        self.transport = transport or Transport(
            self.base_url, headers, connect_timeout=retry.connect_timeout,
            read_timeout=retry.read_timeout)
        self.ever_connected = False
        # Headers of the last successful answer (e.g. `Date`, the server's idea of now).
        self.last_headers: Mapping[str, str] = {}

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}{path}"

    def send_ahead(self, path: str, params: Mapping[str, Any] | None,
                   meter: CollectionMeter) -> Sent:
        """The first attempt of a GET, sent now and answered later: pass it to `get_json`
        as `sent`. A list sends its next page before writing this page's records, so the
        server prepares it meanwhile."""
        self.budget.acquire()
        meter.calls += 1
        return self.transport.send(self.url(path), params)

    def get_json(self, path: str, params: Mapping[str, Any] | None, meter: CollectionMeter,
                 *, sent: Sent | None = None) -> Any:
        """GET and decode; raises the run- or collection-level error the answer means."""
        url = self.url(path)
        started = self._clock()
        attempt = 0
        while True:
            if sent is None:
                self.budget.acquire()
                meter.calls += 1
            wait: float | None = None
            try:
                if sent is None:
                    response = self.transport.get(url, params)
                else:
                    response, sent = sent.receive(), None
            except TRANSIENT_ERRORS as exc:
                problem = _describe_network_error(exc)
            else:
                self.ever_connected = True
                outcome = self.errors.classify(response)
                if outcome is Outcome.OK:
                    body = json_or_none(response)
                    if body is not None:
                        if quota_spent(response.headers):
                            hint = server_wait_hint(response.headers)
                            if hint:
                                self.budget.pause(hint)
                        self.last_headers = response.headers
                        self.on_progress()
                        return body
                    problem = f"HTTP {response.status_code} with a body that is not JSON"
                elif outcome is Outcome.RETRY:
                    problem = self._reason(response)
                    wait = server_wait_hint(response.headers)
                    if wait is not None:
                        self.budget.pause(wait)
                else:
                    self._raise_for(outcome, response, meter)
            attempt += 1
            delay = wait if wait is not None else self.retry.backoff(attempt)
            spent = self._clock() - started
            # A host never reached that refuses or does not resolve is a configuration error:
            # two quick retries, not the full policy.
            limit = (UNREACHABLE_RETRIES if not self.ever_connected and problem in UNREACHABLE
                     else self.retry.max_retries)
            if attempt > limit or spent + delay > self.retry.max_retry_seconds:
                self._give_up(problem, attempt, spent, meter)
            meter.retries += 1
            logger.warning(
                "%s: %s: %s; retry %d/%d in %.1fs", self.source, meter.name, problem, attempt,
                self.retry.max_retries, delay,
            )
            self._sleep(delay)

    def _reason(self, response: HttpAnswer) -> str:
        return redact(self.errors.reason(response), *self.secrets)

    def _raise_for(self, outcome: Outcome, response: HttpAnswer,
                   meter: CollectionMeter) -> None:
        reason = self._reason(response)
        if outcome is Outcome.AUTH:
            raise AccessDenied(self.source, reason)
        if outcome is Outcome.QUOTA:
            raise QuotaExhausted(f"{self.source}: API quota exhausted: {reason}")
        if outcome is Outcome.PERMISSION:
            raise PermissionDenied(f"permission denied: {self.source}: {meter.name}: {reason}")
        raise APIError(f"{self.source}: {meter.name}: {reason} "
                       f"(GET {response.path})")

    def _give_up(self, problem: str, attempts: int, spent: float, meter: CollectionMeter) -> None:
        if not self.ever_connected:
            via = self.transport.proxy_shown
            raise SourceUnreachable(
                f"cannot reach the {self.source} API at {self.base_url}"
                f"{f' through the proxy {via}' if via else ''}: {problem}")
        raise RetriesExhausted(
            f"{self.source}: {meter.name}: gave up after {attempts} attempts in {spent:.0f}s: "
            f"{problem}"
        )


def _describe_network_error(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "Failed to resolve" in text:
        return "host name not found"
    if isinstance(exc, ConnectTimeoutError):
        return "connect timeout"
    if isinstance(exc, ReadTimeoutError):
        return "read timeout (no response)"
    if "IncompleteRead" in text or "InvalidChunkLength" in text:
        return "response body cut short"
    if "RemoteDisconnected" in text or "reset" in text.lower() or "aborted" in text.lower():
        return "connection dropped by the server"
    return exc.__class__.__name__

"""Errors the tap reports to the user as one line, each with its exit code.

Exit codes (see README): 0 success, 1 anything else, 2 access denied, 3 partial, 4 killed,
5 stopped by an API quota guard.
"""

from __future__ import annotations

import re

EXIT_ERROR = 1
EXIT_ACCESS_DENIED = 2
EXIT_PARTIAL = 3
EXIT_KILLED = 4
EXIT_QUOTA = 5

# API keys and tokens as the vendors spell them; masked even when the API echoes them back.
# The prefix (key kind and mode) stays visible: it helps, and is not secret.
_SECRET_PATTERNS = [
    re.compile(r"\b((?:sk|rk|pk)_(?:test|live)_)[A-Za-z0-9*]+"),
    re.compile(r"\b(whsec_)[A-Za-z0-9*]+"),
]


def redact(text: str, *secrets: str | None) -> str:
    """Remove every known secret and anything shaped like a vendor key from text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text


class CloudSourcesError(Exception):
    """An expected failure: printed as one line, no traceback."""

    exit_code = EXIT_ERROR

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class CollectionError(CloudSourcesError):
    """Fails one collection; the run goes on with the others and ends partial (exit 3)."""


class ConfigError(CloudSourcesError):
    """The configuration cannot work (missing or invalid setting)."""


class SourceUnreachable(CloudSourcesError):
    """The API host could not be reached at all."""


class AccessDenied(CloudSourcesError):
    """Credentials rejected: the run stops before reading any collection."""

    exit_code = EXIT_ACCESS_DENIED

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"access denied: {source}: {reason}")
        self.source = source
        self.reason = reason


class QuotaExhausted(CloudSourcesError):
    """The account's API allowance is spent: stop before burning what is left."""

    exit_code = EXIT_QUOTA


class RunKilled(CloudSourcesError):
    """The watchdog stopped the run (too long, or no progress)."""

    exit_code = EXIT_KILLED


class PermissionDenied(CollectionError):
    """The credentials may not read one collection; the others can still complete."""


class APIError(CollectionError):
    """A request the API will not accept as sent (4xx other than auth)."""


class RetriesExhausted(CollectionError):
    """A request still failed after every retry the policy allows."""

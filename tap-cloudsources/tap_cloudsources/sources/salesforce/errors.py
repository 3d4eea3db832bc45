"""Salesforce's answers as the engine must read them.

Errors are a JSON array `[{"message", "errorCode"}]`. The daily API allowance answers 403
`REQUEST_LIMIT_EXCEEDED`, which is a quota (stop, exit 5), not a permission problem; there is no
Retry-After. `INVALID_SESSION_ID` (401) means the access token expired: the source refreshes it
once before it counts as access denied.
"""

from __future__ import annotations

from tap_cloudsources.engine.errors import (
    DEFAULT_STATUS_TABLE,
    ErrorPolicy,
    HttpAnswer,
    Outcome,
    json_or_none,
)

QUOTA_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED"})
AUTH_CODES = frozenset({"INVALID_SESSION_ID", "API_DISABLED_FOR_ORG", "invalid_grant",
                        "invalid_client_id", "invalid_client"})


def _codes(body: object) -> list[str]:
    if isinstance(body, list):
        return [str(item.get("errorCode")) for item in body if isinstance(item, dict)]
    if isinstance(body, dict) and "error" in body:  # the OAuth token endpoint's shape
        return [str(body["error"])]
    return []


def _salesforce_message(body: object) -> str | None:
    if isinstance(body, list) and body and isinstance(body[0], dict):
        first = body[0]
        return f"{first.get('errorCode')}: {first.get('message')}"
    if isinstance(body, dict) and "error" in body:
        return f"{body['error']}: {body.get('error_description', '')}".rstrip(": ")
    return None


def _salesforce_refine(response: HttpAnswer, outcome: Outcome) -> Outcome:
    codes = set(_codes(json_or_none(response)))
    if codes & QUOTA_CODES:
        # "ConcurrentRequests" is a short-lived limit worth retrying; the daily total is not.
        text = response.text
        return Outcome.RETRY if "ConcurrentRequests" in text else Outcome.QUOTA
    if codes & AUTH_CODES and response.status_code in (400, 401, 403):
        return Outcome.AUTH
    return outcome


SALESFORCE_ERRORS = ErrorPolicy(
    statuses=DEFAULT_STATUS_TABLE,
    reason_from_body=_salesforce_message,
    refine=_salesforce_refine,
)

"""How Salesforce answers injected faults (API_NOTES.md §3.1 OAuth, §3.3 limits, §3.4 errors).
Data only; salesforce.py answers its own errors with the same bodies.

Placeholders, filled per request by SalesforceAPI.fault_vars: {usage}, {error_id}.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .surface import Answer, FaultAnswers

API_MAX = 15_000  # daily API requests of a Developer Edition org (§3.3)
# §3.2 [lib]: on every REST response (/services/data/...), not on the OAuth endpoints.
HEADERS = {"Sforce-Limit-Info": f"api-usage={{usage}}/{API_MAX}"}


def errors(message: str, code: str) -> list[dict[str, Any]]:
    """The REST error body: always an array (§3.4)."""
    return [{"message": message, "errorCode": code}]


INVALID_SESSION = Answer(401, errors("Session expired or invalid", "INVALID_SESSION_ID"))
# §3.3 [obs]: the daily allocation is spent. No Retry-After: usage must fall first.
REQUEST_LIMIT = Answer(403, errors("TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED"),
                       {"Sforce-Limit-Info": f"api-usage={API_MAX}/{API_MAX}"})
# §3.4: the error code is documented, this exact message is [unverified].
INSUFFICIENT_ACCESS = Answer(403, errors("insufficient access rights on object id",
                                         "INSUFFICIENT_ACCESS"))
NOT_FOUND_BODY = errors("The requested resource does not exist", "NOT_FOUND")
NOT_FOUND = Answer(404, NOT_FOUND_BODY)
# §3.3: some edge/gateway paths answer 429 [obs in connector tests; body and headers
# unverified]. Salesforce documents no Retry-After, so none is sent.
TOO_MANY_REQUESTS = Answer(429, errors("Too many requests", "REQUEST_LIMIT_EXCEEDED"))
# [obs: restforce #821] the ErrorId differs on every answer.
UNKNOWN_EXCEPTION = Answer(500, errors(
    "An unexpected error occurred. Please include this ErrorId if you contact support: "
    "{error_id}", "UNKNOWN_EXCEPTION"))
# [obs: restforce #156, #568] "SERVER_UNAVAILABLE: Server too busy".
SERVER_UNAVAILABLE = Answer(503, errors("Server too busy", "SERVER_UNAVAILABLE"))

# §3.1 OAuth token endpoint answers (HTTP 400, a JSON object, not an array) [obs, fixtures].
def oauth_error(error: str, description: str) -> dict[str, str]:
    return {"error": error, "error_description": description}


UNSUPPORTED_GRANT = oauth_error("unsupported_grant_type", "grant type not supported")
INVALID_CLIENT_ID = oauth_error("invalid_client_id", "client identifier invalid")
INVALID_CLIENT = oauth_error("invalid_client", "invalid client credentials")
AUTH_FAILURE = oauth_error("invalid_grant", "authentication failure")
EXPIRED_GRANT = oauth_error("invalid_grant", "expired access/refresh token")

SALESFORCE_FAULTS = FaultAnswers(
    kinds={"403-request-limit": REQUEST_LIMIT, "403-permission": INSUFFICIENT_ACCESS,
           "429": TOO_MANY_REQUESTS, "500": UNKNOWN_EXCEPTION, "503": SERVER_UNAVAILABLE},
    statuses={401: INVALID_SESSION, 403: REQUEST_LIMIT, 404: NOT_FOUND, 429: TOO_MANY_REQUESTS,
              500: UNKNOWN_EXCEPTION, 503: SERVER_UNAVAILABLE},
    revoked=INVALID_SESSION,
    rate_limited=REQUEST_LIMIT,
    headers=HEADERS,
)


def _without_limit_info(table: FaultAnswers) -> FaultAnswers:
    def bare(answer: Answer) -> Answer:
        return replace(answer, headers={})
    return replace(table, headers={}, revoked=bare(table.revoked),
                   rate_limited=bare(table.rate_limited),
                   kinds={k: bare(a) for k, a in table.kinds.items()},
                   statuses={s: bare(a) for s, a in table.statuses.items()})


# Outside /services/data/ (the OAuth endpoints, unknown paths): no Sforce-Limit-Info.
OTHER_FAULTS = _without_limit_info(SALESFORCE_FAULTS)
# The token endpoint refuses a revoked refresh token (or user) with 400 invalid_grant.
TOKEN_FAULTS = replace(OTHER_FAULTS, revoked=Answer(400, EXPIRED_GRANT))

"""How Zendesk Support answers injected faults (API_NOTES.md §2.2 errors, §2.4 and §2.5 rate
limits). Data only; zendesk.py answers its own errors with the same bodies.

Placeholders, filled per request by ZendeskAPI.fault_vars: {remaining}, {reset}; and by the
fault layer: {retry_after}.
"""

from __future__ import annotations

from dataclasses import replace

from .surface import UNAVAILABLE_PAGE, Answer, FaultAnswers

LIMIT = 700  # requests a minute, account-wide (Enterprise plan, as in the recorded headers)
# [obs] Both spellings in recordings since 2024; header names are case-insensitive anyway.
HEADERS = {"x-rate-limit": str(LIMIT), "x-rate-limit-remaining": "{remaining}",
           "ratelimit-limit": str(LIMIT), "ratelimit-remaining": "{remaining}",
           "ratelimit-reset": "{reset}"}
# A limited answer: nothing left until the window the client is told to wait for.
LIMITED_HEADERS = {"x-rate-limit-remaining": "0", "ratelimit-remaining": "0",
                   "ratelimit-reset": "{retry_after}", "Retry-After": "{retry_after}"}

# §2.2 [obs]: a bad or missing Basic credential (the API-token form included).
AUTH_FAILED_BODY = {"error": "Couldn't authenticate you"}
AUTH_FAILED = Answer(401, AUTH_FAILED_BODY, {"WWW-Authenticate": 'Basic realm="Web Password"'})
# §2.2 [obs]: a bad, expired or revoked OAuth access token.
OAUTH_INVALID = Answer(401, {
    "error": "invalid_token",
    "error_description": "The access token provided is expired, revoked, malformed or invalid "
                         "for other reasons.",
})
FORBIDDEN_MESSAGE = ("You do not have access to this page. Please contact the account owner of "
                     "this help desk for further help.")
# §2.2: some endpoints answer in this flat form, others in the nested one ("403-nested").
FORBIDDEN = Answer(403, {"error": "Forbidden", "description": FORBIDDEN_MESSAGE})
FORBIDDEN_NESTED = Answer(403, {"error": {"title": "Forbidden", "message": FORBIDDEN_MESSAGE}})
# §2.2 [obs]: an unknown route vs. a known route whose record does not exist.
INVALID_ENDPOINT_BODY = {"error": "InvalidEndpoint", "description": "Not found"}
RECORD_NOT_FOUND = Answer(404, {"error": "RecordNotFound", "description": "Not found"})
# §2.5: the ordinary API's 429 body was not captured [unverified]; this is the incremental form
# (§2.4, [obs]) with the wording of the ordinary limit.
RATE_LIMITED = Answer(429, {
    "error": "APIRateLimitExceeded",
    "description": "Number of allowed API requests per minute exceeded",
}, LIMITED_HEADERS)
INCREMENTAL_RATE_LIMITED = Answer(429, {
    "error": "APIRateLimitExceeded",
    "description": "Number of allowed incremental export API requests per minute exceeded",
}, LIMITED_HEADERS)
# 5xx bodies [unverified]: Zendesk documents neither. A JSON 500 from the application, and a
# 503 from the load balancer (not JSON) telling the client when to come back.
INTERNAL_ERROR = Answer(500, {"error": "InternalServerError",
                              "description": "Something went wrong. Please try again later."})
UNAVAILABLE = Answer(503, UNAVAILABLE_PAGE, {"Retry-After": "{retry_after}"},
                     content_type="text/html")


def _table(rate_limited: Answer) -> FaultAnswers:
    return FaultAnswers(
        kinds={"429": rate_limited, "403": FORBIDDEN, "403-nested": FORBIDDEN_NESTED,
               "500": INTERNAL_ERROR, "503": UNAVAILABLE},
        statuses={401: AUTH_FAILED, 403: FORBIDDEN, 404: RECORD_NOT_FOUND, 429: rate_limited,
                  500: INTERNAL_ERROR, 503: UNAVAILABLE},
        revoked=AUTH_FAILED,
        rate_limited=rate_limited,
        headers=HEADERS,
        path_suffix=".json",
    )


ZENDESK_FAULTS = _table(RATE_LIMITED)
INCREMENTAL_FAULTS = _table(INCREMENTAL_RATE_LIMITED)  # /api/v2/incremental/...
# With an OAuth token, a revoked credential is told apart from a bad password.
OAUTH_FAULTS = replace(ZENDESK_FAULTS, revoked=OAUTH_INVALID, statuses={
    **ZENDESK_FAULTS.statuses, 401: OAUTH_INVALID})
OAUTH_INCREMENTAL_FAULTS = replace(INCREMENTAL_FAULTS, revoked=OAUTH_INVALID, statuses={
    **INCREMENTAL_FAULTS.statuses, 401: OAUTH_INVALID})

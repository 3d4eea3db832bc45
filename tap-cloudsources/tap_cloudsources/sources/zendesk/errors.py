"""Zendesk's answers as the engine must read them.

429 carries `Retry-After` (the engine honours it); 401 is a bad token; 403 is a permission
problem on that endpoint. Bodies are `{"error": "...", "description": "..."}` or
`{"error": {"title": ..., "message": ...}}`.
"""

from __future__ import annotations

from tap_cloudsources.engine.errors import DEFAULT_STATUS_TABLE, ErrorPolicy


def _zendesk_message(body: object) -> str | None:
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        return error.get("message") or error.get("title")
    description = body.get("description")
    return f"{error}: {description}" if error and description else error or description


ZENDESK_ERRORS = ErrorPolicy(statuses=DEFAULT_STATUS_TABLE, reason_from_body=_zendesk_message)

# Zendesk's account-wide limits (requests per minute); the lowest current plan by default.
ZENDESK_REQUESTS_PER_MINUTE = 200

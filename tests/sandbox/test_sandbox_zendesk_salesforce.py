"""The Zendesk and Salesforce surfaces: their auth and limit answers, and faults in their own
words (API_NOTES.md §2.1, §2.2, §2.4, §2.5; §3.1-§3.4)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest
import requests

ZD_AUTH = ("ana@example.com/token", "zd-api-token-123")
ZD_ME = "/api/v2/users/me.json"
ZD_401 = {"error": "Couldn't authenticate you"}
ZD_OAUTH_401 = {"error": "invalid_token", "error_description": "The access token provided is "
                "expired, revoked, malformed or invalid for other reasons."}
ZD_FORBIDDEN = ("You do not have access to this page. Please contact the account owner of this "
                "help desk for further help.")
SF_LIMITS = "/services/data/v63.0/limits/"
SF_CLIENT = {"client_id": "3MVG9sandboxclient", "client_secret": "sandbox-secret-1"}
SESSION_401 = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
NOT_FOUND = [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
REQUEST_LIMIT = [{"message": "TotalRequests Limit exceeded.",
                  "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


def add(sandbox, rule: dict) -> dict:
    resp = requests.post(f"{sandbox.url}/_sandbox/faults", json=rule, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def zd(sandbox, path: str = ZD_ME, **kw) -> requests.Response:
    kw.setdefault("auth", ZD_AUTH)
    return requests.get(f"{sandbox.url}{path}", timeout=10, **kw)


def sf_token(sandbox, **form) -> requests.Response:
    form = {"grant_type": "refresh_token", "refresh_token": "5Aep861sandboxrefresh",
            **SF_CLIENT, **form}
    return requests.post(f"{sandbox.url}/services/oauth2/token", data=form, timeout=10)


def sf(sandbox, path: str = SF_LIMITS, token: str | None = None) -> requests.Response:
    if token is None:
        token = sf_token(sandbox).json()["access_token"]
    return requests.get(f"{sandbox.url}{path}", timeout=10,
                        headers={"Authorization": f"Bearer {token}"} if token else {})


# -- Zendesk ------------------------------------------------------------------------------------
def test_zendesk_api_token_and_oauth_both_reach_users_me_with_rate_limit_headers(sandbox):
    first, second = zd(sandbox), zd(sandbox, "/api/v2/users/me")  # .json is optional
    assert first.status_code == second.status_code == 200
    user = first.json()["user"]
    assert second.json()["user"] == user
    assert user["email"] == "ana@example.com" and user["role"] == "admin" and user["active"]
    assert user["url"] == f"{sandbox.url}/api/v2/users/{user['id']}.json"
    for resp in (first, second):
        assert resp.headers["x-rate-limit"] == resp.headers["ratelimit-limit"] == "700"
        assert resp.headers["x-rate-limit-remaining"] == resp.headers["ratelimit-remaining"]
        assert 1 <= int(resp.headers["ratelimit-reset"]) <= 60
    remaining = [int(r.headers["x-rate-limit-remaining"]) for r in (first, second)]
    assert remaining[1] < remaining[0] < 700 or remaining[1] == 699  # a new minute began
    oauth = zd(sandbox, auth=None, headers={"Authorization": "Bearer zd-oauth-token"})
    assert oauth.status_code == 200 and "@" in oauth.json()["user"]["email"]


@pytest.mark.parametrize("user,secret", [
    ("ana@example.com", "a-password-1"),  # password auth: deprecated, off in new accounts
    ("ana@example.com/token", "short"),
    ("no-email/token", "zd-api-token-123"),
])
def test_zendesk_bad_basic_credentials_get_couldnt_authenticate_you(sandbox, user, secret):
    resp = zd(sandbox, auth=(user, secret))
    assert resp.status_code == 401 and resp.json() == ZD_401
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="Web Password"'
    assert resp.headers["x-rate-limit"] == "700"


def test_zendesk_missing_or_bad_tokens(sandbox):
    for headers in ({}, {"Authorization": "Basic !!notbase64"}):
        resp = zd(sandbox, auth=None, headers=headers)
        assert resp.status_code == 401 and resp.json() == ZD_401
    resp = zd(sandbox, auth=None, headers={"Authorization": "Bearer short"})
    assert resp.status_code == 401 and resp.json() == ZD_OAUTH_401


def test_zendesk_other_routes_are_invalid_endpoints_for_now(sandbox):
    for path in ("/api/v2/tickets.json", "/api/v2/incremental/tickets/cursor.json?start_time=1"):
        resp = zd(sandbox, path)
        assert resp.status_code == 404
        assert resp.json() == {"error": "InvalidEndpoint", "description": "Not found"}
        assert resp.headers["x-rate-limit"] == "700"


def test_zendesk_fault_answers(sandbox):
    rules = [{"kind": "429"}, {"kind": "429", "retry_after": 7}, {"kind": "403"},
             {"kind": "403-nested"}, {"kind": "500"}, {"kind": "503"}, {"status": 404},
             {"status": 401}]
    for rule in rules:  # without .json: a rule matches the path either way
        add(sandbox, {"path": "/api/v2/users/me", "times": 1, **rule})
    resp = zd(sandbox)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
    assert resp.json() == {"error": "APIRateLimitExceeded",
                           "description": "Number of allowed API requests per minute exceeded"}
    assert resp.headers["x-rate-limit-remaining"] == resp.headers["ratelimit-remaining"] == "0"
    assert resp.headers["ratelimit-reset"] == "1" and resp.headers["x-rate-limit"] == "700"
    resp = zd(sandbox, "/api/v2/users/me")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
    assert resp.headers["ratelimit-reset"] == "7"
    resp = zd(sandbox)
    assert resp.status_code == 403
    assert resp.json() == {"error": "Forbidden", "description": ZD_FORBIDDEN}
    resp = zd(sandbox)
    assert resp.status_code == 403
    assert resp.json() == {"error": {"title": "Forbidden", "message": ZD_FORBIDDEN}}
    resp = zd(sandbox)
    assert resp.status_code == 500 and resp.json()["error"] == "InternalServerError"
    resp = zd(sandbox)
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
    assert resp.headers["Content-Type"] == "text/html" and "x-rate-limit" not in resp.headers
    resp = zd(sandbox)
    assert resp.status_code == 404
    assert resp.json() == {"error": "RecordNotFound", "description": "Not found"}
    resp = zd(sandbox)
    assert resp.status_code == 401 and resp.json() == ZD_401
    assert zd(sandbox).status_code == 200


def test_zendesk_incremental_exports_have_their_own_429_wording(sandbox):
    path = "/api/v2/incremental/tickets/cursor.json"
    add(sandbox, {"path": path, "kind": "429", "times": 1, "retry_after": 93})
    resp = zd(sandbox, path + "?start_time=1700000000")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "93"
    assert resp.json() == {
        "error": "APIRateLimitExceeded",
        "description": "Number of allowed incremental export API requests per minute exceeded"}


def test_zendesk_revoked_credentials_and_rate_limit(sandbox):
    add(sandbox, {"credentials": "revoked"})
    resp = zd(sandbox)
    assert resp.status_code == 401 and resp.json() == ZD_401
    resp = zd(sandbox, auth=None, headers={"Authorization": "Bearer zd-oauth-token"})
    assert resp.status_code == 401 and resp.json() == ZD_OAUTH_401
    assert add(sandbox, {"credentials": "ok"})["injected"] == {"revoked-credentials": 2}
    add(sandbox, {"rate_limit": {"requests_per_second": 0.25, "burst": 1}})
    assert zd(sandbox).status_code == 200
    resp = zd(sandbox)
    assert resp.status_code == 429 and resp.json()["error"] == "APIRateLimitExceeded"
    assert 1 <= int(resp.headers["Retry-After"]) <= 4  # when the bucket lets us through


# -- Salesforce ---------------------------------------------------------------------------------
def test_salesforce_token_endpoint_issues_sessions_for_each_grant(sandbox):
    resp = sf_token(sandbox)
    assert resp.status_code == 200 and "Sforce-Limit-Info" not in resp.headers
    body = resp.json()
    assert set(body) == {"access_token", "instance_url", "id", "token_type", "issued_at",
                         "signature", "scope"}  # a refresh issues no new refresh_token
    assert body["instance_url"] == sandbox.url and body["token_type"] == "Bearer"
    assert re.fullmatch(re.escape(sandbox.url) + r"/id/00D\w{15}/005\w{15}", body["id"])
    assert body["access_token"].startswith(body["id"].split("/")[-2][:15] + "!")
    assert body["issued_at"] == str(1748736000 * 1000)
    mac = hmac.new(SF_CLIENT["client_secret"].encode(),
                   (body["id"] + body["issued_at"]).encode(), hashlib.sha256).digest()
    assert base64.b64decode(body["signature"]) == mac
    for form in ({"grant_type": "password", "username": "u@example.com",
                  "password": "pw+securitytoken"}, {"grant_type": "client_credentials"}):
        resp = sf_token(sandbox, **form)
        assert resp.status_code == 200 and "refresh_token" not in resp.json()
        assert sf(sandbox, token=resp.json()["access_token"]).status_code == 200


@pytest.mark.parametrize("form,error,description", [
    ({"grant_type": "authorization_code"}, "unsupported_grant_type", "grant type not supported"),
    ({"client_id": "x"}, "invalid_client_id", "client identifier invalid"),
    ({"refresh_token": "bad"}, "invalid_grant", "expired access/refresh token"),
    ({"grant_type": "password", "username": "u@example.com", "password": "no"},
     "invalid_grant", "authentication failure"),
    ({"grant_type": "client_credentials", "client_secret": ""},
     "invalid_client", "invalid client credentials"),
])
def test_salesforce_token_errors(sandbox, form, error, description):
    resp = sf_token(sandbox, **form)
    assert resp.status_code == 400
    assert resp.json() == {"error": error, "error_description": description}


def test_salesforce_rest_needs_a_session_and_counts_usage(sandbox):
    versions = requests.get(f"{sandbox.url}/services/data/", timeout=10)  # no session needed
    assert versions.status_code == 200
    assert versions.json()[-1] == {"label": "Spring '25", "url": "/services/data/v63.0",
                                   "version": "63.0"}
    assert {"label": "Summer '14", "url": "/services/data/v31.0",
            "version": "31.0"} in versions.json()
    token = sf_token(sandbox).json()["access_token"]
    usage = []
    for _ in range(2):
        resp = sf(sandbox, token=token)
        assert resp.status_code == 200
        used, allowed = re.fullmatch(r"api-usage=(\d+)/(\d+)",
                                     resp.headers["Sforce-Limit-Info"]).groups()
        assert allowed == "15000"
        assert resp.json()["DailyApiRequests"]["Max"] == 15000
        assert resp.json()["DailyApiRequests"]["Remaining"] == 15000 - int(used)
        assert resp.json()["DailyBulkV2QueryJobs"] == {"Max": 10000, "Remaining": 10000}
        usage.append(int(used))
    assert usage[1] == usage[0] + 1
    assert sf(sandbox, "/services/data/latest/limits", token=token).status_code == 200
    for bad in ("", "not-a-session", token.split("!")[0] + "!x"):
        resp = sf(sandbox, token=bad)
        assert resp.status_code == 401 and resp.json() == SESSION_401
        assert resp.headers["Sforce-Limit-Info"].startswith("api-usage=")
    for path in ("/services/data/v63.0/sobjects", "/services/data/v19.0/limits"):
        resp = sf(sandbox, path, token=token)
        assert resp.status_code == 404 and resp.json() == NOT_FOUND
    resp = sf(sandbox, "/services/apexrest/x", token=token)
    assert resp.status_code == 404 and resp.json() == NOT_FOUND
    assert "Sforce-Limit-Info" not in resp.headers


def test_salesforce_fault_answers(sandbox):
    token = sf_token(sandbox).json()["access_token"]
    for rule in ({"status": 403}, {"kind": "403-request-limit"}, {"kind": "403-permission"},
                 {"kind": "429"}, {"kind": "500"}, {"kind": "503"}, {"status": 401}):
        add(sandbox, {"path": SF_LIMITS, "times": 1, **rule})
    for _ in range(2):  # a bare 403 is the daily limit, the canonical throttle
        resp = sf(sandbox, token=token)
        assert resp.status_code == 403 and resp.json() == REQUEST_LIMIT
        assert "Retry-After" not in resp.headers
        assert resp.headers["Sforce-Limit-Info"] == "api-usage=15000/15000"
    resp = sf(sandbox, token=token)
    assert resp.status_code == 403 and resp.json() == [
        {"message": "insufficient access rights on object id", "errorCode": "INSUFFICIENT_ACCESS"}]
    resp = sf(sandbox, token=token)
    assert resp.status_code == 429 and resp.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert "Retry-After" not in resp.headers
    resp = sf(sandbox, token=token)
    assert resp.status_code == 500 and resp.json()[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert re.fullmatch(r"An unexpected error occurred\. Please include this ErrorId if you "
                        r"contact support: \d+-\d+ \(-\d+\)", resp.json()[0]["message"])
    resp = sf(sandbox, token=token)
    assert resp.status_code == 503
    assert resp.json() == [{"message": "Server too busy", "errorCode": "SERVER_UNAVAILABLE"}]
    resp = sf(sandbox, token=token)  # an expired session: the client refreshes and retries
    assert resp.status_code == 401 and resp.json() == SESSION_401
    assert resp.headers["Sforce-Limit-Info"].startswith("api-usage=")
    assert sf(sandbox).status_code == 200


def test_salesforce_revoked_credentials_and_rate_limit(sandbox):
    token = sf_token(sandbox).json()["access_token"]
    add(sandbox, {"credentials": "revoked"})
    resp = sf(sandbox, token=token)
    assert resp.status_code == 401 and resp.json() == SESSION_401
    resp = sf_token(sandbox)
    assert resp.status_code == 400 and resp.json() == {
        "error": "invalid_grant", "error_description": "expired access/refresh token"}
    assert "Sforce-Limit-Info" not in resp.headers
    assert requests.get(f"{sandbox.url}/services/data/", timeout=10).status_code == 200
    add(sandbox, {"credentials": "ok", "rate_limit": {"requests_per_second": 0.25, "burst": 1}})
    assert sf(sandbox, token=token).status_code == 200
    resp = sf(sandbox, token=token)
    assert resp.status_code == 403 and resp.json() == REQUEST_LIMIT


# -- both, and Stripe ---------------------------------------------------------------------------
def test_random_faults_pick_among_the_kinds_each_api_answers(sandbox):
    token = sf_token(sandbox).json()["access_token"]
    requests.post(f"{sandbox.url}/_sandbox/stats/reset", timeout=10)
    # "429-no-retry-after" is Stripe's alone: the others pick among the rest, at the same rate.
    add(sandbox, {"rate": 1.0, "kinds": ["429", "429-no-retry-after", "500", "503"], "seed": 4})
    got = {"zendesk": set(), "salesforce": set()}
    for _ in range(30):
        got["zendesk"].add(zd(sandbox).status_code)
        got["salesforce"].add(sf(sandbox, token=token).status_code)
    assert got == {"zendesk": {429, 500, 503}, "salesforce": {429, 500, 503}}
    log = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=10).json()
    assert {e["fault"] for e in log} == {"429", "500", "503"} and len(log) == 60
    assert requests.get(f"{sandbox.url}/v1/charges", auth=("sk_test_12345678", ""),
                        timeout=10).status_code in (429, 500, 503)


def test_random_faults_with_api_kinds_and_transport_kinds_on_these_paths(sandbox):
    add(sandbox, {"rate": 1.0, "kinds": ["403-request-limit", "403-permission"], "seed": 2,
                  "paths": [SF_LIMITS]})
    add(sandbox, {"rate": 1.0, "kinds": ["reset"], "seed": 2, "paths": [ZD_ME]})
    codes = {sf(sandbox).json()[0]["errorCode"] for _ in range(12)}
    assert codes == {"REQUEST_LIMIT_EXCEEDED", "INSUFFICIENT_ACCESS"}
    with pytest.raises(requests.ConnectionError):
        zd(sandbox)


@pytest.mark.parametrize("rule", [
    {"path": "/v1/charges", "kind": "403-request-limit"},  # Salesforce's kind, Stripe's path
    {"rate": 0.5, "kinds": ["403-nested"], "paths": [SF_LIMITS]},
    {"path": ZD_ME, "kind": "pagination-loop"},  # no lists to loop yet
    {"path": ZD_ME, "kind": "429", "retry_after": -1},
    {"rate": 0.5, "kinds": ["429"], "retry_after": "soon"},
])
def test_rules_these_apis_cannot_answer_are_refused(sandbox, rule):
    resp = requests.post(f"{sandbox.url}/_sandbox/faults", json=rule, timeout=10)
    assert resp.status_code == 400 and isinstance(resp.json()["error"], str)


def test_stats_and_the_log_count_requests_by_source_and_path(sandbox):
    token = sf_token(sandbox).json()["access_token"]
    requests.post(f"{sandbox.url}/_sandbox/stats/reset", timeout=10)
    add(sandbox, {"path": ZD_ME, "kind": "500", "times": 1})
    zd(sandbox), zd(sandbox), zd(sandbox, auth=None)
    sf(sandbox, token=token), sf(sandbox, "/services/data/", token="")
    requests.get(f"{sandbox.url}/v1/charges", auth=("sk_test_12345678", ""), timeout=10)
    stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
    assert stats == {
        "total": 6,
        "by_source": {"stripe": 1, "zendesk": 3, "salesforce": 2},
        "by_path": {ZD_ME: 3, SF_LIMITS: 1, "/services/data/": 1, "/v1/charges": 1},
        "faults": {"500": 1},
    }
    log = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=10).json()
    assert [(e["path"], e["status"], e["fault"]) for e in log] == [
        (ZD_ME, 500, "500"), (ZD_ME, 200, None), (ZD_ME, 401, None), (SF_LIMITS, 200, None),
        ("/services/data/", 200, None), ("/v1/charges", 200, None)]

"""The Stripe API v1 surface: authentication, the list contract, retrieve and error bodies.

Contract: /work/shared/fixtures/API_NOTES.md section 1 (copied rules are quoted in the tests).
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from .fakedata import rand_chars
from .stripe_access import Access, date_header
from .stripe_embedded import include_sources, served_body
from .stripe_faults import STRIPE_FAULTS
from .stripe_objects import API_VERSION
from .stripe_resources import (
    CHILDREN,
    RANGE_OPS,
    RESOURCES,
    SUB_STATUSES,
    StripeError,
    _int,
)
from .stripe_source import EVENT_RETENTION, SOURCE, StripeSource
from .stripe_views import find_subscription_item
from .surface import FaultAnswers, Response
from .world import Obj, World

NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
VALID_KEY = re.compile(r"^sk_test_\S{8,}$")
NOT_FOUND = ("Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
             "or we can help at https://support.stripe.com/.")
KEY_PREFIX = re.compile(r"^((?:sk|rk|pk)_(?:test|live)_)?(.*)$", re.S)
def mask_key(key: str) -> str:
    """Stripe shows a rejected key with everything but its prefix and last 4 characters starred."""
    match = KEY_PREFIX.match(key)
    prefix, rest = (match.group(1) or "", match.group(2)) if match else ("", key)
    shown = rest[-4:] if len(rest) > 4 else ""
    return prefix + "*" * (len(rest) - len(shown)) + shown


def api_key(headers: Mapping[str, str]) -> str | None:
    auth = (headers.get("Authorization") or "").strip()
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            user = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[0]
        except ValueError:
            return None
        return user or None
    return None


class StripeAPI:
    source = SOURCE
    prefix = "/v1/"
    faults: FaultAnswers = STRIPE_FAULTS

    def __init__(self, world: World) -> None:
        self.world = world
        self._ids = random.Random()  # request ids need only be unique, not reproducible
        # The account named in permission errors; ids embed its tag, as real Stripe ids do.
        source = world.sources.get(SOURCE)
        tag = source.f.account_tag if isinstance(source, StripeSource) else ""
        self.account = "acct_1" + tag + rand_chars(world.rng("account"), 15 - len(tag))
        self.access = Access()  # restricted keys and expand[]

    def fault_vars(self, path: str, headers: Mapping[str, str]) -> dict[str, str]:
        key = api_key(headers) or ""
        resource = unquote(path[len(self.prefix):]).split("/")[0]
        res = RESOURCES.get(resource)
        return {
            "key": key, "masked_key": mask_key(key), "account": self.account,
            "request_id": "req_" + rand_chars(self._ids, 14),
            "version": headers.get("Stripe-Version") or API_VERSION,
            "permission": f"rak_{res.singular if res else resource}_read",
            "date": date_header(self.world.clock),
            "reason": self.faults.rate_limit_reasons[0],
        }

    def answers(self, path: str, headers: Mapping[str, str]) -> FaultAnswers:
        return self.faults

    def handle(self, method: str, path: str, query: str, headers: Mapping[str, str],
               body: bytes = b"") -> Response:
        request_id = "req_" + rand_chars(self._ids, 14)
        version = headers.get("Stripe-Version") or API_VERSION
        with self.world.lock:
            now = self.world.clock
        out = {"Request-Id": request_id, "Stripe-Version": version, "Date": date_header(now)}
        key = api_key(headers)
        if key is None or not (VALID_KEY.match(key) or self.access.known(key)):
            out["WWW-Authenticate"] = 'Basic realm="Stripe"'
            message = NO_KEY if key is None else f"Invalid API Key provided: {mask_key(key)}"
            error = {"message": message, "type": "invalid_request_error"}
            return Response(401, {"error": error}, out)
        try:
            self.access.check(key, path[len(self.prefix):], mask_key(key), self.account)
            params = parse_qsl(query, keep_blank_values=True)
            body = served_body(self._route(method, path, params))
            expand = [v for k, v in params if re.fullmatch(r"expand\[\d*\]", k) and v]
            body, expand = include_sources(body, expand, self._sources_of)
            if expand:
                body = self.access.expand(body, expand, self._lookup)
        except StripeError as exc:
            body = {"error": self._error(exc, request_id)}
            return Response(exc.status, body, out)
        return Response(200, body, out)

    @staticmethod
    def _error(exc: StripeError, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {}  # keys in the order Stripe sends them
        if exc.code:
            error["code"] = exc.code
            error["doc_url"] = "https://stripe.com/docs/error-codes/" + exc.code.replace("_", "-")
        error["message"] = exc.message
        if exc.param:
            error["param"] = exc.param
        if exc.status != 403:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        error["type"] = "invalid_request_error"
        return error

    def _route(self, method: str, path: str, params: list[tuple[str, str]]) -> Obj:
        parts = [unquote(p) for p in path[len(self.prefix):].split("/")]
        res = RESOURCES.get(parts[0])
        if method == "GET" and res is not None and all(parts):
            if len(parts) == 1:
                return self._list(parts[0], params)
            if len(parts) == 2:
                return self._retrieve(parts[0], parts[1])
            child = CHILDREN.get((parts[0], parts[2]))
            if child is not None and len(parts) in (3, 4):
                parent = self._retrieve(parts[0], parts[1])
                items: list[Obj] = parent[child[0]]["data"]
                url = f"/v1/{parts[0]}/{parts[1]}/{parts[2]}"
                if len(parts) == 3:
                    return self._embedded(items, url, child[1], params)
                return self._child(items, child[1], parts[3])
            if parts[0] == "customers" and parts[2] in ("sources", "payment_methods"):
                return self._customer_child(parts[1], parts[2], parts[3:], params)
        raise StripeError(404, NOT_FOUND.format(method=method, path=path))

    def _sources_of(self, customer_id: str) -> list[Obj]:
        """A customer's legacy sources (cards, bank accounts), newest first."""
        src = self.world.sources[SOURCE]
        assert isinstance(src, StripeSource)
        with self.world.lock:
            return [o for o in reversed(src.legacy.values()) if o["customer"] == customer_id]

    def _lookup(self, name: str, obj_id: str) -> Obj | None:
        """The object an id points at, for expand[] (None if it is not in the account)."""
        try:
            return self._retrieve(name, obj_id)
        except StripeError:
            return None

    def _retrieve(self, name: str, obj_id: str) -> Obj:
        res = RESOURCES[name]
        with self.world.lock:
            if name == "subscription_items":
                obj = find_subscription_item(self.world, obj_id)
            else:
                obj = self.world.collection(SOURCE, res.collection).get(obj_id)
            if obj is not None and name == "events" and obj["created"] < self._retention_start():
                obj = None
            if obj is not None and res.base is not None and not res.base(obj):
                obj = None
        if obj is None:
            raise StripeError(404, f"No such {res.singular}: '{obj_id}'", param="id",
                              code="resource_missing")
        return res.view(obj) if res.view else obj

    def _retention_start(self) -> int:
        return self.world.clock - EVENT_RETENTION

    @staticmethod
    def _limit(single: dict[str, str]) -> int:
        limit = _int(single.get("limit", "10"), "limit")
        if limit < 1:
            raise StripeError(400, "This value must be greater than or equal to 1.", param="limit")
        if limit > 100:
            raise StripeError(400, "This value must be less than or equal to 100.", param="limit")
        return limit

    def _list(self, name: str, params: list[tuple[str, str]]) -> Obj:
        res = RESOURCES[name]
        single = {k: v for k, v in reversed(params) if v != ""}  # first value wins, blanks unset
        if name == "subscription_items":
            if "subscription" not in single:
                raise StripeError(400, "Missing required param: subscription.",
                                  param="subscription")
            sub = self._retrieve("subscriptions", single["subscription"])
            return self._embedded(sub["items"]["data"], "/v1/subscription_items",
                                  "subscription_item", params)
        limit = self._limit(single)
        after, before = single.get("starting_after"), single.get("ending_before")
        if after and before:
            raise StripeError(400, "Received both starting_after and ending_before parameters. "
                              "Please pass in only one.")
        gte, lte = self._created_range(single) if res.created else (None, None)
        tests = [build(single[p], p) for p, build in res.filters.items() if p in single]
        if res.base is not None:
            tests.append(res.base)
        if name == "payment_methods" and "customer" not in single:
            # Without `customer` Stripe lists only methods attached to no customer.
            tests.append(lambda o: o["customer"] is None)
        if name == "subscriptions":
            tests.append(self._subscription_status(single.get("status")))
        if name == "events":
            tests.extend(self._event_types(single, params))
            horizon = self._retention_start()
            gte = horizon if gte is None else max(gte, horizon)
        where = None
        if tests:
            where = tests[0] if len(tests) == 1 else (lambda o: all(t(o) for t in tests))
        with self.world.lock:
            coll = self.world.collection(SOURCE, res.collection)
            cursors = {}
            for param, obj_id in (("starting_after", after), ("ending_before", before)):
                if obj_id:
                    cursors[param] = coll.key_of(obj_id)
                    if cursors[param] is None:
                        raise StripeError(400, f"No such {res.singular}: '{obj_id}'",
                                          param=param, code="resource_missing")
            data, has_more = coll.page(limit=limit, gte=gte, lte=lte, where=where, **cursors)
        if res.view is not None:
            data = [res.view(o) for o in data]
        return {"object": "list", "data": data, "has_more": has_more, "url": f"/v1/{name}"}

    @staticmethod
    def _created_range(single: dict[str, str]) -> tuple[int | None, int | None]:
        gte: int | None = None
        lte: int | None = None
        if "created" in single:
            gte = lte = _int(single["created"], "created")
        for key, value in single.items():
            if not key.startswith("created["):
                continue
            op = key[len("created["):-1]
            if op not in RANGE_OPS or not key.endswith("]"):
                raise StripeError(400, f"Received unknown parameter: {key}", param=key)
            n = _int(value, key)
            low = {"gt": n + 1, "gte": n}.get(op)
            high = {"lt": n - 1, "lte": n}.get(op)
            if low is not None:
                gte = low if gte is None else max(gte, low)
            if high is not None:
                lte = high if lte is None else min(lte, high)
        return gte, lte

    @staticmethod
    def _subscription_status(status: str | None) -> Callable[[Obj], bool]:
        # Like Stripe: without `status`, canceled subscriptions are left out of the list.
        if status is None:
            return lambda o: o["status"] != "canceled"
        if status not in SUB_STATUSES:
            raise StripeError(400, "Invalid status: must be one of " + ", ".join(SUB_STATUSES),
                              param="status")
        if status == "all":
            return lambda o: True
        if status == "ended":
            return lambda o: o["status"] in ("canceled", "incomplete_expired")
        return lambda o: o["status"] == status

    @staticmethod
    def _event_types(single: dict[str, str],
                     params: list[tuple[str, str]]) -> list[Callable[[Obj], bool]]:
        types = [v for k, v in params if re.fullmatch(r"types\[\d*\]", k) and v]
        if "type" in single and types:
            raise StripeError(400, "You may only specify one of these parameters: type, types.",
                              param="type")
        if types:
            wanted = set(types)
            return [lambda o: o["type"] in wanted]
        if "type" in single:
            # `type` accepts a trailing wildcard, e.g. customer.*
            pattern = re.compile(re.escape(single["type"]).replace(r"\*", ".*") + "$")
            return [lambda o: pattern.match(o["type"]) is not None]
        return []

    def _embedded(self, items: list[Obj], url: str, singular: str,
                  params: list[tuple[str, str]]) -> Obj:
        """A list served from an array embedded in its parent, paged by position."""
        single = {k: v for k, v in reversed(params) if v != ""}
        limit = self._limit(single)
        ids = [item["id"] for item in items]
        start, end = 0, len(items)
        for param in ("starting_after", "ending_before"):
            if param in single:
                if single[param] not in ids:
                    raise StripeError(400, f"No such {singular}: '{single[param]}'", param=param,
                                      code="resource_missing")
                pos = ids.index(single[param])
                start, end = (pos + 1, end) if param == "starting_after" else (start, pos)
        if "ending_before" in single:
            page = items[max(start, end - limit):end]
            has_more = end - limit > start
        else:
            page = items[start:start + limit]
            has_more = start + limit < end
        return {"object": "list", "data": page, "has_more": has_more, "url": url}

    @staticmethod
    def _child(items: list[Obj], singular: str, obj_id: str) -> Obj:
        for item in items:
            if item["id"] == obj_id:
                return item
        raise StripeError(404, f"No such {singular}: '{obj_id}'", param="id",
                          code="resource_missing")

    def _customer_child(self, customer_id: str, child: str, rest: list[str],
                        params: list[tuple[str, str]]) -> Obj:
        """/v1/customers/{id}/sources[?object=card|bank_account] (legacy cards and bank
        accounts) and /v1/customers/{id}/payment_methods[?type=card]."""
        self._retrieve("customers", customer_id)
        single = {k: v for k, v in reversed(params) if v != ""}
        with self.world.lock:
            if child == "sources":
                src = self.world.sources[SOURCE]
                assert isinstance(src, StripeSource)
                kind = single.get("object")
                items = [o for o in reversed(src.legacy.values())
                         if o["customer"] == customer_id and kind in (None, o["object"])]
            else:
                kind = single.get("type")
                items = [o for o in self.world.collection(SOURCE, "payment_methods")
                         .newest_first() if o["customer"] == customer_id
                         and kind in (None, o["type"])]
        singular = "source" if child == "sources" else "payment_method"
        if len(rest) == 1:
            return self._child(items, singular, rest[0])
        if rest:
            raise StripeError(404, NOT_FOUND.format(method="GET", path=f"/v1/customers/"
                                                    f"{customer_id}/{child}/" + "/".join(rest)))
        return self._embedded(items, f"/v1/customers/{customer_id}/{child}", singular, params)

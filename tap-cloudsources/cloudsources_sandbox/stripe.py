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
from .stripe_faults import STRIPE_FAULTS
from .stripe_objects import API_VERSION
from .stripe_source import EVENT_RETENTION, SOURCE, StripeSource
from .surface import FaultAnswers, Response
from .world import Obj, World

SINGULAR = {
    "customers": "customer", "products": "product", "prices": "price", "charges": "charge",
    "invoices": "invoice", "subscriptions": "subscription", "events": "event",
}
NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
VALID_KEY = re.compile(r"^sk_test_\S{8,}$")
KEY_PREFIX = re.compile(r"^((?:sk|rk|pk)_(?:test|live)_)?(.*)$", re.S)
SUB_STATUSES = ("active", "all", "canceled", "ended", "incomplete", "incomplete_expired",
                "past_due", "paused", "trialing", "unpaid")
INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")
RANGE_OPS = ("gt", "gte", "lt", "lte")


class StripeError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


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


def _int(value: str, param: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise StripeError(400, f"Invalid integer: {value}", param=param) from None


def _bool(value: str, param: str) -> bool:
    if value not in ("true", "false"):
        raise StripeError(400, f"Invalid boolean: {value}", param=param)
    return value == "true"


def _equals(field: str) -> Callable[[str, str], Callable[[Obj], bool]]:
    return lambda value, param: lambda o: o[field] == value


def _flag(field: str) -> Callable[[str, str], Callable[[Obj], bool]]:
    def build(value: str, param: str) -> Callable[[Obj], bool]:
        wanted = _bool(value, param)
        return lambda o: o[field] is wanted
    return build


def _invoice_status(value: str, param: str) -> Callable[[Obj], bool]:
    if value not in INVOICE_STATUSES:
        raise StripeError(400, "Invalid status: must be one of " + ", ".join(INVOICE_STATUSES),
                          param=param)
    return lambda o: o["status"] == value


def _sub_price(value: str, param: str) -> Callable[[Obj], bool]:
    return lambda o: any(it["price"]["id"] == value for it in o["items"]["data"])


# Equality filters each list endpoint understands (other parameters are ignored).
FILTERS: dict[str, dict[str, Callable[[str, str], Callable[[Obj], bool]]]] = {
    "customers": {"email": _equals("email")},
    "products": {"active": _flag("active"), "shippable": _flag("shippable"),
                 "type": _equals("type")},
    "prices": {"active": _flag("active"), "currency": _equals("currency"),
               "product": _equals("product"), "type": _equals("type")},
    "charges": {"customer": _equals("customer"), "payment_intent": _equals("payment_intent")},
    "invoices": {"customer": _equals("customer"), "subscription": _equals("subscription"),
                 "status": _invoice_status, "collection_method": _equals("collection_method")},
    "subscriptions": {"customer": _equals("customer"), "price": _sub_price,
                      "collection_method": _equals("collection_method")},
    "events": {},
}


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

    def fault_vars(self, path: str, headers: Mapping[str, str]) -> dict[str, str]:
        key = api_key(headers) or ""
        resource = unquote(path[len(self.prefix):]).split("/")[0]
        return {
            "key": key, "masked_key": mask_key(key), "account": self.account,
            "request_id": "req_" + rand_chars(self._ids, 14),
            "version": headers.get("Stripe-Version") or API_VERSION,
            "permission": f"rak_{SINGULAR.get(resource, resource)}_read",
            "reason": self.faults.rate_limit_reasons[0],
        }

    def answers(self, path: str, headers: Mapping[str, str]) -> FaultAnswers:
        return self.faults

    def handle(self, method: str, path: str, query: str, headers: Mapping[str, str],
               body: bytes = b"") -> Response:
        request_id = "req_" + rand_chars(self._ids, 14)
        version = headers.get("Stripe-Version") or API_VERSION
        out = {"Request-Id": request_id, "Stripe-Version": version}
        key = api_key(headers)
        if key is None or not VALID_KEY.match(key):
            out["WWW-Authenticate"] = 'Basic realm="Stripe"'
            message = NO_KEY if key is None else f"Invalid API Key provided: {mask_key(key)}"
            error = {"message": message, "type": "invalid_request_error"}
            return Response(401, {"error": error}, out)
        try:
            body = self._route(method, path, query)
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
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        error["type"] = "invalid_request_error"
        return error

    def _route(self, method: str, path: str, query: str) -> Obj:
        parts = [unquote(p) for p in path[len(self.prefix):].split("/")]
        if method == "GET" and parts[0] in SINGULAR:
            params = parse_qsl(query, keep_blank_values=True)
            if len(parts) == 1:
                return self._list(parts[0], params)
            if len(parts) == 2 and parts[1]:
                return self._retrieve(parts[0], parts[1])
            if len(parts) == 3 and parts[0] == "invoices" and parts[2] == "lines":
                return self._invoice_lines(parts[1], params)
        raise StripeError(
            404, f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.")

    def _retrieve(self, name: str, obj_id: str) -> Obj:
        with self.world.lock:
            obj = self.world.collection(SOURCE, name).get(obj_id)
            if obj is not None and name == "events" and obj["created"] < self._retention_start():
                obj = None
        if obj is None:
            raise StripeError(404, f"No such {SINGULAR[name]}: '{obj_id}'", param="id",
                              code="resource_missing")
        return obj

    def _retention_start(self) -> int:
        return self.world.clock - EVENT_RETENTION

    def _list(self, name: str, params: list[tuple[str, str]]) -> Obj:
        single = {k: v for k, v in reversed(params) if v != ""}  # first value wins, blanks unset
        limit = _int(single.get("limit", "10"), "limit")
        if limit < 1:
            raise StripeError(400, "This value must be greater than or equal to 1.", param="limit")
        if limit > 100:
            raise StripeError(400, "This value must be less than or equal to 100.", param="limit")
        after, before = single.get("starting_after"), single.get("ending_before")
        if after and before:
            raise StripeError(400, "Received both starting_after and ending_before parameters. "
                              "Please pass in only one.")
        gte, lte = self._created_range(single)
        tests = [build(single[p], p) for p, build in FILTERS[name].items() if p in single]
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
            coll = self.world.collection(SOURCE, name)
            cursors = {}
            for param, obj_id in (("starting_after", after), ("ending_before", before)):
                if obj_id:
                    cursors[param] = coll.key_of(obj_id)
                    if cursors[param] is None:
                        raise StripeError(400, f"No such {SINGULAR[name]}: '{obj_id}'", param=param,
                                          code="resource_missing")
            data, has_more = coll.page(limit=limit, gte=gte, lte=lte, where=where, **cursors)
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

    def _invoice_lines(self, invoice_id: str, params: list[tuple[str, str]]) -> Obj:
        single = {k: v for k, v in reversed(params) if v != ""}
        inv = self._retrieve("invoices", invoice_id)
        lines: list[Obj] = inv["lines"]["data"]
        limit = _int(single.get("limit", "10"), "limit")
        if not 1 <= limit <= 100:
            raise StripeError(400, "This value must be less than or equal to 100." if limit > 100
                              else "This value must be greater than or equal to 1.", param="limit")
        ids = [line["id"] for line in lines]
        start, end = 0, len(lines)
        for param in ("starting_after", "ending_before"):
            if param in single:
                if single[param] not in ids:
                    raise StripeError(400, f"No such line item: '{single[param]}'", param=param,
                                      code="resource_missing")
                pos = ids.index(single[param])
                start, end = (pos + 1, end) if param == "starting_after" else (start, pos)
        if "ending_before" in single:
            page = lines[max(start, end - limit):end]
            has_more = end - limit > start
        else:
            page = lines[start:start + limit]
            has_more = start + limit < end
        return {"object": "list", "data": page, "has_more": has_more,
                "url": f"/v1/invoices/{invoice_id}/lines"}

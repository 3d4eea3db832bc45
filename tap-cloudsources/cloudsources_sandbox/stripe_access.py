"""Restricted keys (rk_test_...) with per-resource permissions, `expand[]`, and the `Date`
header, for the Stripe surface (API_NOTES.md §1.1, §1.2, §1.6)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from email.utils import formatdate
from typing import Any

from .world import Obj

RESTRICTED_KEY = re.compile(r"^rk_(?:test|live)_\S{8,}$")
LEVELS = ("none", "read", "write")
MAX_DEPTH = 4
# URL resource -> the other names a permission may be registered under.
ALIASES = {"invoiceitems": ("invoice_items",), "subscription_items": ("subscriptions",),
           "plans": ("prices",)}
# object type -> expandable field -> the /v1/<resource> its id belongs to ("*" = by id prefix)
EXPANDABLE: dict[str, dict[str, str]] = {
    "charge": {"customer": "customers", "payment_intent": "payment_intents",
               "balance_transaction": "balance_transactions",
               "application_fee": "application_fees", "failure_balance_transaction":
               "balance_transactions"},
    "invoice": {"customer": "customers", "subscription": "subscriptions",
                "default_payment_method": "payment_methods"},
    "subscription": {"customer": "customers", "latest_invoice": "invoices",
                     "default_payment_method": "payment_methods"},
    "price": {"product": "products"},
    "plan": {"product": "products"},
    "product": {"default_price": "prices"},
    "customer": {"default_source": "*", "default_payment_method": "payment_methods"},
    "payment_intent": {"customer": "customers", "latest_charge": "charges",
                       "payment_method": "payment_methods"},
    "payment_method": {"customer": "customers"},
    "refund": {"charge": "charges", "payment_intent": "payment_intents",
               "balance_transaction": "balance_transactions"},
    "dispute": {"charge": "charges", "payment_intent": "payment_intents"},
    "balance_transaction": {"source": "*"},
    "invoiceitem": {"customer": "customers", "invoice": "invoices"},
    "line_item": {"invoice": "invoices", "subscription": "subscriptions"},
    "transfer": {"destination": "accounts", "balance_transaction": "balance_transactions"},
    "transfer_reversal": {"transfer": "transfers", "balance_transaction": "balance_transactions"},
    "application_fee": {"account": "accounts", "balance_transaction": "balance_transactions"},
    "fee_refund": {"fee": "application_fees", "balance_transaction": "balance_transactions"},
    "card": {"customer": "customers"},
    "bank_account": {"customer": "customers"},
    "discount": {"customer": "customers", "subscription": "subscriptions",
                 "invoice": "invoices"},
}
BY_PREFIX = {"ch": "charges", "re": "refunds", "tr": "transfers", "fee": "application_fees",
             "dp": "disputes", "py": "charges"}

Lookup = Callable[[str, str], Obj | None]


def date_header(t: int) -> str:
    """RFC 7231 IMF-fixdate, e.g. 'Sun, 01 Jun 2025 00:00:00 GMT'."""
    return formatdate(t, usegmt=True)


class ExpandError(Exception):
    pass


class Access:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, dict[str, str]] = {}

    # -- restricted keys --------------------------------------------------------------------------
    def register(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or set(body) - {"key", "permissions"}:
            raise ValueError('body must be {"key": "rk_test_...", "permissions": {...}}')
        key, perms = body.get("key"), body.get("permissions", {})
        if not isinstance(key, str) or not RESTRICTED_KEY.match(key):
            raise ValueError("key must look like rk_test_ followed by 8 or more characters")
        if not isinstance(perms, dict) or any(
                not isinstance(k, str) or v not in LEVELS for k, v in perms.items()):
            raise ValueError(f"permissions must map resource names to one of {LEVELS}")
        with self._lock:
            self._keys[key] = dict(perms)
        return {"key": key, "permissions": perms}

    def known(self, key: str) -> bool:
        with self._lock:
            return key in self._keys

    def check(self, key: str, route: str, masked: str, account: str) -> None:
        from .stripe_resources import RESOURCES, StripeError

        with self._lock:
            perms = self._keys.get(key)
        if perms is None:
            return  # a secret key may do anything
        resource = route.split("/")[0]
        names = (resource, *ALIASES.get(resource, ()))
        if any(perms.get(n, "none") in ("read", "write") for n in names):
            return
        res = RESOURCES.get(resource)
        singular = res.singular if res else resource.rstrip("s")
        raise StripeError(
            403, f"The provided key '{masked}' does not have the required permissions for this "
            f"endpoint on account '{account}'. Having the 'rak_{singular}_read' permission would "
            "allow this request to continue.")

    # -- expand[] ---------------------------------------------------------------------------------
    def expand(self, body: Obj, paths: list[str], lookup: Lookup) -> Obj:
        from .stripe_resources import StripeError

        for path in dict.fromkeys(paths):
            parts = path.split(".")
            is_list = body.get("object") == "list"
            if is_list and path == "total_count":
                continue  # a legacy list expansion; accepted, count not computed

            if is_list:
                if parts[0] != "data" or len(parts) < 2:
                    raise StripeError(400, f"This property cannot be expanded ({path}).",
                                      param="expand")
                parts = parts[1:]
            if len(parts) > MAX_DEPTH:
                raise StripeError(400, f"You cannot expand more than {MAX_DEPTH} levels of a "
                                  f"property. Property: {path}", param="expand")
            try:
                if is_list:
                    body = dict(body, data=[_expand(o, parts, lookup) for o in body["data"]])
                else:
                    body = _expand(body, parts, lookup)
            except ExpandError as exc:
                raise StripeError(400, f"This property cannot be expanded ({exc}).",
                                  param="expand") from None
        return body


def _expand(obj: Any, parts: list[str], lookup: Lookup) -> Any:
    """A copy of obj with the id at `parts` replaced by its object (stored objects are never
    mutated). Nested plain objects (invoice_settings...) are walked through."""
    if obj is None:
        return None
    if isinstance(obj, list):
        return [_expand(o, parts, lookup) for o in obj]
    if not isinstance(obj, Mapping):
        raise ExpandError(parts[0])
    field, rest = parts[0], parts[1:]
    if field not in obj:
        raise ExpandError(field)
    value = obj[field]
    if isinstance(value, str):
        target = EXPANDABLE.get(str(obj.get("object")), {}).get(field)
        if target is None:
            raise ExpandError(field)
        if target == "*":
            target = BY_PREFIX.get(value.split("_")[0], "")
        found = lookup(target, value) if target else None
        value = found if found is not None else value
    elif isinstance(value, Mapping) and "object" not in value and not rest:
        raise ExpandError(field)  # a plain nested object is not itself expandable
    if rest and value is not None and not isinstance(value, str):
        value = _expand(value, rest, lookup)
    return {**obj, field: value}

"""Stripe billing objects (subscriptions, invoices, charges) and their state transitions.

Transitions return a new dict (objects are never mutated in place), so the caller can diff
old and new for an event's `previous_attributes`.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

from .fakedata import NOTES, maybe, metadata, rand_chars
from .stripe_objects import CARDS, DECLINES, EMPTY_ADDRESS, TEMPLATES, StripeFactory, fill
from .world import DAY, Obj

# (price, product name, quantity, subscription item id or None, (period start, period end))
LineSpec = tuple[Obj, str, int, str | None, tuple[int, int]]

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}
NO_CANCELLATION = {"comment": None, "feedback": None, "reason": None}
SUB_INVOICE_SETTINGS = {
    "account_tax_ids": None, "issuer": {"type": "self"}, "custom_fields": None,
    "description": None, "footer": None,
}
SUB_PAYMENT_SETTINGS = {
    "payment_method_options": None, "payment_method_types": None,
    "save_default_payment_method": "off",
}
INVOICE_PAYMENT_SETTINGS = {
    "default_mandate": None, "payment_method_options": None, "payment_method_types": None,
}
INVOICE_RENDERING = {
    "amount_tax_display": None, "pdf": {"page_size": "auto"}, "template": None,
    "template_version": None,
}
INVOICE_AUTOMATIC_TAX = {
    "enabled": False, "liability": None, "status": None, "disabled_reason": None, "provider": None,
}
NO_TRANSITIONS = {
    "finalized_at": None, "marked_uncollectible_at": None, "paid_at": None, "voided_at": None,
}
RECEIPTS = "https://pay.stripe.com/receipts/payment/"
CARD_TEMPLATE = TEMPLATES["charge"]["payment_method_details"]["card"]
APPROVED = {
    "advice_code": None, "network_advice_code": None, "network_decline_code": None,
    "network_status": "approved_by_network", "reason": None, "risk_level": "normal",
    "seller_message": "Payment complete.", "type": "authorized",
}


def add_interval(t: int, interval: str, n: int = 1) -> int:
    """t plus n calendar months or years, clamping the day as Stripe's billing does."""
    d = datetime.fromtimestamp(t, UTC)
    years, month0 = divmod(d.month - 1 + n * (12 if interval == "year" else 1), 12)
    year = d.year + years
    day = min(d.day, calendar.monthrange(year, month0 + 1)[1])
    return int(d.replace(year=year, month=month0 + 1, day=day).timestamp())


def money(amount: int, currency: str) -> str:
    return f"{SYMBOLS.get(currency, currency.upper() + ' ')}{amount / 100:,.2f}"


class BillingFactory(StripeFactory):
    # -- subscriptions ----------------------------------------------------------------------------
    def subscription(
        self,
        t: int,
        customer: Obj,
        items: list[tuple[Obj, int]],
        *,
        status: str,
        period: tuple[int, int],
        trial: tuple[int, int] | None = None,
        ended_at: int | None = None,
        cancel_at_period_end: bool = False,
        collection_method: str = "charge_automatically",
    ) -> Obj:
        r = self.rng
        sid = self.new_id("sub")
        data = [
            fill(
                TEMPLATES["subscription_item"], created=t, discounts=[], id=self.new_id("si"),
                metadata={}, object="subscription_item", price=price, quantity=qty,
                subscription=sid, tax_rates=[], plan=self.plan(price),
                current_period_end=period[1], current_period_start=period[0],
                billing_thresholds=None,
            )
            for price, qty in items
        ]
        cancellation = NO_CANCELLATION
        if ended_at is not None:
            cancellation = {
                "comment": maybe(r, 0.3, lambda: r.choice(NOTES)),
                "feedback": r.choice(("too_expensive", "switched_service", "unused", None)),
                "reason": ("payment_failed" if status == "incomplete_expired"
                           else "cancellation_requested"),
            }
        return fill(
            TEMPLATES["subscription"],
            application=None, application_fee_percent=None,
            automatic_tax={"enabled": False, "liability": None, "disabled_reason": None},
            billing_cycle_anchor=trial[1] if trial else t, billing_cycle_anchor_config=None,
            cancel_at=period[1] if cancel_at_period_end else None, canceled_at=ended_at,
            cancellation_details=cancellation, collection_method=collection_method, created=t,
            currency=customer["currency"], customer=customer["id"],
            days_until_due=30 if collection_method == "send_invoice" else None,
            default_payment_method=maybe(r, 0.5, lambda: self.new_id("pm")), default_source=None,
            default_tax_rates=[], description=maybe(r, 0.1, lambda: r.choice(NOTES)),
            discounts=[], ended_at=ended_at, id=sid, invoice_settings=SUB_INVOICE_SETTINGS,
            items={"data": data, "has_more": False, "object": "list",
                   "url": f"/v1/subscription_items?subscription={sid}"},
            latest_invoice=None, livemode=False, metadata=metadata(r, 0.4),
            next_pending_invoice_item_invoice=None, object="subscription", on_behalf_of=None,
            pause_collection=None, payment_settings=SUB_PAYMENT_SETTINGS,
            pending_invoice_item_interval=None, pending_setup_intent=None, pending_update=None,
            schedule=None, start_date=t, status=status, test_clock=None, transfer_data=None,
            trial_end=trial[1] if trial else None,
            trial_settings=TEMPLATES["subscription"]["trial_settings"],
            trial_start=trial[0] if trial else None, cancel_at_period_end=cancel_at_period_end,
            billing_thresholds=None, billing_mode={"type": "classic", "flexible": None},
            customer_account=None, managed_payments={"enabled": False}, billing_schedules=[],
        )

    # -- invoices ---------------------------------------------------------------------------------
    def invoice_draft(
        self,
        t: int,
        customer: Obj,
        lines: list[LineSpec],
        *,
        subscription: str | None,
        billing_reason: str,
        collection_method: str,
        period: tuple[int, int],
    ) -> Obj:
        r = self.rng
        iid = self.new_id("in")
        currency = customer["currency"]
        line_objs = [self._line(iid, currency, spec, subscription) for spec in lines]
        total = sum(line["amount"] for line in line_objs)
        parent = None
        if subscription:
            parent = {
                "quote_details": None, "type": "subscription_details",
                "subscription_details": {"metadata": {}, "subscription": subscription},
            }
        return fill(
            TEMPLATES["invoice"],
            account_country="US", account_name="Cloudsources Sandbox", account_tax_ids=None,
            amount_due=total, amount_paid=0, amount_remaining=total, amount_shipping=0,
            application=None, attempt_count=0, attempted=False, auto_advance=True,
            automatic_tax=INVOICE_AUTOMATIC_TAX, billing_reason=billing_reason,
            collection_method=collection_method, created=t, currency=currency, custom_fields=None,
            customer=customer["id"], customer_address=customer["address"],
            customer_email=customer["email"], customer_name=customer["name"],
            customer_phone=customer["phone"], customer_shipping=customer["shipping"],
            customer_tax_exempt=customer["tax_exempt"], customer_tax_ids=[],
            default_payment_method=None, default_source=None, default_tax_rates=[],
            description=None if subscription else maybe(r, 0.4, lambda: r.choice(NOTES)),
            discounts=[], due_date=None, effective_at=None, ending_balance=None, footer=None,
            from_invoice=None, hosted_invoice_url=None, id=iid, invoice_pdf=None,
            issuer={"type": "self"}, last_finalization_error=None, latest_revision=None,
            lines={"data": line_objs, "has_more": False, "object": "list",
                   "url": f"/v1/invoices/{iid}/lines"},
            livemode=False, metadata=metadata(r, 0.2), next_payment_attempt=None, number=None,
            object="invoice", on_behalf_of=None, payment_settings=INVOICE_PAYMENT_SETTINGS,
            period_end=period[1], period_start=period[0], post_payment_credit_notes_amount=0,
            pre_payment_credit_notes_amount=0, receipt_number=None, rendering=INVOICE_RENDERING,
            shipping_cost=None, shipping_details=None, starting_balance=0,
            statement_descriptor=None, status="draft", status_transitions=NO_TRANSITIONS,
            subscription=subscription, subtotal=total, subtotal_excluding_tax=total,
            test_clock=None, total=total, total_discount_amounts=[], total_excluding_tax=total,
            webhooks_delivered_at=None, automatically_finalizes_at=t + 3600,
            total_pretax_credit_amounts=[], total_taxes=[], amount_overpaid=0, parent=parent,
            customer_account=None,
        )

    def _line(self, invoice_id: str, currency: str, spec: LineSpec,
              subscription: str | None) -> Obj:
        price, product_name, qty, item_id, (start, end) = spec
        unit = price["unit_amount"]
        if item_id:
            interval = price["recurring"]["interval"] if price["recurring"] else "once"
            description = f"{qty} × {product_name} (at {money(unit, currency)} / {interval})"
            parent = {
                "invoice_item_details": None, "type": "subscription_item_details",
                "subscription_item_details": {
                    "invoice_item": None, "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": subscription, "subscription_item": item_id,
                },
            }
        else:
            description = product_name if qty == 1 else f"{product_name} × {qty}"
            parent = {
                "invoice_item_details": {
                    "invoice_item": self.new_id("ii"), "proration": False,
                    "proration_details": {"credited_items": None}, "subscription": None,
                },
                "subscription_item_details": None, "type": "invoice_item_details",
            }
        return fill(
            TEMPLATES["line_item"], amount=unit * qty, currency=currency, description=description,
            discount_amounts=[], discountable=True, discounts=[], id=self.new_id("il"),
            invoice=invoice_id, livemode=False, metadata={}, object="line_item",
            period={"end": end, "start": start}, quantity=qty, subscription=subscription,
            pretax_credit_amounts=[], taxes=[], parent=parent,
            pricing={"price_details": {"price": price["id"], "product": price["product"]},
                     "type": "price_details", "unit_amount_decimal": price["unit_amount_decimal"]},
            subtotal=unit * qty, quantity_decimal=str(qty),
        )

    def finalize(self, inv: Obj, at: int, number: str) -> Obj:
        base = f"acct_1{self.account_tag}{rand_chars(self.rng, 5)}/test_{rand_chars(self.rng, 40)}"
        new = dict(inv, status="open", number=number, effective_at=at, ending_balance=0,
                   hosted_invoice_url=f"https://invoice.stripe.com/i/{base}",
                   invoice_pdf=f"https://pay.stripe.com/invoice/{base}/pdf",
                   automatically_finalizes_at=None, webhooks_delivered_at=at,
                   status_transitions=dict(inv["status_transitions"], finalized_at=at))
        if inv["collection_method"] == "send_invoice":
            new["due_date"] = at + 30 * DAY
        else:  # Stripe tries to collect about an hour after finalizing
            new["next_payment_attempt"] = at + 3600
        return new

    def fail_attempt(self, inv: Obj, at: int) -> Obj:
        nxt = at + 3 * DAY if inv["collection_method"] == "charge_automatically" else None
        return dict(inv, attempted=True, attempt_count=inv["attempt_count"] + 1,
                    next_payment_attempt=nxt)

    def pay(self, inv: Obj, at: int) -> Obj:
        return dict(inv, status="paid", amount_paid=inv["amount_due"], amount_remaining=0,
                    attempted=True, attempt_count=inv["attempt_count"] + 1, auto_advance=False,
                    next_payment_attempt=None,
                    status_transitions=dict(inv["status_transitions"], paid_at=at))

    def void(self, inv: Obj, at: int) -> Obj:
        return dict(inv, status="void", auto_advance=False, next_payment_attempt=None,
                    status_transitions=dict(inv["status_transitions"], voided_at=at))

    def mark_uncollectible(self, inv: Obj, at: int) -> Obj:
        return dict(inv, status="uncollectible", auto_advance=False, attempted=True,
                    attempt_count=max(1, inv["attempt_count"]), next_payment_attempt=None,
                    status_transitions=dict(inv["status_transitions"], marked_uncollectible_at=at))

    # -- charges ----------------------------------------------------------------------------------
    def charge(self, t: int, customer: Obj, amount: int, description: str | None,
               failed: bool = False) -> Obj:
        r = self.rng
        cid = self.new_id("ch")
        brand, last4, funding, country = r.choice(CARDS)
        ok = not failed
        card = dict(
            CARD_TEMPLATE, amount_authorized=amount if ok else None, brand=brand,
            checks={"address_line1_check": None,
                    "address_postal_code_check": r.choice(("pass", None)),
                    "cvc_check": "pass" if ok else r.choice(("pass", "fail"))},
            country=country, exp_month=r.randint(1, 12), exp_year=r.randint(2025, 2032),
            fingerprint=rand_chars(r, 16), funding=funding, installments=None, last4=last4,
            network=brand if brand in ("visa", "mastercard", "amex", "discover") else None,
            overcapture={"maximum_amount_capturable": amount, "status": "unavailable"},
            three_d_secure=None,
            wallet=maybe(r, 0.1, lambda: {"dynamic_last4": "0000", "type": "apple_pay"}),
            authorization_code=f"{r.randrange(10**6):06d}" if ok else None,
            regulated_status="unregulated", network_transaction_id=rand_chars(r, 15, "0123456789"),
        )
        outcome = APPROVED
        failure: tuple[str | None, str | None] = (None, None)
        if failed:
            code, reason, message = r.choice(DECLINES)
            failure = (code, message)
            outcome = dict(
                APPROVED, network_status="declined_by_network", reason=reason,
                seller_message="The bank did not return any further details with this decline.",
                type="issuer_declined")
        return fill(
            TEMPLATES["charge"],
            amount=amount, amount_captured=amount if ok else 0, amount_refunded=0,
            application=None, application_fee=None, application_fee_amount=None,
            balance_transaction=self.new_id("txn") if ok else None,
            billing_details={"address": customer["address"] or EMPTY_ADDRESS,
                             "email": customer["email"], "name": customer["name"],
                             "phone": customer["phone"], "tax_id": None},
            calculated_statement_descriptor="CLOUDSOURCES* SANDBOX" if ok else None,
            captured=ok, created=t, currency=customer["currency"], customer=customer["id"],
            description=description, disputed=False, failure_balance_transaction=None,
            failure_code=failure[0], failure_message=failure[1], fraud_details={}, id=cid,
            livemode=False, metadata=metadata(r, 0.25), object="charge", on_behalf_of=None,
            outcome=outcome, paid=ok, payment_intent=self.new_id("pi"),
            payment_method=self.new_id("pm"),
            payment_method_details={"card": card, "type": "card"},
            receipt_email=customer["email"] if ok and r.random() < 0.5 else None,
            receipt_number=None,
            receipt_url=RECEIPTS + rand_chars(r, 64) if ok else None,
            refunded=False,
            refunds={"data": [], "has_more": False, "object": "list",
                     "url": f"/v1/charges/{cid}/refunds"},
            review=None, shipping=None, source_transfer=None, statement_descriptor=None,
            statement_descriptor_suffix=None, status="succeeded" if ok else "failed",
            transfer_data=None, transfer_group=None, source=None,
        )

    def refund(self, charge: Obj, amount: int, at: int) -> Obj:
        """The charge after a (partial) refund of `amount`."""
        r = self.rng
        refund = fill(
            TEMPLATES["refund"], amount=amount, balance_transaction=self.new_id("txn"),
            charge=charge["id"], created=at, currency=charge["currency"],
            destination_details={"card": {"type": "refund"}, "type": "card"},
            id=self.new_id("re"), metadata={}, object="refund",
            payment_intent=charge["payment_intent"],
            reason=r.choice((None, "requested_by_customer", "duplicate", "fraudulent")),
            receipt_number=None, source_transfer_reversal=None, status="succeeded",
            transfer_reversal=None, customer=charge["customer"], customer_account=None,
            payment_method=charge["payment_method"],
        )
        refunded = charge["amount_refunded"] + amount
        return dict(
            charge, amount_refunded=refunded, refunded=refunded >= charge["amount"],
            refunds=dict(charge["refunds"], data=[refund, *charge["refunds"]["data"]]),
        )

"""Builders for the Stripe collections beyond the six core ones: payments (intents, methods,
balance transactions, disputes), catalogue extras (coupons, tax rates, plans, invoice items),
Connect (accounts, transfers, reversals, application fees, fee refunds) and legacy sources
(cards, bank accounts). Shapes are the fixtures3.json examples (see stripe_objects.fill).

This factory draws from its own rng, never the core factory's, so adding these collections
leaves every core object and every core advance exactly as it was.
"""

from __future__ import annotations

import random
import string

from .fakedata import COMPANIES, NOTES, full_name, maybe, metadata, rand_chars
from .stripe_billing import BillingFactory
from .stripe_objects import TEMPLATES, fill
from .world import DAY, Obj

PI_SECRET = "_secret_"
BANKS = (("STRIPE TEST BANK", "110000000", "6789"), ("WELLS FARGO BANK", "121000248", "0001"),
         ("JPMORGAN CHASE", "021000021", "4321"))
COUPON_CODES = ("LAUNCH20", "EARLYBIRD", "PARTNER15")  # referenced by seeded customer discounts
TAX_RATES = (("VAT", "DE", 19.0, True, "vat"), ("VAT", "FR", 20.0, False, "vat"),
             ("Sales Tax", "US", 7.25, False, "sales_tax"), ("GST", "AU", 10.0, True, "gst"),
             ("VAT", "GB", 20.0, True, "vat"), ("Sales Tax", "US", 8.875, False, "sales_tax"))
ACCOUNT_TEMPLATE = TEMPLATES["account"]
DISPUTE_REASONS = ("fraudulent", "product_not_received", "duplicate", "general",
                   "subscription_canceled")


def stripe_fee(amount: int) -> int:
    return round(amount * 0.029) + 30


class ExtraFactory(BillingFactory):
    def __init__(self, rng: random.Random, core: BillingFactory) -> None:
        super().__init__(rng)
        self.account_tag = core.account_tag
        self._seen = core._seen  # one id space for the whole account

    # -- payments ---------------------------------------------------------------------------------
    def payment_intent(self, charge: Obj | None, *, t: int, pi_id: str, customer: str | None,
                       amount: int, currency: str, status: str) -> Obj:
        r = self.rng
        error = None
        if charge is not None and not charge["paid"]:
            error = {"charge": charge["id"], "code": charge["failure_code"],
                     "decline_code": charge["outcome"]["reason"], "doc_url": None,
                     "message": charge["failure_message"], "param": None,
                     "payment_method": {"id": charge["payment_method"], "object": "payment_method"},
                     "type": "card_error"}
        return fill(
            TEMPLATES["payment_intent"], amount=amount,
            amount_capturable=0, amount_details={"tip": {}},
            amount_received=amount if status == "succeeded" else 0, application=None,
            application_fee_amount=None, automatic_payment_methods={"enabled": True},
            canceled_at=t + DAY if status == "canceled" else None,
            cancellation_reason="abandoned" if status == "canceled" else None,
            capture_method="automatic", client_secret=pi_id + PI_SECRET + rand_chars(r, 25),
            confirmation_method="automatic", created=t, currency=currency, customer=customer,
            description=charge["description"] if charge else None, id=pi_id,
            last_payment_error=error, latest_charge=charge["id"] if charge else None,
            livemode=False, metadata=charge["metadata"] if charge else {},
            next_action=None, object="payment_intent",
            on_behalf_of=None, payment_method=charge["payment_method"] if charge else None,
            payment_method_configuration_details=None,
            payment_method_options={"card": {
                "installments": None, "mandate_options": None, "network": None,
                "request_three_d_secure": "automatic"}},
            payment_method_types=["card"], processing=None,
            receipt_email=charge["receipt_email"] if charge else None, review=None,
            setup_future_usage=None, shipping=None, statement_descriptor=None,
            statement_descriptor_suffix=None, status=status, transfer_data=None,
            transfer_group=None, source=None, excluded_payment_method_types=None,
            customer_account=None, managed_payments={"enabled": False},
        )

    def payment_method(self, pm_id: str, t: int, customer: Obj | None,
                       card: Obj | None = None) -> Obj:
        r = self.rng
        if card is None:
            brand, last4, funding, country = r.choice(
                (("visa", "4242", "credit", "US"), ("mastercard", "4444", "credit", "US"),
                 ("amex", "8431", "credit", "US"), ("visa", "1881", "debit", "GB")))
            card = {"brand": brand, "last4": last4, "funding": funding, "country": country,
                    "exp_month": r.randint(1, 12), "exp_year": r.randint(2026, 2032),
                    "fingerprint": rand_chars(r, 16), "wallet": None,
                    "checks": {"address_line1_check": None, "address_postal_code_check": None,
                               "cvc_check": "pass"}}
        billing = {"address": customer["address"] if customer else None,
                   "email": customer["email"] if customer else None,
                   "name": customer["name"] if customer else None,
                   "phone": customer["phone"] if customer else None, "tax_id": None}
        if billing["address"] is None:
            billing["address"] = TEMPLATES["charge"]["billing_details"]["address"]
        return fill(
            TEMPLATES["payment_method"], allow_redisplay="unspecified", billing_details=billing,
            card={
                "brand": card["brand"], "checks": card["checks"], "country": card["country"],
                "display_brand": card["brand"], "exp_month": card["exp_month"],
                "exp_year": card["exp_year"], "fingerprint": card["fingerprint"],
                "funding": card["funding"], "generated_from": None, "last4": card["last4"],
                "networks": {"available": [card["brand"]], "preferred": None},
                "three_d_secure_usage": {"supported": True}, "wallet": card["wallet"],
                "regulated_status": "unregulated",
            },
            created=t, customer=customer["id"] if customer else None, id=pm_id, livemode=False,
            metadata={}, object="payment_method", type="card", customer_account=None,
        )

    def balance_transaction(self, txn_id: str, t: int, amount: int, currency: str, source: str,
                            type_: str, description: str | None, fee: int = 0) -> Obj:
        details = []
        if fee:
            details = [{"amount": fee, "application": None, "currency": currency,
                        "description": "Stripe processing fees", "type": "stripe_fee"}]
        category = {"payment": "charge", "payment_refund": "refund",
                    "application_fee_refund": "fee_refund", "transfer_cancel": "transfer_reversal",
                    "adjustment": "dispute"}.get(type_, type_)
        return fill(
            TEMPLATES["balance_transaction"], amount=amount, available_on=t + 2 * DAY, created=t,
            currency=currency, description=description, exchange_rate=None, fee=fee,
            fee_details=details, id=txn_id, net=amount - fee, object="balance_transaction",
            reporting_category=category, source=source, status="available", type=type_,
            balance_type="payments",
        )

    def dispute(self, t: int, charge: Obj, txn: Obj) -> Obj:
        r = self.rng
        reason = r.choice(DISPUTE_REASONS)
        evidence = dict(TEMPLATES["dispute"]["evidence"])
        details = dict(TEMPLATES["dispute"]["evidence_details"], due_by=t + 7 * DAY)
        card = charge["payment_method_details"]["card"]
        return fill(
            TEMPLATES["dispute"], amount=charge["amount"], balance_transactions=[txn],
            charge=charge["id"], created=t, currency=charge["currency"], evidence=evidence,
            evidence_details=details, id=self.new_id("dp"), is_charge_refundable=False,
            livemode=False, metadata={}, object="dispute", payment_intent=charge["payment_intent"],
            payment_method_details={"card": {"brand": card["brand"], "case_type": "chargeback",
                                             "network_reason_code": r.choice(("10.4", "13.1")),
                                             "network": card["network"]}, "type": "card"},
            reason=reason, status="needs_response", enhanced_eligibility_types=[],
        )

    # -- catalogue extras -------------------------------------------------------------------------
    def coupon(self, t: int, code: str | None = None) -> Obj:
        r = self.rng
        percent = r.random() < 0.7
        pct = r.choice((10.0, 15.0, 20.0, 25.5, 50.0))
        amount = r.choice((500, 1000, 2500))
        duration = r.choice(("once", "forever", "repeating"))
        return fill(
            TEMPLATES["coupon"], amount_off=None if percent else amount, created=t,
            currency=None if percent else "usd", duration=duration,
            duration_in_months=3 if duration == "repeating" else None,
            id=code or rand_chars(r, 8, string.ascii_uppercase + string.digits), livemode=False,
            max_redemptions=maybe(r, 0.3, lambda: r.choice((50, 100, 1000))), metadata={},
            name=f"{pct:g}% off" if percent else f"${amount // 100} off", object="coupon",
            percent_off=pct if percent else None, redeem_by=None,
            times_redeemed=r.randint(0, 40), valid=True,
        )

    def tax_rate(self, t: int, spec: tuple[str, str, float, bool, str]) -> Obj:
        name, country, pct, inclusive, kind = spec
        return fill(
            TEMPLATES["tax_rate"], active=True, country=country, created=t,
            description=f"{name} {country}", display_name=name, effective_percentage=pct,
            id=self.new_id("txr"), inclusive=inclusive, jurisdiction=country,
            jurisdiction_level="country", livemode=False, metadata={}, object="tax_rate",
            percentage=pct, state=None, tax_type=kind, flat_amount=None, rate_type="percentage",
        )

    def invoice_item(self, ii_id: str, line: Obj, customer: str, invoice: str | None,
                     t: int) -> Obj:
        return fill(
            TEMPLATES["invoiceitem"], amount=line["amount"], currency=line["currency"],
            customer=customer, date=t, description=line["description"], discountable=True,
            discounts=[], id=ii_id, invoice=invoice, livemode=False, metadata={},
            object="invoiceitem", period=line["period"], proration=False,
            quantity=line["quantity"], tax_rates=[], test_clock=None, parent=None,
            pricing=line["pricing"], net_amount=line["amount"], customer_account=None,
            quantity_decimal=line["quantity_decimal"],
        )

    # -- Connect ----------------------------------------------------------------------------------
    def account(self, t: int) -> Obj:
        r = self.rng
        acct = "acct_1" + rand_chars(r, 15)
        name = r.choice(COMPANIES)
        country = r.choice(("US", "US", "GB", "FR", "DE"))
        enabled = r.random() < 0.8
        req = ACCOUNT_TEMPLATE["requirements"]
        return fill(
            ACCOUNT_TEMPLATE,
            business_profile=dict(ACCOUNT_TEMPLATE["business_profile"], name=name,
                                  url=f"https://{name.split()[0].lower()}.example.com"),
            business_type=r.choice(("company", "individual")),
            capabilities={"card_payments": "active" if enabled else "inactive",
                          "transfers": "active" if enabled else "inactive"},
            charges_enabled=enabled, controller={"type": "application", "is_controller": True},
            country=country, created=t,
            default_currency={"GB": "gbp", "FR": "eur", "DE": "eur"}.get(country, "usd"),
            details_submitted=enabled, email=f"ops@{name.split()[0].lower()}.example.com",
            external_accounts={"data": [], "has_more": False, "object": "list",
                               "url": f"/v1/accounts/{acct}/external_accounts"},
            future_requirements=ACCOUNT_TEMPLATE["future_requirements"], id=acct,
            metadata=metadata(r, 0.3), object="account", payouts_enabled=enabled,
            requirements=dict(req, currently_due=[], eventually_due=[], disabled_reason=None)
            if enabled else req,
            settings=ACCOUNT_TEMPLATE["settings"],
            tos_acceptance={"date": t, "ip": "203.0.113.7", "user_agent": None},
            type=r.choice(("express", "custom", "standard")),
        )

    def transfer(self, t: int, account: Obj, txn_id: str) -> Obj:
        r = self.rng
        tr = self.new_id("tr")
        return fill(
            TEMPLATES["transfer"], amount=r.choice((1100, 2500, 9900, 42000)), amount_reversed=0,
            balance_transaction=txn_id, created=t, currency="usd",
            description=maybe(r, 0.3, lambda: r.choice(NOTES)), destination=account["id"],
            destination_payment="py_" + rand_chars(r, 14), id=tr, livemode=False,
            metadata=metadata(r, 0.2), object="transfer",
            reversals={"data": [], "has_more": False, "object": "list",
                       "url": f"/v1/transfers/{tr}/reversals"},
            reversed=False, source_transaction=None, source_type="card",
            transfer_group=maybe(r, 0.3, lambda: f"ORDER_{r.randrange(10**5)}"),
        )

    def reversal(self, transfer: Obj, t: int, amount: int, txn_id: str) -> Obj:
        return fill(
            TEMPLATES["transfer_reversal"], amount=amount, balance_transaction=txn_id, created=t,
            currency=transfer["currency"], destination_payment_refund="pyr_" + rand_chars(
                self.rng, 14), id=self.new_id("trr"), metadata={}, object="transfer_reversal",
            source_refund=None, transfer=transfer["id"],
        )

    def application_fee(self, t: int, account: Obj, txn_id: str) -> Obj:
        r = self.rng
        fee = self.new_id("fee")
        charge = self.new_id("ch")  # a direct charge on the connected account, not listed here
        return fill(
            TEMPLATES["application_fee"], account=account["id"],
            amount=r.choice((100, 250, 500, 1200)), amount_refunded=0,
            application="ca_" + rand_chars(self.rng, 32), balance_transaction=txn_id,
            charge=charge, created=t, currency="usd",
            fee_source={"charge": charge, "type": "charge"}, id=fee, livemode=False,
            object="application_fee", originating_transaction=None, refunded=False,
            refunds={"data": [], "has_more": False, "object": "list",
                     "url": f"/v1/application_fees/{fee}/refunds"},
        )

    def fee_refund(self, fee: Obj, t: int, amount: int, txn_id: str) -> Obj:
        return fill(
            TEMPLATES["fee_refund"], amount=amount, balance_transaction=txn_id, created=t,
            currency=fee["currency"], fee=fee["id"], id=self.new_id("fr"), metadata={},
            object="fee_refund",
        )

    # -- legacy sources ---------------------------------------------------------------------------
    def card(self, customer: Obj) -> Obj:
        r = self.rng
        brand, last4 = r.choice((("Visa", "4242"), ("MasterCard", "4444"),
                                 ("American Express", "8431")))
        addr = customer["address"] or {}
        return fill(
            TEMPLATES["card"], address_city=addr.get("city"), address_country=addr.get("country"),
            address_line1=addr.get("line1"), address_line1_check=None,
            address_line2=addr.get("line2"), address_state=addr.get("state"),
            address_zip=addr.get("postal_code"), address_zip_check=None, brand=brand,
            country="US", customer=customer["id"], cvc_check="pass", dynamic_last4=None,
            exp_month=r.randint(1, 12), exp_year=r.randint(2026, 2031),
            fingerprint=rand_chars(r, 16), funding=r.choice(("credit", "debit")),
            id=self.new_id("card"), last4=last4, metadata={}, name=customer["name"],
            object="card", tokenization_method=None, regulated_status="unregulated",
        )

    def bank_account(self, customer: Obj) -> Obj:
        r = self.rng
        bank, routing, last4 = r.choice(BANKS)
        return fill(
            TEMPLATES["bank_account"], account_holder_name=customer["name"] or full_name(r),
            account_holder_type=r.choice(("individual", "company")), account_type=None,
            bank_name=bank, country="US", currency="usd", customer=customer["id"],
            fingerprint=rand_chars(r, 16), id=self.new_id("ba"), last4=last4, metadata={},
            object="bank_account", routing_number=routing,
            status=r.choice(("new", "verified", "verified")),
        )


def plan_of(price: Obj) -> Obj:
    """The `plan` view of a recurring price, uncached (a price update changes its plan)."""
    rec = price["recurring"]
    return fill(
        TEMPLATES["plan"], active=price["active"], amount=price["unit_amount"],
        amount_decimal=price["unit_amount_decimal"], billing_scheme=price["billing_scheme"],
        created=price["created"], currency=price["currency"], id=price["id"],
        interval=rec["interval"], interval_count=rec["interval_count"], livemode=False,
        metadata=price["metadata"], meter=None, nickname=price["nickname"], object="plan",
        product=price["product"], tiers_mode=None, transform_usage=None,
        trial_period_days=rec["trial_period_days"], usage_type=rec["usage_type"],
    )

"""Stripe at the HTTP edge, for tests: `responses` answers stripe-python's requests to api.stripe.com from a small
in-memory account (customers, products, prices, subscriptions, invoices), in Stripe's API shape (2026 "dahlia": the
current period on the subscription items). Webhook events are built from the same objects and signed like Stripe
signs them (`Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")`)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses
from django.test import Client

API = "https://api.stripe.com"
PRICE_ID = "price_orderrail_monthly"
PRODUCT_ID = "prod_orderrail_live"
# Shaped like real keys (dj-stripe validates sk_/rk_ keys against ^(pk|sk|rk)_(test|live)_[a-zA-Z0-9]{24,}$), and
# distinctive, so a test can prove neither shows up anywhere.
CANARY_STRIPE_KEY = "sk_test_CanaryStripeKey4q9Z7x2M8p5L1k3J6h0G"
CANARY_WEBHOOK_SECRET = "whsec_CanaryWebhookSecret7Yt3Rw9Qe1Uo5Ip2"
DAY = 86_400

_ids = itertools.count(1000)


def new_id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):06d}Test"


def sign(body: str, secret: str, timestamp: int | None = None, *, extra_v1: str | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    header = f"t={t},v1={digest}"
    if extra_v1:
        header += f",v1={extra_v1}"
    return header


class FakeStripe:
    """One Stripe account. Every request stripe-python makes is recorded in `calls` as (method, path, params)."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.mock = mock
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.account = {"id": "acct_orderrailTest", "object": "account", "type": "standard", "settings": {}}
        self.customers: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.product = {
            "id": PRODUCT_ID,
            "object": "product",
            "name": "OrderRail live execution",
            "active": True,
            "created": int(time.time()) - 90 * DAY,
            "livemode": False,
            "metadata": {},
            "type": "service",
        }
        self.price = {
            "id": PRICE_ID,
            "object": "price",
            "active": True,
            "currency": "usd",
            "unit_amount": 3000,
            "unit_amount_decimal": "3000",
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
            "type": "recurring",
            "billing_scheme": "per_unit",
            "product": PRODUCT_ID,
            "lookup_key": "orderrail_live_monthly",
            "created": int(time.time()) - 90 * DAY,
            "livemode": False,
            "metadata": {},
            "nickname": "$30 per month",
        }
        self.unavailable = False  # every API call fails to connect
        self._register()

    # --- the account's story ----------------------------------------------------------------------------------

    def subscribe(self, customer_id: str, *, start: int | None = None, status: str = "active") -> dict[str, Any]:
        """What Stripe holds after a completed Checkout: an active subscription for one month from `start`."""
        start = int(time.time()) if start is None else start
        sub_id = new_id("sub")
        sub = {
            "id": sub_id,
            "object": "subscription",
            "customer": customer_id,
            "status": status,
            "cancel_at_period_end": False,
            "cancel_at": None,
            "canceled_at": None,
            "ended_at": None,
            "created": start,
            "start_date": start,
            "billing_cycle_anchor": start,
            "collection_method": "charge_automatically",
            "currency": "usd",
            "livemode": False,
            "metadata": {},
            "latest_invoice": None,
            "default_payment_method": None,
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": new_id("si"),
                        "object": "subscription_item",
                        "price": dict(self.price),
                        "quantity": 1,
                        "subscription": sub_id,
                        "created": start,
                        "metadata": {},
                        "current_period_start": start,
                        "current_period_end": start + 30 * DAY,
                    }
                ],
                "has_more": False,
                "url": f"/v1/subscription_items?subscription={sub_id}",
            },
        }
        self.subscriptions[sub_id] = sub
        return sub

    def set_period(self, sub: dict[str, Any], start: int, end: int) -> None:
        for item in sub["items"]["data"]:
            item["current_period_start"], item["current_period_end"] = start, end

    def renew(self, sub: dict[str, Any], *, paid: bool) -> None:
        """The period rolls over; the renewal invoice is paid, or the card is declined (past_due)."""
        item = sub["items"]["data"][0]
        start = item["current_period_end"]
        self.set_period(sub, start, start + 30 * DAY)
        sub["status"] = "active" if paid else "past_due"

    def cancel_at_period_end(self, sub: dict[str, Any]) -> None:
        sub["cancel_at_period_end"] = True
        sub["canceled_at"] = int(time.time())

    def end(self, sub: dict[str, Any], *, at: int | None = None) -> None:
        sub["status"] = "canceled"
        sub["ended_at"] = int(time.time()) if at is None else at
        sub["canceled_at"] = sub["canceled_at"] or sub["ended_at"]

    def invoice(self, sub: dict[str, Any], *, status: str = "paid") -> dict[str, Any]:
        invoice_id = new_id("in")
        now = int(time.time())
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "customer": sub["customer"],
            "number": f"ORDR-{len(self.invoices) + 1:04d}",
            "status": status,
            "currency": "usd",
            "total": 3000,
            "subtotal": 3000,
            "amount_due": 3000,
            "amount_paid": 3000 if status == "paid" else 0,
            "amount_remaining": 0 if status == "paid" else 3000,
            "created": now,
            "period_start": now,
            "period_end": now,
            "livemode": False,
            "metadata": {},
            "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice_id}",
            "invoice_pdf": f"https://pay.stripe.com/invoice/{invoice_id}/pdf",
            "collection_method": "charge_automatically",
            "billing_reason": "subscription_cycle",
            "lines": {"object": "list", "data": [], "has_more": False, "url": f"/v1/invoices/{invoice_id}/lines"},
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub["id"]}},
        }
        self.invoices[invoice_id] = invoice
        return invoice

    def event(self, kind: str, obj: dict[str, Any], *, created: int | None = None) -> dict[str, Any]:
        return {
            "id": new_id("evt"),
            "object": "event",
            "api_version": "2026-05-27.dahlia",
            "created": int(time.time()) if created is None else created,
            "type": kind,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": json.loads(json.dumps(obj))},
        }

    def requests_to(self, method: str, path: str) -> list[dict[str, Any]]:
        return [params for m, p, params in self.calls if m == method and p == path]

    # --- the HTTP edge ----------------------------------------------------------------------------------------

    def _register(self) -> None:
        routes = [
            ("GET", r"/v1/account$", lambda m, p: self.account),
            ("POST", r"/v1/customers$", self._create_customer),
            ("GET", r"/v1/customers/(?P<id>[^/]+)$", lambda m, p: self._get(self.customers, m["id"])),
            ("POST", r"/v1/checkout/sessions$", self._checkout_session),
            ("POST", r"/v1/billing_portal/sessions$", self._portal_session),
            ("GET", r"/v1/subscriptions/(?P<id>[^/]+)$", lambda m, p: self._get(self.subscriptions, m["id"])),
            ("GET", r"/v1/invoices/(?P<id>[^/]+)$", lambda m, p: self._get(self.invoices, m["id"])),
            ("GET", r"/v1/prices/(?P<id>[^/]+)$", lambda m, p: self.price if m["id"] == PRICE_ID else None),
            ("GET", r"/v1/products/(?P<id>[^/]+)$", lambda m, p: self.product if m["id"] == PRODUCT_ID else None),
            (
                "GET",
                r"/v1/products/(?P<id>[^/]+)/features$",
                lambda m, p: _empty_list(f"/v1/products/{m['id']}/features"),
            ),
        ]
        for method, pattern, handler in routes:
            self.mock.add_callback(
                method,
                re.compile(API + pattern.replace("$", r"(\?.*)?$")),
                callback=self._callback(method, re.compile(pattern), handler),
            )

    def _callback(self, method: str, pattern: re.Pattern[str], handler: Any) -> Any:
        def answer(request: Any) -> tuple[int, dict[str, str], str]:
            url = urlsplit(request.url)
            params = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(url.query).items()}
            if request.body:
                body = request.body.decode() if isinstance(request.body, bytes) else request.body
                params |= {k: v if len(v) > 1 else v[0] for k, v in parse_qs(body).items()}
            self.calls.append((method, url.path, params))
            if self.unavailable:
                raise ConnectionError("stripe unreachable (test)")
            match = pattern.search(url.path)
            assert match is not None
            result = handler(match, params)
            if result is None:
                error = {"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such"}}
                return 404, {"Request-Id": "req_test"}, json.dumps(error)
            return 200, {"Request-Id": "req_test"}, json.dumps(result)

        return answer

    @staticmethod
    def _get(store: dict[str, dict[str, Any]], key: str) -> dict[str, Any] | None:
        return store.get(key)

    def _create_customer(self, match: Any, params: dict[str, Any]) -> dict[str, Any]:
        customer_id = new_id("cus")
        metadata = {k[len("metadata[") : -1]: v for k, v in params.items() if k.startswith("metadata[")}
        customer = {
            "id": customer_id,
            "object": "customer",
            "email": params.get("email"),
            "name": params.get("name"),
            "created": int(time.time()),
            "livemode": False,
            "metadata": metadata,
            "currency": None,
            "balance": 0,
            "delinquent": False,
            "invoice_settings": {"default_payment_method": None},
        }
        self.customers[customer_id] = customer
        return customer

    def _checkout_session(self, match: Any, params: dict[str, Any]) -> dict[str, Any]:
        session_id = new_id("cs_test")
        return {
            "id": session_id,
            "object": "checkout.session",
            "mode": params.get("mode"),
            "customer": params.get("customer"),
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "status": "open",
            "livemode": False,
        }

    def _portal_session(self, match: Any, params: dict[str, Any]) -> dict[str, Any]:
        session_id = new_id("bps")
        return {
            "id": session_id,
            "object": "billing_portal.session",
            "customer": params.get("customer"),
            "return_url": params.get("return_url"),
            "url": f"https://billing.stripe.com/p/session/{session_id}",
            "livemode": False,
        }


def _empty_list(url: str) -> dict[str, Any]:
    return {"object": "list", "data": [], "has_more": False, "url": url}


@contextmanager
def fake_stripe(*passthru: str) -> Iterator[FakeStripe]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for prefix in passthru:
            mock.add_passthru(prefix)
        yield FakeStripe(mock)


def deliver(
    client: Client,
    path: str,
    event: dict[str, Any],
    secret: str = CANARY_WEBHOOK_SECRET,
    *,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """POST a webhook event the way Stripe does: the exact body, signed with the endpoint's secret."""
    body = json.dumps(event)
    return client.post(
        path,
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": sign(body, secret, timestamp), **(headers or {})},
    )

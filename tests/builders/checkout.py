"""Stripe Checkout in setup mode, which localstripe lacks: the page the gateway hands
out, what the customer does on it, the proxy that expands its SetupIntent as Stripe
does, and ``checkout.session.completed`` signed as Stripe signs it."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.builders.api import Api
from tests.builders.stripe_harness import Recorded, RecordingProxy
from tests.builders.stripe_world import WEBHOOK_SECRET, StripeWorld

SETUP = """mutation($id: ID!, $url: String!) { createPaymentSetupSession(tenantId: $id, returnUrl: $url) {
  __typename ... on PaymentSetupSession { url } ... on ValidationError { field }
  ... on Error { code message } } }"""

RETURN_URL = "https://app.example.com/billing?tab=card"


async def setup_session(api: Api, tenant_id: str, url: str = RETURN_URL) -> dict[str, Any]:
    return (await api(SETUP, {"id": tenant_id, "url": url}))["createPaymentSetupSession"]


class ExpandingProxy(RecordingProxy):
    """The recording proxy, answering a Checkout Session retrieved with
    ``expand[]=setup_intent`` as Stripe does: the SetupIntent inlined."""

    async def _handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes] | None:
        answer = await super()._handle(method, target, headers, body)
        parts = urlsplit(target)
        if (
            method != "GET"
            or not parts.path.startswith("/v1/checkout/sessions/")
            or not answer
            or answer[0] != 200
        ):
            return answer
        session = json.loads(answer[1])
        expand = {v for k, v in parse_qsl(parts.query) if k.startswith("expand")}
        if "setup_intent" in expand and isinstance(session.get("setup_intent"), str):
            intent = await self._http.get(
                f"/v1/setup_intents/{session['setup_intent']}",
                headers={"Authorization": headers.get("authorization", "")},
            )
            assert intent.status_code == 200, intent.text
            session["setup_intent"] = intent.json()
        return 200, json.dumps(session).encode()


def signed(payload: str, at: int | None = None) -> dict[str, str]:
    """Stripe's headers: ``t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`` under the secret."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(WEBHOOK_SECRET.encode(), f"{at}.{payload}".encode(), hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": f"t={at},v1={digest}"}


def completed_event(session: dict[str, Any]) -> str:
    """``checkout.session.completed`` as Stripe sends it (the session's setup_intent an id)."""
    return json.dumps(
        {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "livemode": False,
            "type": "checkout.session.completed",
            "data": {"object": {**session, "status": "complete"}},
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
        },
        indent=2,
    )


async def deliver(world: StripeWorld, payload: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=world.gateway_url, timeout=30) as http:
        return await http.post("/webhooks/stripe", content=payload.encode(), headers=signed(payload))


async def complete_checkout(world: StripeWorld, tenant: str) -> tuple[str, str, dict[str, Any]]:
    """The tenant, who has no card, opens the page and saves 4242...: the customer id,
    the card's PaymentMethod id and the session as Stripe then holds it."""
    page = await setup_session(world.api, tenant)
    assert page["__typename"] == "PaymentSetupSession", page
    (session_id,) = world.proxy.sessions
    assert page["url"] == f"https://checkout.stripe.com/c/pay/{session_id}"
    customer_id = await world.customer_id(tenant)
    assert world.proxy.sessions[session_id]["customer"] == customer_id

    card = {
        "number": "4242424242424242",
        "exp_month": 12,
        "exp_year": datetime.now(UTC).year + 3,
        "cvc": "123",
    }
    method = await world.stripe.v1.payment_methods.create_async({"type": "card", "card": card})
    intent = await world.stripe.v1.setup_intents.create_async({"customer": customer_id})
    confirmed = await world.stripe.v1.setup_intents.confirm_async(intent.id, {"payment_method": method.id})
    assert confirmed.status == "succeeded"
    await world.stripe.v1.payment_methods.attach_async(method.id, {"customer": customer_id})
    world.proxy.complete_session(session_id, intent.id)
    return customer_id, method.id, world.proxy.sessions[session_id]


async def default_card(world: StripeWorld, customer_id: str) -> str | None:
    customer = await world.stripe.v1.customers.retrieve_async(customer_id)
    return customer.invoice_settings.default_payment_method


def default_card_posts(world: StripeWorld, customer_id: str) -> list[Recorded]:
    return [
        r
        for r in world.proxy.posts(f"/v1/customers/{customer_id}")
        if "invoice_settings[default_payment_method]" in r.form
    ]

"""Saving a card through Stripe Checkout, end to end: createPaymentSetupSession hands
out the page, the customer enters a card there, Stripe sends the signed
``checkout.session.completed`` to ``POST /webhooks/stripe``, the gateway makes that card
the customer's default for invoices, and the next invoice is charged to it.

localstripe has no Checkout, so two things stand in for Stripe here:
- what the page does when the customer submits it (``complete_checkout``): a card
  PaymentMethod, a SetupIntent confirmed with it, the card attached to the customer
  (Checkout in setup mode attaches it and does NOT make it the default), and the
  session marked complete in the recording proxy (``RecordingProxy.complete_session``);
- the retrieval of the session: the proxy answers ``GET /v1/checkout/sessions/{id}``
  itself. ``ExpandingProxy`` adds what Stripe does with ``expand[]=setup_intent``: the
  SetupIntent object, fetched from localstripe, in place of its id.
The event is then signed here exactly as Stripe signs it, with the gateway's secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sqlalchemy import select

from models.tables import ProviderEventRow
from tests.api.billing import plan_with_seat_addon, subscribe
from tests.providers.conftest import WEBHOOK_SECRET, StripeWorld, running_proxy
from tests.providers.harness import LocalStripe, Recorded, RecordingProxy
from tests.providers.test_payment_setup import setup_session


class ExpandingProxy(RecordingProxy):
    """The recording proxy, answering a Checkout Session retrieved with
    ``expand[]=setup_intent`` as Stripe does: the SetupIntent inlined."""

    async def _handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes] | None:
        answer = await super()._handle(method, target, headers, body)
        parts = urlsplit(target)
        if method != "GET" or not parts.path.startswith("/v1/checkout/sessions/") or not answer or answer[0] != 200:
            return answer
        session = json.loads(answer[1])
        expand = {v for k, v in parse_qsl(parts.query) if k.startswith("expand")}
        if "setup_intent" in expand and isinstance(session.get("setup_intent"), str):
            intent = await self._http.get(f"/v1/setup_intents/{session['setup_intent']}",
                                          headers={"Authorization": headers.get("authorization", "")})
            assert intent.status_code == 200, intent.text
            session["setup_intent"] = intent.json()
        return 200, json.dumps(session).encode()


@pytest.fixture
async def proxy(localstripe: LocalStripe) -> AsyncIterator[RecordingProxy]:
    async with running_proxy(ExpandingProxy(localstripe.url)) as running:
        yield running


def signed(payload: str, at: int | None = None) -> dict[str, str]:
    """Stripe's headers: ``t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`` under the secret."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(WEBHOOK_SECRET.encode(), f"{at}.{payload}".encode(), hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": f"t={at},v1={digest}"}


def completed_event(session: dict[str, Any]) -> str:
    """``checkout.session.completed`` as Stripe sends it (the session's setup_intent an id)."""
    return json.dumps({
        "id": f"evt_{secrets.token_hex(12)}", "object": "event", "api_version": "2024-06-20",
        "created": int(time.time()), "livemode": False, "type": "checkout.session.completed",
        "data": {"object": {**session, "status": "complete"}}, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
    }, indent=2)


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

    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": datetime.now(UTC).year + 3, "cvc": "123"}
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
    return [r for r in world.proxy.posts(f"/v1/customers/{customer_id}")
            if "invoice_settings[default_payment_method]" in r.form]


async def test_the_card_saved_on_checkout_becomes_the_default_and_pays_the_first_invoice(
    world: StripeWorld,
) -> None:
    tenant = await world.tenant("Checkout")
    customer_id, card_id, session = await complete_checkout(world, tenant)
    assert await default_card(world, customer_id) is None  # attached, not yet the default

    payload = completed_event(session)
    answer = await deliver(world, payload)

    assert answer.status_code == 200, answer.text
    assert answer.json()["duplicate"] is False
    assert customer_id in answer.json()["outcome"]
    assert await default_card(world, customer_id) == card_id
    (sent,) = default_card_posts(world, customer_id)
    assert sent.form["invoice_settings[default_payment_method]"] == card_id
    assert sent.idempotency_key == f"{json.loads(payload)['id']}-card"

    await world.run_tasks()  # the customer sync queued by createTenant must not undo it
    assert await default_card(world, customer_id) == card_id

    plan, seat = await plan_with_seat_addon(world.api, "team_pro", 99_00, 15_00, includedSeats=5)
    invoice = (await subscribe(world.api, tenant, plan, {seat: 10}))["latestInvoice"]
    assert (invoice["total"]["amount"], invoice["status"]) == (249_00, "OPEN")
    assert await world.run_tasks() == 1

    (charged,) = await world.stripe_invoices(customer_id)
    assert (charged["status"], charged["total"], charged["metadata"]["gateway_invoice_id"]) == (
        "paid", 249_00, invoice["id"])
    paid = await world.wait_for_status(invoice["id"], "PAID")
    assert paid["providerInvoiceId"] == charged["id"]


async def test_the_same_event_delivered_twice_is_a_duplicate_and_sets_the_card_under_one_key(
    world: StripeWorld,
) -> None:
    tenant = await world.tenant("Twice")
    customer_id, card_id, session = await complete_checkout(world, tenant)
    payload = completed_event(session)
    event_id = json.loads(payload)["id"]

    first = await deliver(world, payload)
    second = await deliver(world, payload)  # Stripe retries when it missed our 200

    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    assert second.json()["outcome"] == first.json()["outcome"]
    assert await default_card(world, customer_id) == card_id
    # The redelivery makes no call: Stripe's idempotency keys last a day, its retries
    # three, and a stale event must not put back a card replaced since.
    calls = default_card_posts(world, customer_id)
    assert len(calls) == 1
    assert {(r.idempotency_key, r.form["invoice_settings[default_payment_method]"]) for r in calls} == {
        (f"{event_id}-card", card_id)}
    async with world.deps.store.read() as db:
        stored = (await db.scalars(select(ProviderEventRow).where(ProviderEventRow.id == event_id))).all()
    assert [(row.type, row.provider) for row in stored] == [("checkout.session.completed", "stripe")]

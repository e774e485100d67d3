"""The live `invoiceEvents` stream carries an invoice's corrections: a credit note
(credit_note.created, with the invoice it credited) and a void (invoice.voided), here one
that Stripe reports by webhook. A real uvicorn server and websocket client, on SQLite
and PostgreSQL."""

from __future__ import annotations

import httpx

from gateway.settings import Settings
from models.platform.deps import Deps
from tests.builders.api import new_key, new_tenant
from tests.builders.billing import plan_with_seat_addon, subscribe
from tests.builders.live_subscriptions import http_api, live, next_data, serve, subscribed
from tests.builders.stripe_webhooks import deliver, invoice_event, link_customer

INVOICES = """subscription InvoiceEvents($t: ID!) { invoiceEvents(tenantId: $t) { type
  invoice { id status amountDue { amount } creditNotes { number amount { amount } } } } }"""
ISSUE = """mutation IssueCreditNote($input: IssueCreditNoteInput!) { issueCreditNote(input: $input) {
  __typename ... on CreditNote { number } ... on Error { code message } } }"""
LINES = "query Lines($id: ID!) { invoice(id: $id) { lines { id kind } } }"


async def test_invoice_events_stream_a_credit_note_and_a_void_from_stripe(
    settings: Settings, deps: Deps, admin_key: str
) -> None:
    async with serve(settings, deps) as address, http_api(address, admin_key) as api:
        tenant = await new_tenant(api, "Vandelay")
        await link_customer(deps, tenant, "cus_vandelay")
        key = (await new_key(api, "TENANT", tenant))["secret"]
        plan, seat = await plan_with_seat_addon(api, "vandelay", 99_00, 15_00, includedSeats=5)
        invoice = (await subscribe(api, tenant, plan, {seat: 10}))["latestInvoice"]["id"]
        lines = {line["kind"]: line["id"] for line in (await api(LINES, {"id": invoice}))["invoice"]["lines"]}
        async with live(address, key) as client:
            op = await client.subscribe(INVOICES, {"t": tenant})
            await subscribed(deps.bus, 1)

            spec = {
                "invoiceId": invoice,
                "lines": [{"invoiceLineId": lines["ADDON"]}],
                "reason": "Seats unused",
            }
            note = (await api(ISSUE, {"input": spec}))["issueCreditNote"]
            assert note["__typename"] == "CreditNote", note
            event = next_data(await client.receive(), op, "invoiceEvents")
            assert event == {
                "type": "credit_note.created",
                "invoice": {
                    "id": invoice,
                    "status": "OPEN",
                    "amountDue": {"amount": 99_00},
                    "creditNotes": [{"number": note["number"], "amount": {"amount": 150_00}}],
                },
            }

            voided = invoice_event(
                "invoice.voided",
                "evt_vandelay_void",
                invoice_id=invoice,
                provider_invoice_id="in_vandelay",
                customer="cus_vandelay",
                status="void",
            )
            async with httpx.AsyncClient(base_url=f"http://{address}") as http:
                answer = await deliver(http, voided)
            assert answer.json()["outcome"] == f"invoice {invoice}: void", answer.text
            event = next_data(await client.receive(), op, "invoiceEvents")
            assert (event["type"], event["invoice"]["id"], event["invoice"]["status"]) == (
                "invoice.voided",
                invoice,
                "VOID",
            )
            await client.assert_silent()

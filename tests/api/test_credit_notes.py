"""Credit notes and voided invoices through GraphQL, on both databases: an OPEN invoice
credited owes less (and is PAID once it owes nothing); a PAID one credited to the
balance pays part of the next invoice; the credit notes of an invoice never exceed its
total; numbers run per tenant; an OPEN invoice voided is no longer owed, and a PAST_DUE
subscription owing nothing else recovers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from models.platform.deps import Deps
from models.tables import EventRow
from tests.builders.api import Api, new_key
from tests.builders.billing import advance, create_plan, credit_balance, invoices
from tests.builders.clocks import new_clock

NOTE = """id number amount { amount currency } outcome loweredDue reason createdAt
  invoice { id number status amountDue { amount } credited { amount } }"""
ISSUE = f"""mutation($input: IssueCreditNoteInput!) {{ issueCreditNote(input: $input) {{ __typename
  ... on CreditNote {{ {NOTE} }} ... on ValidationError {{ field }} ... on Error {{ code message }} }} }}"""
VOID = """mutation($id: ID!) { voidInvoice(invoiceId: $id) { __typename
  ... on Invoice { id status amountDue { amount } } ... on Error { code message } } }"""
PAY = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  __typename ... on Invoice { status } ... on Error { code message } } }"""


async def _tenant(api: Api, clock: str, **terms: Any) -> str:
    data = await api(
        """mutation($input: CreateTenantInput!) { createTenant(input: $input) { __typename
             ... on Tenant { id } ... on Error { code message } } }""",
        {
            "input": {
                "name": "Acme Analytics",
                "email": "billing@acme.example",
                "currency": "USD",
                "testClockId": clock,
                **terms,
            }
        },
    )
    assert data["createTenant"]["__typename"] == "Tenant", data
    return data["createTenant"]["id"]


async def _subscribed(
    api: Api, price: int = 300_00, code: str = "team", **terms: Any
) -> tuple[str, str, str, dict[str, Any]]:
    """A tenant on a clock at 2026-03-01 with one OPEN invoice of ``price``."""
    clock = await new_clock(api, "2026-03-01T10:00:00Z")
    tenant = await _tenant(api, clock, **terms)
    plan = await create_plan(api, code, price)
    data = await api(
        """mutation($input: SubscribeInput!) { subscribe(input: $input) { __typename
             ... on Subscription { id } ... on Error { code message } } }""",
        {"input": {"tenantId": tenant, "planId": plan}},
    )
    assert data["subscribe"]["__typename"] == "Subscription", data
    (invoice,) = await invoices(api, tenant)
    assert (invoice["status"], invoice["amountDue"]["amount"]) == ("OPEN", price), invoice
    return clock, tenant, data["subscribe"]["id"], invoice


async def _issue(api: Api, invoice: str, amount: int, outcome: str = "CREDIT_BALANCE") -> dict[str, Any]:
    spec = {"invoiceId": invoice, "amount": amount, "reason": "Outage on 2 March", "outcome": outcome}
    return (await api(ISSUE, {"input": spec}))["issueCreditNote"]


async def _pay(api: Api, invoice: str, amount: int) -> None:
    paid = await api(PAY, {"input": {"invoiceId": invoice, "amount": amount, "method": "BANK_TRANSFER"}})
    assert paid["recordPayment"]["status"] == "PAID", paid


async def _events(deps: Deps, tenant: str, *types: str) -> list[dict[str, Any]]:
    async with deps.store.read() as session:
        rows = await session.scalars(
            select(EventRow)
            .where(EventRow.tenant_id == tenant, EventRow.type.in_(types))
            .order_by(EventRow.id)
        )
        return [{"type": row.type, **row.data} for row in rows]


async def _status(api: Api, subscription: str) -> str:
    data = await api("query($id: ID!) { subscription(id: $id) { status } }", {"id": subscription})
    return data["subscription"]["status"]


async def test_a_credit_note_on_an_open_invoice_lowers_what_is_due_and_paid_when_nothing_is_owed(
    api: Api, deps: Deps
) -> None:
    _, tenant, _, invoice = await _subscribed(api)
    note = await _issue(api, invoice["id"], 50_00)
    assert note["__typename"] == "CreditNote", note
    assert (note["amount"], note["outcome"], note["loweredDue"]) == (
        {"amount": 50_00, "currency": "USD"},
        "CREDIT_BALANCE",
        True,
    )
    assert note["invoice"] == {
        "id": invoice["id"],
        "number": invoice["number"],
        "status": "OPEN",
        "amountDue": {"amount": 250_00},
        "credited": {"amount": 50_00},
    }
    assert await credit_balance(api, tenant) == 0  # it lowered the invoice, not the balance

    rest = await _issue(api, invoice["id"], 250_00)
    assert rest["invoice"]["status"] == "PAID", rest
    assert rest["invoice"]["amountDue"]["amount"] == 0
    created = await _events(deps, tenant, "credit_note.created", "invoice.paid")
    assert [(e["type"], e.get("amount")) for e in created] == [
        ("credit_note.created", 50_00),
        ("credit_note.created", 250_00),
        ("invoice.paid", None),
    ]
    assert created[0]["number"] == note["number"] and created[0]["loweredDue"] is True


async def test_a_credit_note_on_an_open_invoice_is_at_most_what_is_still_owed(api: Api) -> None:
    _, _, _, invoice = await _subscribed(api, collectionMethod="SEND_INVOICE")
    await api(PAY, {"input": {"invoiceId": invoice["id"], "amount": 200_00, "method": "CHECK"}})
    refused = await _issue(api, invoice["id"], 100_01)
    assert refused["code"] == "INVOICE_NOT_CREDITABLE", refused
    assert "$100.00 still owed" in refused["message"], refused
    refund = await _issue(api, invoice["id"], 10_00, "REFUND")
    assert refund["code"] == "INVOICE_NOT_CREDITABLE" and "nothing was charged" in refund["message"]
    whole = await _issue(api, invoice["id"], 100_00)
    assert whole["invoice"]["status"] == "PAID", whole  # the payments by hand pay the rest


async def test_a_credit_note_on_a_paid_invoice_goes_to_the_balance_and_pays_part_of_the_next_invoice(
    api: Api, deps: Deps
) -> None:
    clock, tenant, _, invoice = await _subscribed(api)
    await _pay(api, invoice["id"], 300_00)
    note = await _issue(api, invoice["id"], 80_00)
    assert (note["loweredDue"], note["invoice"]["status"], note["invoice"]["amountDue"]) == (
        False,
        "PAID",
        {"amount": 300_00},
    )
    assert await credit_balance(api, tenant) == 80_00
    local = await _issue(api, invoice["id"], 1_00, "REFUND")
    assert local["code"] == "INVOICE_NOT_CREDITABLE", local  # paid by hand: nothing to refund from

    await advance(api, clock, "2026-04-01T10:00:00Z")  # the renewal
    renewal = (await invoices(api, tenant))[0]
    assert renewal["id"] != invoice["id"]
    assert (
        renewal["total"]["amount"],
        renewal["creditsApplied"]["amount"],
        renewal["amountDue"]["amount"],
    ) == (
        300_00,
        80_00,
        220_00,
    )
    assert await credit_balance(api, tenant) == 0


async def test_the_credit_notes_of_an_invoice_never_come_to_more_than_its_total(api: Api) -> None:
    _, tenant, _, invoice = await _subscribed(api)
    await _pay(api, invoice["id"], 300_00)
    assert (await _issue(api, invoice["id"], 200_00))["__typename"] == "CreditNote"
    refused = await _issue(api, invoice["id"], 100_01)
    assert refused["code"] == "INVOICE_NOT_CREDITABLE", refused
    assert "at most $100.00 is left to credit" in refused["message"], refused
    assert (await _issue(api, invoice["id"], 100_00))["__typename"] == "CreditNote"
    assert (await _issue(api, invoice["id"], 1))["code"] == "INVOICE_NOT_CREDITABLE"
    assert await credit_balance(api, tenant) == 300_00
    zero = (await api(ISSUE, {"input": {"invoiceId": invoice["id"], "amount": 0, "reason": "x"}}))[
        "issueCreditNote"
    ]
    assert (zero["code"], zero["field"]) == ("VALIDATION_FAILED", "input.amount"), zero


async def test_credit_notes_are_numbered_per_tenant_and_listed_on_the_invoice_and_the_tenant(
    api: Api,
) -> None:
    _, tenant, _, invoice = await _subscribed(api)
    _, other, _, other_invoice = await _subscribed(api, code="team_two")
    numbers = [(await _issue(api, invoice["id"], 10_00))["number"] for _ in range(2)]
    other_number = (await _issue(api, other_invoice["id"], 10_00))["number"]
    prefix, other_prefix = invoice["number"].rsplit("-", 1)[0], other_invoice["number"].rsplit("-", 1)[0]
    assert numbers == [f"{prefix}-CN-0001", f"{prefix}-CN-0002"]
    assert other_number == f"{other_prefix}-CN-0001"

    data = await api(
        """query($id: ID!, $tenant: ID!) { invoice(id: $id) { creditNotes { number } }
             tenant(id: $tenant) { creditNotes(first: 1) { edges { node { number invoice { id } } }
                                                          pageInfo { hasNextPage endCursor } } } }""",
        {"id": invoice["id"], "tenant": tenant},
    )
    assert [n["number"] for n in data["invoice"]["creditNotes"]] == numbers
    page = data["tenant"]["creditNotes"]
    assert [e["node"] for e in page["edges"]] == [{"number": numbers[1], "invoice": {"id": invoice["id"]}}]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await api(
        """query($tenant: ID!, $after: String) { tenant(id: $tenant) {
             creditNotes(first: 5, after: $after) { edges { node { number } } pageInfo { hasNextPage } }
           } }""",
        {"tenant": tenant, "after": page["pageInfo"]["endCursor"]},
    )
    assert rest["tenant"]["creditNotes"] == {
        "edges": [{"node": {"number": numbers[0]}}],
        "pageInfo": {"hasNextPage": False},
    }


async def test_credit_notes_and_voids_need_an_admin_key(api: Api) -> None:
    _, tenant, _, invoice = await _subscribed(api)
    own = api.as_key((await new_key(api, "TENANT", tenant))["secret"])
    refused = await own(ISSUE, {"input": {"invoiceId": invoice["id"], "amount": 1, "reason": "x"}})
    assert refused["issueCreditNote"]["code"] == "FORBIDDEN", refused
    assert (await own(VOID, {"id": invoice["id"]}))["voidInvoice"]["code"] == "FORBIDDEN"


async def test_voiding_an_open_invoice_recovers_a_past_due_subscription_that_owes_nothing_else(
    api: Api, deps: Deps
) -> None:
    clock, tenant, subscription, invoice = await _subscribed(api, collectionMethod="SEND_INVOICE")
    await advance(api, clock, "2026-04-01T10:00:00Z")  # past its due date
    assert await _status(api, subscription) == "PAST_DUE"
    voided = (await api(VOID, {"id": invoice["id"]}))["voidInvoice"]
    assert (voided["status"], voided["amountDue"]["amount"]) == ("VOID", 300_00), voided
    assert await _status(api, subscription) == "ACTIVE"
    told = await _events(deps, tenant, "invoice.voided", "subscription.recovered")
    assert [(e["type"], e.get("invoiceId")) for e in told] == [
        ("subscription.recovered", invoice["id"]),  # the invoice it recovered by
        ("invoice.voided", invoice["id"]),
    ]
    again = (await api(VOID, {"id": invoice["id"]}))["voidInvoice"]
    assert again["code"] == "INVOICE_NOT_CREDITABLE" and "VOID" in again["message"], again
    note = await _issue(api, invoice["id"], 1_00)
    assert note["code"] == "INVOICE_NOT_CREDITABLE", note


async def test_a_paid_invoice_cannot_be_voided(api: Api) -> None:
    _, _, _, invoice = await _subscribed(api)
    await _pay(api, invoice["id"], 300_00)
    refused = (await api(VOID, {"id": invoice["id"]}))["voidInvoice"]
    assert refused["code"] == "INVOICE_NOT_CREDITABLE" and "credit note" in refused["message"], refused

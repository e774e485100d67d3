"""Credit notes by line through GraphQL, on both databases: the note names invoice lines
and what to credit on each (all that is left of a line by default), its amount is their
sum, a line is never credited by line beyond its amount, a DISCOUNT or crediting line
is refused, and every limit of a note by amount still holds."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from models.platform.deps import Deps
from models.tables import EventRow
from tests.api.test_discounts import coupon, subscribe_with
from tests.builders.api import Api, new_tenant
from tests.builders.billing import credit_balance, plan_with_seat_addon

NOTE = """id number amount { amount currency } loweredDue
  lines { invoiceLine { id kind amount { amount } } amount { amount currency } }
  invoice { status amountDue { amount } }"""
ISSUE = f"""mutation IssueCreditNote($input: IssueCreditNoteInput!) {{ issueCreditNote(input: $input) {{
  __typename ... on CreditNote {{ {NOTE} }} ... on ValidationError {{ field }} ... on Error {{ code message }}
}} }}"""
LINES = """query InvoiceLines($id: ID!) { invoice(id: $id) { number status total { amount }
  lines { id kind amount { amount } credited { amount } }
  creditNotes { number lines { amount { amount } } } } }"""
PAY = """mutation Pay($input: RecordPaymentInput!) { recordPayment(input: $input) {
  __typename ... on Invoice { status } ... on Error { code message } } }"""


async def _invoice(api: Api, invoice_id: str) -> dict[str, Any]:
    return (await api(LINES, {"id": invoice_id}))["invoice"]


async def _discounted(api: Api, name: str = "Acme") -> tuple[str, dict[str, Any], dict[str, str]]:
    """A tenant whose OPEN invoice is Team Pro ($99, 5 seats included) + 10 seats at $15
    less 20%: BASE $99.00, ADDON $150.00, DISCOUNT −$49.80; total $199.20. Also the ids
    of its lines by kind."""
    tenant = await new_tenant(api, name)
    plan, seat = await plan_with_seat_addon(api, f"pro_{name.lower()}", 99_00, 15_00, includedSeats=5)
    await coupon(api, f"TWENTY_{name.upper()}", percentOff="20")
    subscribed = await subscribe_with(api, tenant, plan, {seat: 10}, f"TWENTY_{name.upper()}")
    assert subscribed["__typename"] == "Subscription", subscribed
    invoice = await _invoice(api, subscribed["latestInvoice"]["id"])
    invoice["id"] = subscribed["latestInvoice"]["id"]
    lines = {line["kind"]: line["id"] for line in invoice["lines"]}
    assert [(line["kind"], line["amount"]["amount"]) for line in invoice["lines"]] == [
        ("BASE", 99_00),
        ("ADDON", 150_00),
        ("DISCOUNT", -49_80),
    ]
    assert (invoice["status"], invoice["total"]["amount"]) == ("OPEN", 199_20)
    return tenant, invoice, lines


async def _paid(api: Api, name: str = "Acme") -> tuple[str, dict[str, Any], dict[str, str]]:
    tenant, invoice, lines = await _discounted(api, name)
    paid = await api(
        PAY, {"input": {"invoiceId": invoice["id"], "amount": 199_20, "method": "BANK_TRANSFER"}}
    )
    assert paid["recordPayment"]["status"] == "PAID", paid
    return tenant, invoice, lines


async def _issue(api: Api, invoice: str, lines: list[dict[str, Any]] | None, **more: Any) -> dict[str, Any]:
    spec = {"invoiceId": invoice, "lines": lines, "reason": "Seats unused in March", **more}
    return (await api(ISSUE, {"input": spec}))["issueCreditNote"]


async def test_a_credit_note_by_line_credits_each_line_named_and_amounts_to_their_sum(
    api: Api, deps: Deps
) -> None:
    tenant, invoice, lines = await _paid(api)
    note = await _issue(
        api,
        invoice["id"],
        [{"invoiceLineId": lines["ADDON"], "amount": 30_00}, {"invoiceLineId": lines["BASE"]}],
    )
    assert note["__typename"] == "CreditNote", note
    assert (note["amount"], note["loweredDue"]) == ({"amount": 129_00, "currency": "USD"}, False)
    assert note["lines"] == [
        {
            "invoiceLine": {"id": lines["ADDON"], "kind": "ADDON", "amount": {"amount": 150_00}},
            "amount": {"amount": 30_00, "currency": "USD"},
        },
        {  # no amount: all of the line
            "invoiceLine": {"id": lines["BASE"], "kind": "BASE", "amount": {"amount": 99_00}},
            "amount": {"amount": 99_00, "currency": "USD"},
        },
    ]
    assert await credit_balance(api, tenant) == 129_00
    listed = await _invoice(api, invoice["id"])
    assert [[line["amount"]["amount"] for line in n["lines"]] for n in listed["creditNotes"]] == [
        [30_00, 99_00]
    ]

    by_amount = await api(ISSUE, {"input": {"invoiceId": invoice["id"], "amount": 1_00, "reason": "x"}})
    assert by_amount["issueCreditNote"]["lines"] == []  # a note by amount names no line

    async with deps.store.read() as session:  # what webhooks deliver as credit_note.created
        told = (
            await session.scalars(
                select(EventRow)
                .where(EventRow.tenant_id == tenant, EventRow.type == "credit_note.created")
                .order_by(EventRow.id)
            )
        ).all()
    by_line = [
        {"invoiceLineId": lines["ADDON"], "amount": 30_00},
        {"invoiceLineId": lines["BASE"], "amount": 99_00},
    ]
    assert [(e.data["amount"], e.data["lines"]) for e in told] == [(129_00, by_line), (1_00, [])]


async def test_a_line_is_never_credited_by_line_beyond_its_amount(api: Api) -> None:
    tenant, invoice, lines = await _paid(api)
    assert (await _issue(api, invoice["id"], [{"invoiceLineId": lines["ADDON"], "amount": 30_00}]))[
        "__typename"
    ] == "CreditNote"
    over = await _issue(api, invoice["id"], [{"invoiceLineId": lines["ADDON"], "amount": 120_01}])
    assert over["code"] == "INVOICE_NOT_CREDITABLE", over
    assert "input.lines[0].amount" in over["message"] and "at most $120.00 is left" in over["message"], over

    rest = await _issue(api, invoice["id"], [{"invoiceLineId": lines["ADDON"]}])  # what is left: $120.00
    assert rest["amount"]["amount"] == 120_00, rest
    credited = {
        line["kind"]: line["credited"]["amount"] for line in (await _invoice(api, invoice["id"]))["lines"]
    }
    assert credited == {"BASE": 0, "ADDON": 150_00, "DISCOUNT": 0}
    done = await _issue(api, invoice["id"], [{"invoiceLineId": lines["ADDON"]}])
    assert done["code"] == "INVOICE_NOT_CREDITABLE" and "credited in full already" in done["message"], done
    assert await credit_balance(api, tenant) == 150_00  # the refusals credited nothing


async def test_the_lines_of_credit_notes_never_come_to_more_than_the_invoice_total(api: Api) -> None:
    """The DISCOUNT took $49.80 off: both lines in full ($249.00) are more than the invoice's
    $199.20, so the whole note is refused and names what is left."""
    tenant, invoice, lines = await _paid(api)
    both = [{"invoiceLineId": lines["BASE"]}, {"invoiceLineId": lines["ADDON"]}]
    refused = await _issue(api, invoice["id"], both)
    assert refused["code"] == "INVOICE_NOT_CREDITABLE", refused
    assert "at most $199.20 is left to credit" in refused["message"], refused
    ok = await _issue(api, invoice["id"], [{"invoiceLineId": lines["ADDON"], "amount": 100_20}, both[0]])
    assert ok["amount"]["amount"] == 199_20, ok
    assert await credit_balance(api, tenant) == 199_20
    assert (await _invoice(api, invoice["id"]))["creditNotes"][0]["lines"] == [
        {"amount": {"amount": 100_20}},
        {"amount": {"amount": 99_00}},
    ]


async def test_a_credit_note_by_line_on_an_open_invoice_lowers_what_is_due(api: Api) -> None:
    _, invoice, lines = await _discounted(api)
    note = await _issue(api, invoice["id"], [{"invoiceLineId": lines["ADDON"], "amount": 45_00}])
    assert (note["loweredDue"], note["invoice"]) == (
        True,
        {"status": "OPEN", "amountDue": {"amount": 154_20}},
    )
    rest = await _issue(
        api, invoice["id"], [{"invoiceLineId": lines["BASE"]}, {"invoiceLineId": lines["ADDON"]}]
    )
    assert rest["code"] == "INVOICE_NOT_CREDITABLE" and "$154.20 is left" in rest["message"], rest


async def test_a_credit_note_takes_an_amount_or_lines_and_names_the_field_otherwise(api: Api) -> None:
    _, invoice, lines = await _paid(api)
    _, other, other_lines = await _paid(api, "Globex")
    addon = {"invoiceLineId": lines["ADDON"]}
    cases = [
        ({"lines": [addon], "amount": 10_00}, "input.amount", "not both"),
        ({"lines": None}, "input.amount", "give an amount or lines"),
        ({"lines": []}, "input.lines", "at least 1"),
        (
            {"lines": [addon, {"invoiceLineId": lines["BASE"]}, addon]},
            "input.lines[2].invoiceLineId",
            "twice",
        ),
        ({"lines": [{"invoiceLineId": lines["DISCOUNT"]}]}, "input.lines[0].invoiceLineId", "is a DISCOUNT"),
        (
            {"lines": [{"invoiceLineId": other_lines["ADDON"]}]},
            "input.lines[0].invoiceLineId",
            "not a line of",
        ),
        (
            {"lines": [{"invoiceLineId": lines["ADDON"], "amount": 0}]},
            "input.lines[0].amount",
            "greater than 0",
        ),
    ]
    for spec, field, says in cases:
        refused = await _issue(api, invoice["id"], **spec)
        assert (refused["code"], refused["field"]) == ("VALIDATION_FAILED", field), (spec, refused)
        assert says in refused["message"], (spec, refused)
    assert (await _invoice(api, invoice["id"]))["creditNotes"] == []
    assert (await _invoice(api, other["id"]))["creditNotes"] == []


async def test_concurrent_notes_crediting_the_same_line_credit_it_once(api: Api) -> None:
    tenant, invoice, lines = await _paid(api)
    tries = await asyncio.gather(
        *(_issue(api, invoice["id"], [{"invoiceLineId": lines["ADDON"]}]) for _ in range(4))
    )
    assert sorted(t["__typename"] for t in tries) == ["CreditNote"] + ["InvoiceNotCreditableError"] * 3, tries
    assert await credit_balance(api, tenant) == 150_00

"""Property test of the credit ledger: random sequences of invoices (subscribing,
renewals as the clock moves, plan changes that charge or that credit the difference),
credit grants with and without an expiry, and clock moves (hours to weeks, so grants
expire), all through the GraphQL API, on a tenant of its own on a test clock.

After every step it reads the tenant's books from the database and checks:

- the balance is the sum of the ledger's entries, and no prefix of the ledger (in the
  order entries were made) is ever negative;
- each grant's ``remaining`` is between 0 and its amount, and is its amount less the
  entries that drew on it or expired it; live grants never hold more than the balance;
- a grant past its expiry on the tenant's clock has expired, with at most one EXPIRED
  entry, and nothing was drawn from it after it expired;
- no invoice is credited beyond its total: the APPLIED entries of an invoice add up to
  its ``creditsApplied``, at most its total;
- a void gives back what the invoice drew (to the grants it came from while they live);
- a credit note by line is the sum of its lines, and no invoice line is credited by
  line beyond its amount;

and at the end that ``Tenant.creditLedger``, walked a page at a time, adds up to
``creditBalance`` entry by entry (``balanceAfter``).

Hypothesis is derandomised and the budget small (EXAMPLES) so the file runs in well
under a minute per database.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models.kernel.enums import CreditReason, InvoiceStatus
from models.platform.deps import Deps
from models.tables import (
    CreditEntryRow,
    CreditGrantRow,
    CreditNoteLineRow,
    CreditNoteRow,
    InvoiceLineRow,
    InvoiceRow,
    TestClockRow,
)
from tests.builders.api import Api
from tests.builders.billing import advance, change_input, change_plan, create_plan, credit_balance, invoices
from tests.builders.billing import subscribe as subscribe_to
from tests.builders.clocks import new_clock, tenant_on
from tests.builders.credits import grant_credits, ledger

EXAMPLES = 25
MAX_STEPS = 14
START = datetime(2026, 1, 31, tzinfo=UTC)
PRICES = (120_00, 45_00, 9_00)
_serial = itertools.count()


@dataclass(frozen=True)
class Subscribe:
    plan: int


@dataclass(frozen=True)
class ChangePlan:
    plan: int
    mode: str


@dataclass(frozen=True)
class Grant:
    amount: int
    expires_in_hours: int | None


@dataclass(frozen=True)
class Advance:
    hours: int


@dataclass(frozen=True)
class CreditNote:
    """A credit note to the balance on one of the tenant's invoices (by recency), OPEN or PAID."""

    invoice: int
    amount: int


@dataclass(frozen=True)
class CreditNoteByLine:
    """A credit note by line on one line (any kind: DISCOUNT and crediting lines are refused)
    of one of the tenant's invoices; no amount: all that is left of the line."""

    invoice: int
    line: int
    amount: int | None


@dataclass(frozen=True)
class Void:
    """voidInvoice on one of the tenant's invoices: what it drew on goes back."""

    invoice: int


Step = Subscribe | ChangePlan | Grant | Advance | CreditNote | CreditNoteByLine | Void
RETURN = "Returned from voided invoice"
VOID = """mutation($id: ID!) { voidInvoice(invoiceId: $id) { __typename ... on Error { code message } } }"""
ISSUE = """mutation($input: IssueCreditNoteInput!) { issueCreditNote(input: $input) { __typename
  ... on Error { code message } } }"""
LINES = "query($id: ID!) { invoice(id: $id) { lines { id kind amount { amount } } } }"

hours = st.one_of(
    st.integers(1, 36),
    st.integers(1, 20).map(lambda d: d * 24),
    st.sampled_from([28, 31, 45]).map(lambda d: d * 24),
)
steps = st.one_of(
    st.builds(Subscribe, plan=st.integers(0, 2)),
    st.builds(
        ChangePlan,
        plan=st.integers(0, 2),
        mode=st.sampled_from(["PRORATED_IMMEDIATELY", "DIFFERENCE_IMMEDIATELY", "FULL_IMMEDIATELY"]),
    ),
    st.builds(
        Grant,
        amount=st.sampled_from([1, 5_00, 30_00, 99_99, 250_00]),
        expires_in_hours=st.one_of(st.none(), hours),
    ),
    st.builds(Advance, hours=hours),
    st.builds(Advance, hours=hours),
    st.builds(
        CreditNote, invoice=st.integers(0, 3), amount=st.sampled_from([1, 10_00, 45_00, 120_00, 500_00])
    ),
    st.builds(
        CreditNoteByLine,
        invoice=st.integers(0, 3),
        line=st.integers(0, 3),
        amount=st.one_of(st.none(), st.sampled_from([1, 10_00, 45_00, 120_00])),
    ),
    st.builds(Void, invoice=st.integers(0, 3)),
)


class Books:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.plans: list[str] = []
        self.clock = self.tenant = ""
        self.subscription: str | None = None
        self.now = START

    async def setup(self) -> None:
        n = next(_serial)
        self.clock = await new_clock(self.api, START.isoformat())
        self.tenant = await tenant_on(self.api, f"Ledger {n:06d}", self.clock)
        self.plans = [await create_plan(self.api, f"cl_{n}_{i}", p) for i, p in enumerate(PRICES)]

    async def run(self, step: Step) -> None:
        match step:
            case Subscribe(plan=plan) if self.subscription is None:
                made = await subscribe_to(self.api, self.tenant, self.plans[plan])
                assert made["__typename"] == "Subscription", made
                self.subscription = made["id"]
            case ChangePlan(plan=plan, mode=mode) if self.subscription is not None:
                changed = await change_plan(
                    self.api, change_input(self.subscription, self.plans[plan], mode=mode)
                )
                assert changed["__typename"] in ("PlanChange", "ValidationError"), changed
            case Grant(amount=amount, expires_in_hours=expires):
                at = None if expires is None else (self.now + timedelta(hours=expires)).isoformat()
                made = await grant_credits(self.api, self.tenant, amount, at)
                assert made["__typename"] == "CreditGrant", made
            case CreditNote(invoice=which, amount=amount):
                issued = await invoices(self.api, self.tenant)
                if issued:
                    spec = {
                        "invoiceId": issued[which % len(issued)]["id"],
                        "amount": amount,
                        "reason": "goodwill",
                        "outcome": "CREDIT_BALANCE",
                    }
                    made = (await self.api(ISSUE, {"input": spec}))["issueCreditNote"]
                    # Refused only for what the invoice cannot take: its status or what is left of it.
                    assert made["__typename"] in ("CreditNote", "InvoiceNotCreditableError"), made
                    event(f"credit note: {made['__typename']}")
            case CreditNoteByLine(invoice=which, line=at, amount=amount):
                await self.credit_line(which, at, amount)
            case Void(invoice=which):
                issued = await invoices(self.api, self.tenant)
                if issued:
                    voided = (await self.api(VOID, {"id": issued[which % len(issued)]["id"]}))["voidInvoice"]
                    assert voided["__typename"] in ("Invoice", "InvoiceNotCreditableError"), voided
                    event(f"void: {voided['__typename']}")
            case Advance(hours=h):
                self.now += timedelta(hours=h)
                await advance(self.api, self.clock, self.now.isoformat())
            case _:
                pass

    async def credit_line(self, which: int, at: int, amount: int | None) -> None:
        issued = await invoices(self.api, self.tenant)
        if not issued:
            return
        invoice = issued[which % len(issued)]["id"]
        lines = (await self.api(LINES, {"id": invoice}))["invoice"]["lines"]
        line = lines[at % len(lines)]
        spec = {
            "invoiceId": invoice,
            "lines": [{"invoiceLineId": line["id"], "amount": amount}],
            "reason": "unused seats",
        }
        made = (await self.api(ISSUE, {"input": spec}))["issueCreditNote"]
        creditable = line["kind"] != "DISCOUNT" and line["amount"]["amount"] > 0
        expected = ("CreditNote", "InvoiceNotCreditableError") if creditable else ("ValidationError",)
        assert made["__typename"] in expected, (line, made)
        event(f"credit note by line: {made['__typename']}")


async def check_books(deps: Deps, tenant: str, clock: str) -> None:
    async with deps.store.read() as session:
        entries = (
            await session.scalars(
                select(CreditEntryRow).where(CreditEntryRow.tenant_id == tenant).order_by(CreditEntryRow.id)
            )
        ).all()
        grants = (
            await session.scalars(select(CreditGrantRow).where(CreditGrantRow.tenant_id == tenant))
        ).all()
        invoices = (await session.scalars(select(InvoiceRow).where(InvoiceRow.tenant_id == tenant))).all()
        credit_notes = (
            await session.scalars(select(CreditNoteRow).where(CreditNoteRow.tenant_id == tenant))
        ).all()
        now = (await session.get(TestClockRow, clock)).frozen_time
        by_line = (
            await session.execute(
                select(CreditNoteLineRow, InvoiceLineRow)
                .join(InvoiceLineRow, InvoiceLineRow.id == CreditNoteLineRow.invoice_line_id)
                .join(CreditNoteRow, CreditNoteRow.id == CreditNoteLineRow.credit_note_id)
                .where(CreditNoteRow.tenant_id == tenant)
            )
        ).all()
    balance = 0
    for entry in entries:
        balance += entry.amount
        assert balance >= 0, f"the ledger went negative at {entry.id}: {entry.reason} {entry.amount}"
    by_grant: dict[str, list[CreditEntryRow]] = defaultdict(list)
    for entry in entries:
        if entry.grant_id is not None:
            by_grant[entry.grant_id].append(entry)
    live = 0
    for grant in grants:
        mine = by_grant[grant.id]
        assert 0 <= grant.remaining <= grant.amount, grant
        assert grant.remaining == sum(e.amount for e in mine), (grant, mine)
        assert [e.reason for e in mine].count(CreditReason.GRANT) == 1
        expiries = [e for e in mine if e.reason is CreditReason.EXPIRED]
        assert len(expiries) <= 1, mine
        if grant.expires_at is not None and grant.expires_at <= now:
            assert grant.expired_at == grant.expires_at and grant.remaining == 0, grant
            assert all(e.at <= grant.expires_at for e in mine), mine
        if grant.expired_at is None:
            live += grant.remaining
        else:
            assert not expiries or expiries[0].amount < 0
    assert live <= balance
    applied: dict[str, int] = defaultdict(int)
    for entry in entries:
        if entry.reason is CreditReason.APPLIED:
            assert entry.amount < 0 and entry.invoice_id is not None, entry
            applied[entry.invoice_id] -= entry.amount
    for invoice in invoices:
        assert applied[invoice.id] == invoice.credits_applied <= max(invoice.total, 0), invoice
        returned = sum(
            e.amount for e in entries if e.invoice_id == invoice.id and e.description.startswith(RETURN)
        )
        assert returned == (invoice.credits_applied if invoice.status is InvoiceStatus.VOID else 0), invoice
        mine = [note for note in credit_notes if note.invoice_id == invoice.id]
        # Never credited beyond its total; what lowered an OPEN invoice's due is its `credited`.
        assert sum(note.amount for note in mine) <= max(invoice.total, 0), (invoice, mine)
        assert sum(note.amount for note in mine if note.lowered_due) == invoice.credited, (invoice, mine)
    check_lines(credit_notes, by_line)


def check_lines(credit_notes: Sequence[CreditNoteRow], by_line: Sequence[Any]) -> None:
    """A note by line is the sum of its lines; no line is credited by line beyond its amount."""
    of_note: dict[str, int] = defaultdict(int)
    of_line: dict[str, int] = defaultdict(int)
    for note_line, invoice_line in by_line:
        assert note_line.amount > 0 and invoice_line.amount > 0, (note_line, invoice_line)
        of_note[note_line.credit_note_id] += note_line.amount
        of_line[invoice_line.id] += note_line.amount
        assert of_line[invoice_line.id] <= invoice_line.amount, (invoice_line, of_line[invoice_line.id])
    for note in credit_notes:
        assert of_note.get(note.id, note.amount) == note.amount, (note, of_note[note.id])


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=st.builds(Subscribe, plan=st.integers(0, 2)), script=st.lists(steps, min_size=4, max_size=MAX_STEPS)
)
async def test_the_ledger_adds_up_never_goes_negative_and_no_grant_is_overdrawn(
    api: Api, deps: Deps, first: Subscribe, script: list[Step]
) -> None:
    books = Books(api)
    await books.setup()
    for number, step in enumerate([first, *script]):
        await books.run(step)
        try:
            await check_books(deps, books.tenant, books.clock)
        except AssertionError as exc:
            raise AssertionError(f"after step {number} ({step}): {exc}") from exc
    entries = await ledger(api, books.tenant, page=3)
    running = 0
    for entry in entries:
        running += entry["amount"]["amount"]
        assert entry["balanceAfter"]["amount"] == running >= 0, entries
    assert running == await credit_balance(api, books.tenant)
    for entry in entries:
        event(f"saw {entry['reason']}{' of a grant' if entry['grant'] else ''}")

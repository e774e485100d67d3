"""Late usage, with the default grace window of an hour: usage reported within it lands
on the period's own renewal invoice; usage reported after it is billed once, on the next
invoice, on a line naming its period."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.live import Hub
from models.kernel.clock import FixedClock
from models.platform.deps import BillingPolicy, Deps
from models.platform.store import Store
from tests.builders.api import Api
from tests.builders.billing import advance, invoices
from tests.builders.usage_billing import metered_team, record


@pytest.fixture
def deps(store: Store, clock: FixedClock) -> Deps:
    """The gateway as it runs by default: a renewal's usage waits an hour."""
    return Deps(store=store, clock=clock, bus=Hub(store.dialect), policy=BillingPolicy())


def usage_lines(invoice: dict[str, Any]) -> list[tuple[str, int, str, str]]:
    return [
        (line["kind"], line["amount"]["amount"], line["periodStart"][:10], line["periodEnd"][:10])
        for line in invoice["lines"]
        if line["kind"] in ("USAGE", "CREDIT")
    ]


async def test_the_renewal_is_a_draft_for_an_hour_and_usage_reported_in_it_lands_on_it(api: Api) -> None:
    clock, tenant, _, _ = await metered_team(api)  # API calls at 2 cents after 100 free
    await advance(api, clock, "2026-11-20T00:00:00Z")
    await record(api, tenant, "api_calls", 300, "2026-11-10T10:00:00Z")
    await advance(api, clock, "2026-12-01T00:20:00Z")
    (renewal, _) = await invoices(api, tenant)
    assert (renewal["reason"], renewal["status"], usage_lines(renewal)) == ("RENEWAL", "DRAFT", [])

    # Reported 30 minutes after the period ended, for its last evening: within the window.
    await advance(api, clock, "2026-12-01T00:30:00Z")
    await record(api, tenant, "api_calls", 50, "2026-11-30T23:00:00Z")
    await advance(api, clock, "2026-12-01T01:00:00Z")
    (renewal, _) = await invoices(api, tenant)
    assert renewal["status"] == "OPEN"
    assert usage_lines(renewal) == [("USAGE", (350 - 100) * 2, "2026-11-01", "2026-12-01")]
    assert renewal["total"]["amount"] == 10_00 + 500


async def test_usage_reported_after_the_window_is_billed_once_on_the_next_invoice_naming_its_period(
    api: Api,
) -> None:
    clock, tenant, _, _ = await metered_team(api)
    await advance(api, clock, "2026-11-20T00:00:00Z")
    await record(api, tenant, "api_calls", 300, "2026-11-10T10:00:00Z")
    await advance(api, clock, "2026-12-01T02:00:00Z")  # the November renewal is final
    # Two hours after November ended: 100 more calls of November.
    await record(api, tenant, "api_calls", 100, "2026-11-30T22:00:00Z")
    november = next(i for i in await invoices(api, tenant) if i["periodStart"].startswith("2026-12-01"))
    assert usage_lines(november) == [("USAGE", (300 - 100) * 2, "2026-11-01", "2026-12-01")]

    await advance(api, clock, "2026-12-15T00:00:00Z")
    await record(api, tenant, "api_calls", 150, "2026-12-10T10:00:00Z")
    await advance(api, clock, "2027-01-01T02:00:00Z")
    december = next(i for i in await invoices(api, tenant) if i["periodStart"].startswith("2027-01-01"))
    (own, late) = usage_lines(december)
    assert own == ("USAGE", (150 - 100) * 2, "2026-12-01", "2027-01-01")
    assert late == ("USAGE", 100 * 2, "2026-11-01", "2026-12-01")
    described = [line["description"] for line in december["lines"] if line["kind"] == "USAGE"]
    assert "late usage for 2026-11-01 to 2026-12-01" in described[1]

    # Nothing is billed twice: the January invoice has no more November usage.
    await advance(api, clock, "2027-02-01T02:00:00Z")
    january = next(i for i in await invoices(api, tenant) if i["periodStart"].startswith("2027-02-01"))
    assert [line[2] for line in usage_lines(january)] == ["2027-01-01"]

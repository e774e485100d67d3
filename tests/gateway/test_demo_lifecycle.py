"""The demo's subscription lifecycle, as a newcomer opening it in GraphiQL finds it: Lumen
Labs in its 14-day trial, Kestrel Engineering (net 14, on a test clock) PAST_DUE with its
first invoice overdue, Quill Studio paused; seeding again changes none of it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gateway import demo, demo_lifecycle
from models.platform.deps import Deps
from tests.builders.api import START, Api
from tests.builders.billing import invite
from tests.builders.entitlements import entitlement

TENANTS = """{ tenants(first: 100) { edges { node {
    id name timezone collectionMethod daysUntilDue now testClock { frozenTime }
    members { email }
    subscription { id status createdAt trialEnd pausedAt resumesAt pastDueAt graceEndsAt
                   currentPeriodStart currentPeriodEnd plan { code trialDays } latestInvoice { id } }
    invoices(first: 10) { edges { node { id number status dueDate overdueAt amountDue { amount } } } }
} } } }"""


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


async def demo_tenants(api: Api) -> dict[str, dict[str, Any]]:
    return {e["node"]["name"]: e["node"] for e in (await api(TENANTS))["tenants"]["edges"]}


async def actions(api: Api, tenant_id: str) -> list[str]:
    log = await api(
        "query($t: ID!) { auditLog(tenantId: $t, first: 100) { edges { node { action } } } }",
        {"t": tenant_id},
    )
    return [e["node"]["action"] for e in log["auditLog"]["edges"]]


async def test_the_demo_shows_a_trial_an_overdue_invoice_and_a_pause(api: Api, deps: Deps) -> None:
    await demo.seed_demo(deps)
    tenants = await demo_tenants(api)

    # Lumen Labs: in Professional's 14-day trial; nothing invoiced, everything granted.
    lumen = tenants["Lumen Labs"]
    trial = lumen["subscription"]
    assert (trial["status"], trial["plan"]) == ("TRIALING", {"code": "professional", "trialDays": 14})
    assert at(trial["trialEnd"]) == at(trial["createdAt"]) + timedelta(days=14) == START + timedelta(days=14)
    assert trial["latestInvoice"] is None and lumen["invoices"]["edges"] == []
    assert (await entitlement(api, lumen["id"], "projects"))["enabled"] is True

    # Kestrel Engineering: net 14, on a test clock advanced 20 days past its subscription,
    # so its first invoice fell due at the end of day 14 (Chicago) and is overdue since.
    kestrel = tenants["Kestrel Engineering"]
    assert (kestrel["collectionMethod"], kestrel["daysUntilDue"]) == ("SEND_INVOICE", 14)
    now = at(kestrel["now"])
    assert at(kestrel["testClock"]["frozenTime"]) == now
    owing = kestrel["subscription"]
    assert now == at(owing["createdAt"]) + timedelta(days=20)
    assert now <= START  # the clock was started in the past, and ends where the demo is
    (edge,) = kestrel["invoices"]["edges"]
    invoice = edge["node"]
    assert invoice["status"] == "OPEN" and invoice["amountDue"]["amount"] == 49_00 + 2 * 10_00
    due = at(invoice["dueDate"])
    chicago = due.astimezone(ZoneInfo("America/Chicago"))
    issued = at(owing["createdAt"]).astimezone(ZoneInfo("America/Chicago"))
    assert (chicago.date(), chicago.time().isoformat()) == (issued.date() + timedelta(days=15), "00:00:00")
    assert due < now and at(invoice["overdueAt"]) == due
    assert owing["status"] == "PAST_DUE" and at(owing["pastDueAt"]) == due
    assert at(owing["graceEndsAt"]) == due + timedelta(days=14) > now  # not UNPAID yet
    assert (await entitlement(api, kestrel["id"], "projects"))["enabled"] is True  # within the grace
    history = await actions(api, kestrel["id"])
    assert history.count("invoice.overdue") == history.count("subscription.past_due") == 1

    # Quill Studio: paused until 30 days on, its members kept, nothing granted, no invites.
    quill = tenants["Quill Studio"]
    paused = quill["subscription"]
    assert paused["status"] == "PAUSED" and at(paused["pausedAt"]) == START
    assert at(paused["resumesAt"]) == START + timedelta(days=30)
    assert len(quill["members"]) == 3
    refused = await entitlement(api, quill["id"], "projects")
    assert (refused["enabled"], refused["reason"]) == (False, "SUBSCRIPTION_INACTIVE")
    assert (await invite(api, quill["id"], "new@quill.example"))["code"] == "SUBSCRIPTION_NOT_ACTIVE"

    # Seeding again (a restart of `serve --demo`) moves nothing: no clock, pause or invoice.
    await demo.seed_demo(deps)
    again = await demo_tenants(api)
    assert {name: again[name] for name in tenants} == tenants
    assert await actions(api, kestrel["id"]) == history


def test_the_lifecycle_tenants_are_demo_tenants() -> None:
    emails = [t["email"] for t in demo.DEMO_TENANTS]
    assert [t["email"] for t in demo_lifecycle.LIFECYCLE_TENANTS] == emails[-3:]
    assert len(set(emails)) == len(emails)

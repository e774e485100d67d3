"""Nested lists cost a constant number of SQL statements: every relation goes
through a per-request DataLoader, so 50 tenants cost what 5 do."""

from __future__ import annotations

from bench.workloads.dashboard import counting_statements
from models.catalog import service as catalog
from models.catalog.inputs import AddonCreate, PlanCreate
from models.members import service as members
from models.members.inputs import MemberInvite
from models.metering import ingest as usage
from models.metering import service as meters
from models.metering.inputs import MeterCreate
from models.platform.access import operator
from models.platform.deps import Deps
from models.platform.store import Store
from models.subscriptions import service as subscriptions
from models.subscriptions.inputs import SubscriptionCreate
from models.tenants import service as tenants
from models.tenants.inputs import TenantCreate
from tests.builders.api import Api

FLEET = """query($n: Int!) { tenants(first: $n) { edges { node {
  subscription { plan { name } addons { quantity } seats { total used }
                 latestInvoice { number lines { amount { amount } } } }
  members { email } creditBalance { amount } invoices(first: 2) { edges { node { number } }
  pageInfo { hasNextPage } } meterUnitMonthCounts { meterName count } } } } }"""


async def seed_fleet(deps: Deps, size: int) -> None:
    """``size`` teams, each subscribed with an add-on, holding two members, and with
    usage this month on one of two meters."""
    admin = operator()
    for name in ("api_calls", "storage_gb"):
        await meters.create_meter(deps, admin, MeterCreate.parse({"name": name, "aggregation": "SUM"}))
    plan = await catalog.create_plan(
        deps,
        admin,
        PlanCreate.parse(
            {"code": "team", "name": "Team", "currency": "USD", "base_price": 99_00, "included_seats": 2}
        ),
    )
    seat = await catalog.create_addon(
        deps,
        admin,
        AddonCreate.parse(
            {"code": "seat", "name": "Seat", "currency": "USD", "price": 15_00, "seat_type": "FULL"}
        ),
    )
    await catalog.attach_addon(deps, admin, plan.id, seat.id)
    for i in range(size):
        tenant = await tenants.create_tenant(
            deps,
            admin,
            TenantCreate.parse({"name": f"Team {i}", "email": f"t{i}@example.com", "currency": "USD"}),
        )
        await subscriptions.subscribe(
            deps,
            admin,
            SubscriptionCreate.parse(
                {
                    "tenant_id": tenant.id,
                    "plan_id": plan.id,
                    "addons": [{"addon_id": seat.id, "quantity": i % 3 + 1}],
                }
            ),
        )
        for j in range(2):
            await members.invite_member(
                deps, admin, MemberInvite.parse({"tenant_id": tenant.id, "email": f"m{j}@t{i}.example"})
            )
        await usage.record_usage(
            deps, admin, {"tenantId": tenant.id, "meterName": "api_calls", "value": i + 1}
        )


async def test_fleet_query_costs_as_many_statements_for_50_tenants_as_for_5(
    api: Api, deps: Deps, store: Store
) -> None:
    await seed_fleet(deps, 50)
    await api(FLEET, {"n": 1})  # warm up: the key lookup and query caches

    counts, selects = {}, {}
    for n in (5, 50):
        with counting_statements(store) as statements:
            data = await api(FLEET, {"n": n})
        counts[n] = len(statements)  # SQLite adds a BEGIN per session; PostgreSQL's go through asyncpg
        # The key lookup is left out: a worker's key cache may answer it without a statement.
        selects[n] = sum(
            1 for s in statements if s.lstrip().upper().startswith("SELECT") and "api_keys" not in s
        )
        edges = data["tenants"]["edges"]
        assert len(edges) == n
        for i, edge in enumerate(edges):
            node = edge["node"]
            assert node["subscription"]["plan"]["name"] == "Team"
            assert node["subscription"]["addons"] == [{"quantity": i % 3 + 1}]
            assert node["subscription"]["seats"] == {"total": 2 + i % 3 + 1, "used": 2}
            assert [m["email"] for m in node["members"]] == [f"m0@t{i}.example", f"m1@t{i}.example"]
            invoice = node["subscription"]["latestInvoice"]
            assert [line["amount"]["amount"] for line in invoice["lines"]] == [99_00, (i % 3 + 1) * 15_00]
            assert node["creditBalance"] == {"amount": 0}
            assert node["invoices"]["edges"] == [{"node": {"number": invoice["number"]}}]
            assert node["invoices"]["pageInfo"] == {"hasNextPage": False}
            assert node["meterUnitMonthCounts"] == [
                {"meterName": "api_calls", "count": i + 1},
                {"meterName": "storage_gb", "count": 0},
            ]

    assert counts[5] == counts[50], counts
    # tenants, subscriptions, plans, subscription add-ons, add-ons, seats in use, members,
    # latest invoices, their lines, credit balances, the first page of invoices, meters, month counts
    assert selects[5] == selects[50] == 13, selects


PAGES = """query($n: Int!) { tenants(first: $n) { edges { node {
  subscription { latestInvoice { number lines { kind amount { amount } } } }
  invoices(first: 3) { edges { node { ...Lines } } } } } } }
fragment Lines on Invoice { number lines { kind amount { amount } } }"""
NO_LINES = """query($n: Int!) { tenants(first: $n) { edges { node {
  invoices(first: 3) { edges { node { number total { amount } } } } } } } }"""


async def test_a_page_of_invoices_reads_every_invoices_lines_in_one_statement_only_when_asked(
    api: Api, deps: Deps, store: Store
) -> None:
    await seed_fleet(deps, 12)
    await api(PAGES, {"n": 1})  # warm up

    lines_read = {}
    for n in (3, 12):
        with counting_statements(store) as statements:
            data = await api(PAGES, {"n": n})
        lines_read[n] = sum(1 for s in statements if "FROM invoice_lines" in s)
        for edge in data["tenants"]["edges"]:
            node = edge["node"]
            latest = node["subscription"]["latestInvoice"]
            # the page's lines (asked through a fragment) are the latest invoice's own
            assert [e["node"] for e in node["invoices"]["edges"]] == [latest]
            assert len(latest["lines"]) == 2
    # one for the latest invoices' lines, one for the pages' (a DataLoader batch each)
    assert lines_read[3] == lines_read[12] <= 2, lines_read

    with counting_statements(store) as statements:
        data = await api(NO_LINES, {"n": 12})
    assert not [s for s in statements if "invoice_lines" in s]
    assert all(len(e["node"]["invoices"]["edges"]) == 1 for e in data["tenants"]["edges"])

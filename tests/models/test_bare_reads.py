"""The DataLoaders' reads on the bare driver (models.platform.reads.fetch) give what the
ORM gives, attribute by attribute and type by type (enums, datetimes and their tzinfo,
JSON), on the demo's data: tenants on a test clock, subscriptions with add-ons, invoices
with their lines, usage days, credit grants."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from gateway import demo
from models.credits import service as credits
from models.credits.inputs import CreditGrantCreate
from models.invoicing import queries as invoicing
from models.metering.counts import folded_days
from models.metering.rollups import DAYS
from models.platform.access import operator
from models.platform.deps import Deps
from models.platform.reads import fetch, light_rows_by_ids, rows_by_ids
from models.seats.queries import seats_in_use
from models.subscriptions import queries as subscriptions
from models.subscriptions import timeline
from models.tables import (
    AddonRow,
    CreditGrantRow,
    InvoiceLineRow,
    InvoiceRow,
    MemberRow,
    MeterRow,
    PlanRow,
    SubscriptionAddonRow,
    SubscriptionRow,
    TenantRow,
    TestClockRow,
)
from models.tables.base import table_of


@pytest.fixture
async def seeded(deps: Deps) -> Deps:
    created = await demo.seed_demo(deps)
    for i, tenant in enumerate(created[:2]):
        grant = {"tenant_id": tenant.id, "amount": 500 + i, "description": "welcome"}
        expiring = {"expires_at": "2031-01-01T00:00:00Z"} if i else {}
        await credits.grant_credits(
            deps, operator(), CreditGrantCreate.parse({**grant, **expiring}), renew_first=timeline.renew_first
        )
    return deps


def _same(light: Any, orm: Any, names: Sequence[str]) -> None:
    for name in names:
        mine, theirs = getattr(light, name), getattr(orm, name)
        assert (name, mine) == (name, theirs)
        assert (name, type(mine)) == (name, type(theirs))
        if hasattr(theirs, "tzinfo"):
            assert (name, mine.tzinfo) == (name, theirs.tzinfo)


def _columns(table: type[SQLModel]) -> list[str]:
    return [c.key for c in table_of(table).columns]


async def _ids(session: AsyncSession, table: type[SQLModel]) -> list[str]:
    return list((await session.scalars(select(table_of(table).c.id))).all())


@pytest.mark.parametrize(
    "table", [PlanRow, AddonRow, TestClockRow, InvoiceRow, CreditGrantRow, TenantRow, MeterRow, MemberRow]
)
async def test_rows_by_id_on_the_bare_driver_equal_the_orm_rows_attribute_by_attribute(
    seeded: Deps, table: type[SQLModel]
) -> None:
    async with seeded.store.read() as session:
        ids = [*await _ids(session, table), "missing"]
        assert len(ids) > 1, f"the demo has no {table.__name__}"
        light = await light_rows_by_ids(session, table, ids)
        orm = await rows_by_ids(session, table, ids)
    assert [row is None for row in light] == [row is None for row in orm]
    for mine, theirs in zip(light, orm, strict=True):
        if theirs is not None:
            _same(mine, theirs, _columns(table))


async def test_subscriptions_and_their_addons_on_the_bare_driver_equal_the_orm_rows(seeded: Deps) -> None:
    async with seeded.store.read() as session:
        tenant_ids = [*await _ids(session, TenantRow), "missing"]
        light = await subscriptions.live_subscription_rows(session, tenant_ids)
        orm = await subscriptions.live_subscriptions(session, tenant_ids)
        subscription_ids = [row.id for row in orm if row is not None]
        light_addons = await subscriptions.subscription_addon_rows(session, subscription_ids)
        orm_addons = await subscriptions.subscription_addons(session, subscription_ids)
    assert [row is None for row in light] == [row is None for row in orm]
    assert any(row is not None for row in orm)
    for mine, theirs in zip(light, orm, strict=True):
        if theirs is not None:
            _same(mine, theirs, _columns(SubscriptionRow))
    assert [len(group) for group in light_addons] == [len(group) for group in orm_addons]
    assert any(orm_addons)
    for mine_group, their_group in zip(light_addons, orm_addons, strict=True):
        for mine, theirs in zip(mine_group, their_group, strict=True):
            _same(mine, theirs, _columns(SubscriptionAddonRow))


async def _same_statement(session: AsyncSession, statement: Any) -> int:
    """``fetch`` and ``session.execute`` of one Core statement give equal rows of equal types."""
    light = await fetch(session, statement)
    orm = (await session.execute(statement)).all()
    assert len(light) == len(orm)
    names = list(orm[0]._fields) if orm else []
    assert list(light[0]._fields if light else []) == names
    for mine, theirs in zip(light, orm, strict=True):
        _same(mine, theirs, names)
    return len(orm)


async def test_invoices_lines_meters_and_usage_days_on_the_bare_driver_equal_what_sqlalchemy_reads(
    seeded: Deps,
) -> None:
    async with seeded.store.read() as session:
        tenant_ids = await _ids(session, TenantRow)
        invoice_ids = await _ids(session, InvoiceRow)
        lines = table_of(InvoiceLineRow)
        invoices = table_of(InvoiceRow)
        read = [
            await _same_statement(session, select(lines).where(lines.c.invoice_id.in_(invoice_ids))),
            await _same_statement(session, select(invoices).where(invoices.c.tenant_id.in_(tenant_ids))),
            await _same_statement(session, select(table_of(MeterRow))),
            await _same_statement(session, select(DAYS).where(DAYS.c.tenant_id.in_(tenant_ids))),
            await _same_statement(session, select(table_of(MemberRow))),
        ]
    assert all(read), read  # every statement had rows to compare


async def test_loader_reads_answer_as_before_for_many_tenants_in_one_statement_each(seeded: Deps) -> None:
    async with seeded.store.read() as session:
        tenant_ids = await _ids(session, TenantRow)
        meter_ids = await _ids(session, MeterRow)
        newest = await invoicing.newest_invoices(session, [(t, 3) for t in tenant_ids])
        lines = await invoicing.invoice_lines(session, [i.id for group in newest for i in group])
        used = await seats_in_use(session, tenant_ids)
        balances = await invoicing.credit_balances(session, tenant_ids)
        days = await folded_days(session, {(date(2000, 1, 1), date(9999, 12, 31)): tenant_ids}, meter_ids)
        orm_invoices = (await session.scalars(select(InvoiceRow).order_by(InvoiceRow.id.desc()))).all()
    for tenant_id, group in zip(tenant_ids, newest, strict=True):
        theirs = [row for row in orm_invoices if row.tenant_id == tenant_id][:3]
        assert [row.id for row in group] == [row.id for row in theirs]
        for mine, their in zip(group, theirs, strict=True):
            _same(mine, their, _columns(InvoiceRow))
    assert any(newest) and any(lines) and any(used) and days
    assert all(isinstance(n, int) for n in balances)
    assert all(type(seat_type).__name__ == "SeatType" for counts in used for seat_type in counts)


async def test_a_statement_built_once_takes_any_number_of_keys_none_or_odd_ones_included(
    seeded: Deps,
) -> None:
    async with seeded.store.read() as session:
        ids = await _ids(session, TenantRow)
        odd = ["", "it's", 'a "quoted" id', "テナント", "%", "_"]
        assert await light_rows_by_ids(session, TenantRow, []) == []
        assert await light_rows_by_ids(session, TenantRow, odd) == [None] * len(odd)
        for keys in (ids[:1], ids, [*ids, *odd], list(reversed(ids))):
            light = await light_rows_by_ids(session, TenantRow, keys)
            orm = await rows_by_ids(session, TenantRow, keys)
            assert [row.id if row else None for row in light] == [row.id if row else None for row in orm]
            assert [row.id for row in light if row] == [k for k in keys if k in ids]


async def test_every_loader_read_finds_its_rows_by_index_not_by_scanning_the_table(seeded: Deps) -> None:
    """A keyed read (``any_of``) must stay a comparison an index can serve: on SQLite,
    ``(invoice_id IN (SELECT value FROM json_each(?))) = 1`` scanned every line of every
    invoice for each dashboard. The plans are asked with sequential scans discouraged on
    PostgreSQL (its planner scans a table this small anyway when allowed)."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, args: Any, *_rest: Any) -> None:
        if "json_each" in sql or "ANY(" in sql:
            statements.append((sql, args))

    engine = seeded.store.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        async with seeded.store.read() as session:
            tenant_ids = await _ids(session, TenantRow)
            await light_rows_by_ids(session, InvoiceRow, await _ids(session, InvoiceRow))
            newest = await invoicing.newest_invoices(session, [(t, 3) for t in tenant_ids])
            await invoicing.invoice_lines(session, [i.id for group in newest for i in group])
            await invoicing.credit_balances(session, tenant_ids)
            await seats_in_use(session, tenant_ids)
            live = await subscriptions.live_subscription_rows(session, tenant_ids)
            await subscriptions.subscription_addon_rows(session, [row.id for row in live if row is not None])
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(statements) >= 7, [sql for sql, _ in statements]
    tables = [["SCAN", name] for name in SQLModel.metadata.tables]  # a table's, not a subquery's
    async with seeded.store.read() as session:
        raw = (await (await session.connection()).get_raw_connection()).driver_connection
        for sql, args in statements:
            if session.bind.dialect.name == "sqlite":
                steps = await raw.execute_fetchall(f"EXPLAIN QUERY PLAN {sql}", args)
                plan = " | ".join(row[3] for row in steps)
                scans = [step for step in plan.split(" | ") if step.split(" ")[:2] in tables]
            else:
                await raw.execute("SET enable_seqscan = off")
                try:
                    plan = " | ".join(row[0] for row in await raw.fetch(f"EXPLAIN {sql}", *args))
                finally:
                    await raw.execute("RESET enable_seqscan")
                scans = [step.strip() for step in plan.split(" | ") if "Seq Scan" in step]
            assert not scans, f"{sql}\n{plan}"

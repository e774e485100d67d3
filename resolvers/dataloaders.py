"""Per-request DataLoaders, one per relation, so nested lists cost a constant
number of SQL statements however many parents there are.

In a query operation they share one read session (`SharedReads`): one connection
and one snapshot for the whole response, instead of a pool checkout, a PostgreSQL
pre-ping, a BEGIN and a ROLLBACK around each of their statements, which cost more
than the statements themselves. Mutations keep a session per load, so a field
resolved after a write reads what it wrote.

They load children of objects a service already scope-checked, so they check no
scope themselves: never hand one an id that came straight from a caller.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from models.catalog import queries as catalog_queries
from models.invoicing import queries as invoicing_queries
from models.metering import counts as metering_counts
from models.metering import queries as metering_queries
from models.metering.counts import Count
from models.payments import queries as payments_queries
from models.platform.deps import Deps
from models.platform.reads import rows_by_ids
from models.platform.store import Store
from models.seats import queries as seats_queries
from models.subscriptions import queries as subscriptions_queries
from models.tables import AddonRow, PlanRow, TenantRow, TestClockRow

Row = TypeVar("Row")
Result = TypeVar("Result")


class _Reads:
    """Where a request's DataLoaders read: a session of their own for each load, or,
    once ``share`` is called, one session opened on first use and kept, one load at
    a time, until ``close`` (or a load fails in it). While the store's snapshots are
    all taken (``Store.max_snapshots``), loads read in sessions of their own. After ``close`` it is back to a session per load, so a
    late load never leaves a session open."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._sharing = False
        self._lock = asyncio.Lock()
        self._opened: contextlib.AsyncExitStack | None = None
        self._session: AsyncSession | None = None

    def share(self) -> None:
        self._sharing = True

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        if not self._sharing:
            async with self._store.read() as session:
                yield session
            return
        async with self._lock:
            if self._session is None and self._store.snapshots_open < self._store.max_snapshots:
                stack = contextlib.AsyncExitStack()
                self._session = await stack.enter_async_context(self._store.snapshot())
                self._opened = stack
            if self._session is None:  # every snapshot taken: this load reads on its own
                async with self._store.read() as session:
                    yield session
                return
            try:
                yield self._session
            except BaseException:
                # On PostgreSQL a failed statement aborts the transaction: the loads
                # after it start a session afresh instead of failing with it.
                opened, self._opened, self._session = self._opened, None, None
                if opened is not None:
                    await opened.aclose()
                raise

    async def close(self) -> None:
        self._sharing = False
        async with self._lock:
            opened, self._opened, self._session = self._opened, None, None
            if opened is not None:
                await opened.aclose()


def _loader(
    reads: _Reads,
    query: Callable[[AsyncSession, Sequence[Any]], Awaitable[list[Result]]],
    cache_key: Callable[[Any], Any] | None = None,
) -> DataLoader[Any, Result]:
    async def load(keys: Sequence[Any]) -> list[Result]:
        async with reads.session() as session:
            return await query(session, keys)

    return DataLoader(load_fn=load, cache_key_fn=cache_key)


def _by_id(table: type[Row]) -> Callable[[AsyncSession, Sequence[str]], Awaitable[list[Row | None]]]:
    async def query(session: AsyncSession, ids: Sequence[str]) -> list[Row | None]:
        return await rows_by_ids(session, table, ids)

    return query


class Loaders:
    """Built fresh for every request (and every websocket operation)."""

    def __init__(self, deps: Deps) -> None:
        self.reads = reads = _Reads(deps.store)
        self.test_clock: DataLoader[str, TestClockRow | None] = _loader(reads, _by_id(TestClockRow))
        self.plan: DataLoader[str, PlanRow | None] = _loader(reads, _by_id(PlanRow))
        self.addon: DataLoader[str, AddonRow | None] = _loader(reads, _by_id(AddonRow))
        # plan id -> its attached add-ons
        self.plan_addons: DataLoader[str, Any] = _loader(reads, catalog_queries.addons_of_plans)
        # tenant id -> its live subscription or None
        self.live_subscription: DataLoader[str, Any] = _loader(reads, subscriptions_queries.live_subscriptions)
        # subscription id -> [SubscriptionAddonRow]
        self.subscription_addons: DataLoader[str, Any] = _loader(reads, subscriptions_queries.subscription_addons)
        # tenant id -> {SeatType: active members}
        self.seats_in_use: DataLoader[str, Any] = _loader(reads, seats_queries.seats_in_use)
        # tenant id -> active members
        self.members: DataLoader[str, Any] = _loader(reads, seats_queries.members_of_tenants)
        # subscription id -> its newest invoice
        self.latest_invoice: DataLoader[str, Any] = _loader(reads, invoicing_queries.latest_invoices)
        # (tenant id, n) -> its n newest invoices: the first page of Tenant.invoices
        self.newest_invoices: DataLoader[tuple[str, int], Any] = _loader(reads, invoicing_queries.newest_invoices)
        # tenant id -> its credit balance
        self.credit_balance: DataLoader[str, int] = _loader(reads, invoicing_queries.credit_balances)
        # plan id -> [(UsageChargeRow, MeterRow)]
        self.plan_usage_charges: DataLoader[str, Any] = _loader(reads, metering_queries.usage_charges_of_plans)
        # invoice id -> its lines in order
        self.invoice_lines: DataLoader[str, Any] = _loader(reads, invoicing_queries.invoice_lines)
        # tenant id -> why the payment provider refused a call owed for it, or None
        self.provider_failure: DataLoader[str, str | None] = _loader(reads, payments_queries.provider_failures)
        # (tenant row, a month's first day or None: this month) -> every meter's count in it
        self.month_counts: DataLoader[tuple[TenantRow, date | None], list[Count]] = _loader(
            reads, lambda session, keys: metering_counts.month_counts_of(session, deps, keys),
            cache_key=lambda key: (key[0].id, key[1]),
        )


class SharedReads(SchemaExtension):
    """A query operation's DataLoaders share one read session, closed when it ends."""

    async def on_execute(self) -> AsyncIterator[None]:
        loaders = getattr(self.execution_context.context, "loaders", None)
        if loaders is None:
            yield
            return
        if self.execution_context.operation_type is OperationType.QUERY:
            loaders.reads.share()
        try:
            yield
        finally:
            await loaders.reads.close()

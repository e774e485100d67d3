"""Per-request DataLoaders, one per relation, so nested lists cost a constant
number of SQL statements however many parents there are.

They load children of objects a service already scope-checked, so they check no
scope themselves: never hand one an id that came straight from a caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from models.services import usage
from models.services.base import Deps
from models.services.usage import Count
from models.store import queries
from models.tables import AddonRow, PlanRow, TenantRow, TestClockRow

Row = TypeVar("Row")
Result = TypeVar("Result")


def _loader(
    deps: Deps,
    query: Callable[[AsyncSession, Sequence[Any]], Awaitable[list[Result]]],
    cache_key: Callable[[Any], Any] | None = None,
) -> DataLoader[Any, Result]:
    async def load(keys: Sequence[Any]) -> list[Result]:
        async with deps.store.read() as session:
            return await query(session, keys)

    return DataLoader(load_fn=load, cache_key_fn=cache_key)


def _by_id(table: type[Row]) -> Callable[[AsyncSession, Sequence[str]], Awaitable[list[Row | None]]]:
    async def query(session: AsyncSession, ids: Sequence[str]) -> list[Row | None]:
        return await queries.rows_by_ids(session, table, ids)

    return query


class Loaders:
    """Built fresh for every request (and every websocket operation)."""

    def __init__(self, deps: Deps) -> None:
        self.test_clock: DataLoader[str, TestClockRow | None] = _loader(deps, _by_id(TestClockRow))
        self.plan: DataLoader[str, PlanRow | None] = _loader(deps, _by_id(PlanRow))
        self.addon: DataLoader[str, AddonRow | None] = _loader(deps, _by_id(AddonRow))
        # plan id -> its attached add-ons
        self.plan_addons: DataLoader[str, Any] = _loader(deps, queries.addons_of_plans)
        # tenant id -> its live subscription or None
        self.live_subscription: DataLoader[str, Any] = _loader(deps, queries.live_subscriptions)
        # subscription id -> [SubscriptionAddonRow]
        self.subscription_addons: DataLoader[str, Any] = _loader(deps, queries.subscription_addons)
        # tenant id -> {SeatType: active members}
        self.seats_in_use: DataLoader[str, Any] = _loader(deps, queries.seats_in_use)
        # tenant id -> active members
        self.members: DataLoader[str, Any] = _loader(deps, queries.members_of_tenants)
        # subscription id -> its newest invoice
        self.latest_invoice: DataLoader[str, Any] = _loader(deps, queries.latest_invoices)
        # (tenant id, n) -> its n newest invoices: the first page of Tenant.invoices
        self.newest_invoices: DataLoader[tuple[str, int], Any] = _loader(deps, queries.newest_invoices)
        # tenant id -> its credit balance
        self.credit_balance: DataLoader[str, int] = _loader(deps, queries.credit_balances)
        # plan id -> [(UsageChargeRow, MeterRow)]
        self.plan_usage_charges: DataLoader[str, Any] = _loader(deps, queries.usage_charges_of_plans)
        # invoice id -> its lines in order
        self.invoice_lines: DataLoader[str, Any] = _loader(deps, queries.invoice_lines)
        # tenant id -> why the payment provider refused a call owed for it, or None
        self.provider_failure: DataLoader[str, str | None] = _loader(deps, queries.provider_failures)
        # (tenant row, a month's first day or None: this month) -> every meter's count in it
        self.month_counts: DataLoader[tuple[TenantRow, date | None], list[Count]] = _loader(
            deps, lambda session, keys: usage.month_counts_of(session, deps, keys),
            cache_key=lambda key: (key[0].id, key[1]),
        )

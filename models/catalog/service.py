"""The catalog: plans, add-ons, and which add-ons each plan offers.

Writes need an ADMIN key; every key may read the catalog (frontends show prices).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.catalog.inputs import AddonCreate, PlanCreate
from models.kernel.errors import AddonArchived, AddonNotAttached, CurrencyMismatch, NotFound
from models.kernel.ids import new_id
from models.platform import locks
from models.platform.access import Principal, require_admin
from models.platform.deps import Deps, insert_unique
from models.tables import AddonRow, PlanAddonRow, PlanRow
from models.tables.tenants import TenantRow

Coded = TypeVar("Coded", PlanRow, AddonRow)


async def _insert_coded(deps: Deps, row: Coded) -> Coded:
    """Insert a catalog row whose code must be unique."""
    return await insert_unique(
        deps, row, "input.code", f"{row.code!r} is already used; codes are unique, pick another"
    )


def new_plan(spec: PlanCreate, now: datetime) -> PlanRow:
    return PlanRow(id=new_id("plan"), created_at=now, **spec.model_dump(mode="json"))


def new_addon(spec: AddonCreate, now: datetime) -> AddonRow:
    return AddonRow(id=new_id("addon"), created_at=now, **spec.model_dump(mode="json"))


async def create_plan(deps: Deps, actor: Principal, spec: PlanCreate) -> PlanRow:
    require_admin(actor, "createPlan")
    return await _insert_coded(deps, new_plan(spec, deps.clock.now()))


async def create_addon(deps: Deps, actor: Principal, spec: AddonCreate) -> AddonRow:
    require_admin(actor, "createAddon")
    return await _insert_coded(deps, new_addon(spec, deps.clock.now()))


async def attach_addon(deps: Deps, actor: Principal, plan_id: str, addon_id: str) -> PlanRow:
    """Offer an add-on with a plan. Attaching one that is already attached changes nothing."""
    require_admin(actor, "attachAddon")
    async with deps.store.transaction() as session:
        plan = await locks.plan(session, plan_id)
        if plan is None:
            raise NotFound("Plan", plan_id)
        addon = await _addon(session, addon_id)
        if addon.archived_at is not None:
            raise AddonArchived(f"Add-on {addon.code!r} is archived and can no longer be offered.")
        _same_currency(plan, addon)
        if await session.get(PlanAddonRow, (plan.id, addon.id)) is None:
            session.add(PlanAddonRow(plan_id=plan.id, addon_id=addon.id, attached_at=deps.clock.now()))
    return plan


async def archive_addon(deps: Deps, actor: Principal, addon_id: str) -> AddonRow:
    """Stop selling an add-on. Subscriptions that have it keep it until they change."""
    require_admin(actor, "archiveAddon")
    async with deps.store.transaction() as session:
        addon = await _addon(session, addon_id)
        if addon.archived_at is None:
            addon.archived_at = deps.clock.now()
    return addon


async def list_plans(deps: Deps) -> list[PlanRow]:
    async with deps.store.read() as session:
        return list((await session.scalars(select(PlanRow).order_by(PlanRow.id))).all())


async def list_addons(deps: Deps, include_archived: bool) -> list[AddonRow]:
    query = select(AddonRow).order_by(AddonRow.id)
    if not include_archived:
        query = query.where(AddonRow.archived_at.is_(None))
    async with deps.store.read() as session:
        return list((await session.scalars(query)).all())


async def _addon(session: AsyncSession, addon_id: str) -> AddonRow:
    addon = await locks.addon(session, addon_id)
    if addon is None:
        raise NotFound("Addon", addon_id)
    return addon


def _same_currency(plan: PlanRow, addon: AddonRow) -> None:
    if addon.currency != plan.currency:
        raise CurrencyMismatch(
            f"Add-on {addon.code!r} is priced in {addon.currency} but plan {plan.code!r} in "
            f"{plan.currency}; an add-on must share its plan's currency."
        )


async def buyable_addons(
    session: AsyncSession,
    plan: PlanRow,
    wanted: Sequence[tuple[str, int]],
    field: str,
    held: Mapping[str, int] | None = None,
) -> list[tuple[AddonRow, int]]:
    """The add-ons and quantities a subscription to ``plan`` may have, in the order
    asked; every add-on must exist and be attached to the plan. An archived one can
    no longer be bought: a subscription may keep (or lower) what it ``held``."""
    ids = [addon_id for addon_id, _ in wanted]
    found = {a.id: a for a in await locks.addons_for_share(session, ids)}
    attached = set(
        (
            await session.scalars(
                select(PlanAddonRow.addon_id).where(
                    PlanAddonRow.plan_id == plan.id, PlanAddonRow.addon_id.in_(ids)
                )
            )
        ).all()
    )
    items = []
    for index, (addon_id, quantity) in enumerate(wanted):
        addon = found.get(addon_id)
        if addon is None:
            raise NotFound("Addon", addon_id)
        _same_currency(plan, addon)
        if addon.archived_at is not None and quantity > (held or {}).get(addon_id, 0):
            raise AddonArchived(
                f"Add-on {addon.code!r} ({field}[{index}]) is archived and can no longer be bought."
            )
        if addon_id not in attached:
            raise AddonNotAttached(
                f"Add-on {addon.code!r} ({field}[{index}]) is not offered with plan {plan.code!r}; "
                "attach it to the plan first."
            )
        if quantity:
            items.append((addon, quantity))
    return items


async def plan_for(session: AsyncSession, tenant: TenantRow, plan_id: str) -> PlanRow:
    """A plan the tenant can be billed on: it exists and is priced in the tenant's currency."""
    plan = await session.get(PlanRow, plan_id)
    if plan is None:
        raise NotFound("Plan", plan_id)
    if plan.currency != tenant.currency:
        raise CurrencyMismatch(
            f"Plan {plan.code!r} is priced in {plan.currency} but the tenant is billed in {tenant.currency}."
        )
    return plan

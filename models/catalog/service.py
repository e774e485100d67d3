"""The catalog: plans, add-ons, and which add-ons each plan offers.

Writes need an ADMIN key; every key may read the catalog (frontends show prices).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import Field, StringConstraints, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import Interval, SeatType
from models.kernel.errors import AddonArchived, AddonNotAttached, CurrencyMismatch, NotFound, ValidationFailed
from models.kernel.ids import new_id
from models.kernel.validation import CurrencyCode, Input, NonBlank
from models.platform.access import Principal, require_admin
from models.platform.deps import Deps, insert_unique
from models.platform.store import ROW_LOCK
from models.tables import AddonRow, PlanAddonRow, PlanRow

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Name = Annotated[NonBlank, StringConstraints(max_length=200)]
# Prices are GraphQL Ints (32-bit), so 21,474,836.47 USD is the most one unit can cost.
Price = Annotated[int, Field(ge=0, le=2**31 - 1)]
Coded = TypeVar("Coded", PlanRow, AddonRow)
SeatCount = Annotated[int, Field(ge=0, le=1_000_000)]


class PlanCreate(Input):
    code: Code
    name: Name
    currency: CurrencyCode
    interval: Interval = Interval.MONTH
    base_price: Price
    included_seats: SeatCount = 0
    min_seats: SeatCount | None = None
    max_seats: Annotated[int, Field(ge=1, le=1_000_000)] | None = None

    @model_validator(mode="after")
    def _bounds(self) -> PlanCreate:
        if self.max_seats is not None:
            if self.min_seats is not None and self.max_seats < self.min_seats:
                raise ValidationFailed("input.maxSeats", f"must be at least minSeats ({self.min_seats})")
            if self.max_seats < self.included_seats:
                raise ValidationFailed(
                    "input.maxSeats", f"must be at least includedSeats ({self.included_seats}), or no one could subscribe"
                )
        return self


class AddonCreate(Input):
    code: Code
    name: Name
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    currency: CurrencyCode
    price: Price
    seat_type: SeatType | None = None
    seats_per_unit: Annotated[int, Field(ge=1, le=10_000)] = 1
    tax_category: Annotated[NonBlank, StringConstraints(max_length=64)] = "saas"

    @model_validator(mode="after")
    def _packs_are_seats(self) -> AddonCreate:
        if self.seat_type is None and self.seats_per_unit != 1:
            raise ValidationFailed("input.seatsPerUnit", "needs a seatType: only seat add-ons come in packs")
        return self


async def _insert_coded(deps: Deps, row: Coded) -> Coded:
    """Insert a catalog row whose code must be unique."""
    return await insert_unique(deps, row, "input.code", f"{row.code!r} is already used; codes are unique, pick another")


def new_plan(spec: PlanCreate, now: datetime) -> PlanRow:
    return PlanRow(id=new_id("plan"), created_at=now, **spec.model_dump(mode="json"))


def new_addon(spec: AddonCreate, now: datetime) -> AddonRow:
    return AddonRow(id=new_id("addon"), created_at=now, **spec.model_dump(mode="json"))


async def create_plan(deps: Deps, actor: Principal, data: Any) -> PlanRow:
    require_admin(actor, "createPlan")
    return await _insert_coded(deps, new_plan(PlanCreate.parse(data), deps.clock.now()))


async def create_addon(deps: Deps, actor: Principal, data: Any) -> AddonRow:
    require_admin(actor, "createAddon")
    return await _insert_coded(deps, new_addon(AddonCreate.parse(data), deps.clock.now()))


async def attach_addon(deps: Deps, actor: Principal, plan_id: str, addon_id: str) -> PlanRow:
    """Offer an add-on with a plan. Attaching one that is already attached changes nothing."""
    require_admin(actor, "attachAddon")
    async with deps.store.transaction() as session:
        # Locked: concurrent attaches of one pair queue; an archive in flight finishes first.
        plan = await session.get(PlanRow, plan_id, with_for_update=ROW_LOCK)
        if plan is None:
            raise NotFound("Plan", plan_id)
        addon = await _addon(session, addon_id, for_update=True)
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
        addon = await _addon(session, addon_id, for_update=True)
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


async def _addon(session: AsyncSession, addon_id: str, *, for_update: bool = False) -> AddonRow:
    addon = await session.get(AddonRow, addon_id, with_for_update=ROW_LOCK if for_update else None)
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
    session: AsyncSession, plan: PlanRow, wanted: Sequence[tuple[str, int]], field: str,
    held: Mapping[str, int] | None = None,
) -> list[tuple[AddonRow, int]]:
    """The add-ons and quantities a subscription to ``plan`` may have, in the order
    asked; every add-on must exist and be attached to the plan. An archived one can
    no longer be bought: a subscription may keep (or lower) what it ``held``."""
    ids = [addon_id for addon_id, _ in wanted]
    # FOR SHARE: an add-on being archived right now is read once the archive commits.
    query = select(AddonRow).where(AddonRow.id.in_(ids)).with_for_update(read=True)
    found = {a.id: a for a in (await session.scalars(query)).all()}
    attached = set(
        (await session.scalars(
            select(PlanAddonRow.addon_id).where(PlanAddonRow.plan_id == plan.id, PlanAddonRow.addon_id.in_(ids))
        )).all()
    )
    items = []
    for index, (addon_id, quantity) in enumerate(wanted):
        addon = found.get(addon_id)
        if addon is None:
            raise NotFound("Addon", addon_id)
        _same_currency(plan, addon)
        if addon.archived_at is not None and quantity > (held or {}).get(addon_id, 0):
            raise AddonArchived(f"Add-on {addon.code!r} ({field}[{index}]) is archived and can no longer be bought.")
        if addon_id not in attached:
            raise AddonNotAttached(
                f"Add-on {addon.code!r} ({field}[{index}]) is not offered with plan {plan.code!r}; "
                "attach it to the plan first."
            )
        if quantity:
            items.append((addon, quantity))
    return items

"""Reads of members and the seats they hold shared by services and DataLoaders: each answers for many
parents in one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    exists,
    false,
    func,
    insert,
    literal,
    select,
    type_coerce,
)
from sqlalchemy import union_all as union_all_
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import MemberStatus, SeatType
from models.kernel.errors import SeatsInUse
from models.platform.reads import grouped
from models.seats.rules import overbooked
from models.tables import AddonRow, MemberRow, PlanRow, SubscriptionAddonRow


async def seats_in_use(session: AsyncSession, tenant_ids: Sequence[str]) -> list[dict[SeatType, int]]:
    """Active members per seat type, per tenant."""
    counts: dict[str, dict[SeatType, int]] = defaultdict(dict)
    query = (
        select(MemberRow.tenant_id, MemberRow.seat_type, func.count())
        .where(MemberRow.tenant_id.in_(tenant_ids), MemberRow.status == MemberStatus.ACTIVE)
        .group_by(MemberRow.tenant_id, MemberRow.seat_type)
    )
    for tenant_id, seat_type, count in (await session.execute(query)).all():
        counts[tenant_id][seat_type] = count
    return [counts.get(t, {}) for t in tenant_ids]


async def members_of_tenants(
    session: AsyncSession, tenant_ids: Sequence[str], *, include_removed: bool = False
) -> list[list[MemberRow]]:
    query = select(MemberRow).order_by(MemberRow.id)
    if not include_removed:
        query = query.where(MemberRow.status == MemberStatus.ACTIVE)
    return await grouped(session, query, MemberRow.tenant_id, tenant_ids)


def seat_state(totals: Mapping[SeatType, int], used: Mapping[SeatType, int]) -> dict[str, Any]:
    """Seats by type as the audit trail records them."""
    return {t.value: {"total": totals.get(t, 0), "used": used.get(t, 0)} for t in SeatType}


async def check_members_fit(
    session: AsyncSession, tenant_id: str, totals: Mapping[SeatType, int]
) -> dict[SeatType, int]:
    """The seats members hold by type; SEATS_IN_USE, naming who must go, when that is
    more than ``totals`` give (a purchase, a downgrade)."""
    (used,) = await seats_in_use(session, [tenant_id])
    over = overbooked(totals, used)
    if not over:
        return used
    (members,) = await members_of_tenants(session, [tenant_id])
    holding = [m for m in members if m.seat_type in over]
    for member in holding:  # keep them readable after the rollback this error causes
        session.expunge(member)
    excess = ", ".join(f"{n} {t.value}" for t, n in over.items())
    raise SeatsInUse(
        f"Members hold more seats than this would leave: remove {excess} member(s) first.",
        members_to_remove=sum(over.values()),
        members=holding,
    )


@dataclass(frozen=True, slots=True)
class Admission:
    """What ``admit`` found, in the statement that inserted (or not) the member."""

    inserted: bool
    taken: str | None  # the id of the active member already holding the email
    totals: dict[SeatType, int]
    used: dict[SeatType, int]  # before the insert
    held_back: bool  # the caller's ``unless`` held: nothing was inserted


def _tag(kind: str) -> ColumnElement[str]:
    return literal(kind, String)


def _facts(
    member: Mapping[str, Any], subscription_id: str, plan_id: str, unless: ColumnElement[bool]
) -> list[Any]:
    """Rows (kind, key, n): active members per seat type ("used"), seats bought per type
    ("held": the plan's included FULL seats, each seat add-on's units), the member
    already holding the email ("taken"), and whether ``unless`` holds ("held_back")."""
    m, sa, a = MemberRow.__table__.c, SubscriptionAddonRow.__table__.c, AddonRow.__table__.c
    tenant_id = member["tenant_id"]
    active = (m.tenant_id == tenant_id) & (m.status == MemberStatus.ACTIVE)
    return [
        select(_tag("used"), type_coerce(m.seat_type, String), func.count())
        .where(active)
        .group_by(m.seat_type),
        select(_tag("held"), _tag(SeatType.FULL.value), PlanRow.__table__.c.included_seats).where(
            PlanRow.__table__.c.id == plan_id
        ),
        select(_tag("held"), type_coerce(a.seat_type, String), func.sum(sa.quantity * a.seats_per_unit))
        .join_from(SubscriptionAddonRow.__table__, AddonRow.__table__, a.id == sa.addon_id)
        .where(sa.subscription_id == subscription_id, a.seat_type.is_not(None))
        .group_by(a.seat_type),
        select(_tag("taken"), m.id, literal(0, Integer)).where(active, m.email == member["email"]),
        select(_tag("held_back"), _tag(""), literal(0, Integer)).where(unless),
    ]


def _guarded_insert(
    member: Mapping[str, Any], subscription_id: str, plan_id: str, unless: ColumnElement[bool]
) -> Any:
    """INSERT the member ... WHERE a seat of its type is free, the email holds none, and
    ``unless`` does not hold, RETURNING its id: the check and the insert as one statement."""
    m, sa, a = MemberRow.__table__.c, SubscriptionAddonRow.__table__.c, AddonRow.__table__.c
    tenant_id, seat_type = member["tenant_id"], member["seat_type"]
    active = (m.tenant_id == tenant_id) & (m.status == MemberStatus.ACTIVE)
    used = select(func.count()).where(active, m.seat_type == seat_type).scalar_subquery()
    bought = func.coalesce(
        select(func.sum(sa.quantity * a.seats_per_unit))
        .join_from(SubscriptionAddonRow.__table__, AddonRow.__table__, a.id == sa.addon_id)
        .where(sa.subscription_id == subscription_id, a.seat_type == seat_type)
        .scalar_subquery(),
        0,
    )
    if seat_type is SeatType.FULL:
        included = select(PlanRow.__table__.c.included_seats).where(PlanRow.__table__.c.id == plan_id)
        bought = bought + included.scalar_subquery()
    columns = list(member)
    values = select(*(literal(member[c], m[c].type) for c in columns)).where(
        used < bought, ~exists().where(active, m.email == member["email"]), ~unless
    )
    return insert(MemberRow.__table__).from_select(columns, values).returning(m.id)


async def admit(
    session: AsyncSession,
    member: Mapping[str, Any],
    subscription_id: str,
    plan_id: str,
    unless: ColumnElement[bool] | None = None,
) -> Admission:
    """Insert ``member`` (a ``members`` row's values, status ACTIVE) if a seat of its type
    is free and its email holds none, unless ``unless`` holds; with what was counted.
    The caller holds the tenant's and the subscription's locks (PostgreSQL) or the write
    lock (SQLite). On PostgreSQL the count, the checks and the insert are one statement;
    on SQLite the insert follows the count in the same write transaction."""
    unless = false() if unless is None else unless
    facts = _facts(member, subscription_id, plan_id, unless)
    postgres = session.bind.dialect.name == "postgresql"
    if postgres:
        inserted = _guarded_insert(member, subscription_id, plan_id, unless).cte("inserted")
        facts.append(select(_tag("inserted"), inserted.c.id, literal(0, Integer)))
    rows = (await session.execute(union_all_(*facts))).all()
    totals, used = dict.fromkeys(SeatType, 0), dict.fromkeys(SeatType, 0)
    taken, held_back, inserted_id = None, False, None
    for kind, key, n in rows:
        if kind == "used":
            used[SeatType(key)] = int(n)
        elif kind == "held":
            totals[SeatType(key)] += int(n)
        elif kind == "taken":
            taken = key
        elif kind == "held_back":
            held_back = True
        else:
            inserted_id = key
    seat_type = SeatType(member["seat_type"])
    free = taken is None and not held_back and used[seat_type] < totals[seat_type]
    if postgres and (inserted_id is not None) != free:
        raise RuntimeError(f"seat check and insert disagree for {member['id']}: {rows}")
    if free and not postgres:
        await session.execute(insert(MemberRow.__table__).values(**member))
    return Admission(free, taken, totals, {t: n for t, n in used.items() if n}, held_back)

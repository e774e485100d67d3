"""Reads of members and the seats they hold shared by services and DataLoaders: each answers for many
parents in one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    String,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal_column,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import MemberStatus, SeatType
from models.kernel.errors import SeatsInUse
from models.platform.reads import fetch, grouped, keyed
from models.seats.rules import overbooked
from models.tables import AddonRow, MemberRow, PlanRow, SubscriptionAddonRow

_IN_USE = keyed(
    select(MemberRow.tenant_id, MemberRow.seat_type, func.count())
    .where(MemberRow.status == MemberStatus.ACTIVE)
    .group_by(MemberRow.tenant_id, MemberRow.seat_type),
    MemberRow.tenant_id,
)


async def seats_in_use(session: AsyncSession, tenant_ids: Sequence[str]) -> list[dict[SeatType, int]]:
    """Active members per seat type, per tenant."""
    counts: dict[str, dict[SeatType, int]] = defaultdict(dict)
    for tenant_id, seat_type, count in await fetch(session, _IN_USE, keys=list(tenant_ids)):
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
    """What an admission statement found, in the statement that inserted (or not) the member."""

    inserted: bool
    taken: str | None  # the id of the active member already holding the email
    totals: dict[SeatType, int]
    used: dict[SeatType, int]  # before the insert, the seat types some member holds
    held_back: bool  # the statement's ``unless`` held: nothing was inserted


# A member's values, as the admission statements bind them.
MEMBER_VALUES = ("id", "tenant_id", "email", "seat_type", "status", "invited_by", "created_at")
_m, _sa, _a, _p = (t.__table__.c for t in (MemberRow, SubscriptionAddonRow, AddonRow, PlanRow))
_ZERO = literal_column("0", Integer)
_INSERT = insert(MemberRow.__table__)


def _tag(kind: str) -> ColumnElement[str]:
    return literal_column(f"'{kind}'", String)


def _bind(name: str) -> Any:
    return bindparam(name, type_=_m[name].type)


def _active() -> ColumnElement[bool]:
    return (_m.tenant_id == _bind("tenant_id")) & (_m.status == MemberStatus.ACTIVE)


def _addon_seats(*columns: Any) -> Any:
    """``columns`` over the subscription's add-ons that give seats."""
    return (
        select(*columns)
        .join_from(SubscriptionAddonRow.__table__, AddonRow.__table__, _a.id == _sa.addon_id)
        .where(_sa.subscription_id == bindparam("subscription_id"), _a.seat_type.is_not(None))
    )


def _facts(unless: ColumnElement[bool]) -> list[Any]:
    """Rows (kind, key, n): active members per seat type ("used"), seats bought per type
    ("held": the plan's included FULL seats, its seat add-ons' units), the member already
    holding the email ("taken"), and whether ``unless`` holds ("held_back")."""
    units = func.sum(_sa.quantity * _a.seats_per_unit)
    return [
        select(_tag("used"), type_coerce(_m.seat_type, String), func.count())
        .where(_active())
        .group_by(_m.seat_type),
        select(_tag("held"), _tag(SeatType.FULL.value), _p.included_seats).where(
            _p.id == bindparam("plan_id")
        ),
        _addon_seats(_tag("held"), type_coerce(_a.seat_type, String), units).group_by(_a.seat_type),
        select(_tag("taken"), _m.id, _ZERO).where(_active(), _m.email == _bind("email")),
        select(_tag("held_back"), _tag(""), _ZERO).where(unless),
    ]


def _guarded_insert(unless: ColumnElement[bool]) -> Any:
    """INSERT the member ... WHERE a seat of its type is free, its email holds none and
    ``unless`` does not hold, RETURNING its id: the check and the insert in one statement."""
    seat_type = _bind("seat_type")
    used = select(func.count()).where(_active(), _m.seat_type == seat_type).scalar_subquery()
    bought = _addon_seats(func.coalesce(func.sum(_sa.quantity * _a.seats_per_unit), 0))
    bought = bought.where(_a.seat_type == seat_type)
    included = select(_p.included_seats).where(_p.id == bindparam("plan_id")).scalar_subquery()
    total = bought.scalar_subquery() + case((seat_type == SeatType.FULL, included), else_=0)
    values = select(*(_bind(c) for c in MEMBER_VALUES)).where(
        used < total, ~exists().where(_active(), _m.email == _bind("email")), ~unless
    )
    return insert(MemberRow.__table__).from_select(list(MEMBER_VALUES), values).returning(_m.id)


def admission(unless: ColumnElement[bool], *, postgresql: bool) -> CompoundSelect:
    """The statement admitting a member, built once per process: it binds the member's
    ``MEMBER_VALUES``, ``subscription_id``, ``plan_id`` and whatever ``unless`` (true: hold
    the member back, e.g. something else must happen first) binds. On PostgreSQL it
    counts, checks and inserts in one statement (the insert, a CTE, sees what the counts
    saw); on SQLite it counts, and ``admit`` inserts next in the same write transaction."""
    facts = _facts(unless)
    if postgresql:
        inserted = _guarded_insert(unless).cte("inserted")
        facts.append(select(_tag("inserted"), inserted.c.id, _ZERO))
    return union_all(*facts)


async def admit(session: AsyncSession, statement: CompoundSelect, params: Mapping[str, Any]) -> Admission:
    """Run an ``admission`` statement: insert the member (``params``, status ACTIVE) if a
    seat of its type is free and its email holds none, unless its ``unless`` holds; with
    what was counted. The caller holds the tenant's and the subscription's locks
    (PostgreSQL) or the write lock (SQLite)."""
    rows = (await session.execute(statement, params)).all()
    totals, used = dict.fromkeys(SeatType, 0), {}
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
    seat_type = SeatType(params["seat_type"])
    free = taken is None and not held_back and used.get(seat_type, 0) < totals[seat_type]
    if session.bind.dialect.name == "postgresql":
        if (inserted_id is not None) != free:
            raise RuntimeError(f"the seat check and the insert disagree for {params['id']}: {rows}")
    elif free:
        await session.execute(_INSERT, [{c: params[c] for c in MEMBER_VALUES}])
    return Admission(free, taken, totals, used, held_back)

"""Reads of members and the seats they hold shared by services and DataLoaders: each answers for many
parents in one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import MemberStatus, SeatType
from models.kernel.errors import SeatsInUse
from models.platform.reads import fetch, grouped
from models.seats.rules import overbooked
from models.tables import MemberRow


async def seats_in_use(session: AsyncSession, tenant_ids: Sequence[str]) -> list[dict[SeatType, int]]:
    """Active members per seat type, per tenant."""
    counts: dict[str, dict[SeatType, int]] = defaultdict(dict)
    query = (
        select(MemberRow.tenant_id, MemberRow.seat_type, func.count())
        .where(MemberRow.tenant_id.in_(tenant_ids), MemberRow.status == MemberStatus.ACTIVE)
        .group_by(MemberRow.tenant_id, MemberRow.seat_type)
    )
    for tenant_id, seat_type, count in await fetch(session, query):
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

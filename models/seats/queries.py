"""Reads of members and the seats they hold shared by services and DataLoaders: each answers for many
parents in one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import MemberStatus, SeatType
from models.platform.reads import grouped
from models.tables import MemberRow


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

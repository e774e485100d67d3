"""``seats.changed``: what a tenant's seats are after anything that moved them (an
invite, a removal, a plan change, a renewal that applied one, a cancellation)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import SeatType
from models.platform import events
from models.platform.deps import Deps
from models.platform.payloads import SeatsChangedPayload


def seats_changed(
    session: AsyncSession,
    deps: Deps,
    tenant_id: str,
    reason: str,
    totals: Mapping[SeatType, int],
    used: Mapping[SeatType, int],
    at: datetime,
    member_id: str | None = None,
) -> None:
    """Tell of the seats the caller has just counted."""
    events.emit(session, deps, SeatsChangedPayload.of(tenant_id, reason, member_id, totals, used), at)

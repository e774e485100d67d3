"""The audit trail of changes (seats, subscriptions, the catalog's features): who, what,
before, after, when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.ids import new_id
from models.platform.access import Principal, require_admin, require_tenant
from models.platform.deps import Deps
from models.platform.pagination import Page, paginate
from models.tables import AuditEntryRow


def record(
    session: AsyncSession,
    actor: Principal,
    *,
    tenant_id: str | None,
    action: str,
    subject_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime,
) -> AuditEntryRow:
    """Add an entry inside the change's own transaction: it commits with it or not at all.
    ``tenant_id`` None: a catalog change, which belongs to no tenant."""
    row = AuditEntryRow(
        id=new_id("aud"),
        tenant_id=tenant_id,
        actor_api_key_id=actor.api_key_id,
        action=action,
        subject_id=subject_id,
        before=before,
        after=after,
        at=at,
    )
    session.add(row)
    return row


async def audit_log(
    deps: Deps, actor: Principal, tenant_id: str, first: int | None, after: str | None
) -> Page[AuditEntryRow]:
    """A tenant's entries, oldest first."""
    require_tenant(actor, tenant_id)
    query = select(AuditEntryRow).where(AuditEntryRow.tenant_id == tenant_id)
    async with deps.store.read() as session:
        return await paginate(session, query, AuditEntryRow.id, first, after)


async def catalog_log(
    deps: Deps, actor: Principal, first: int | None, after: str | None
) -> Page[AuditEntryRow]:
    """The catalog's entries (features and their grants), oldest first (ADMIN)."""
    require_admin(actor, "catalogAuditLog")
    query = select(AuditEntryRow).where(AuditEntryRow.tenant_id.is_(None))
    async with deps.store.read() as session:
        return await paginate(session, query, AuditEntryRow.id, first, after)

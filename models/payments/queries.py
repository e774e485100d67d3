"""Reads of what the payment provider owes or refused,
shared by services and DataLoaders: each answers for many
parents in one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import TaskStatus
from models.platform.provider import KEY_REFUSED
from models.tables import ProviderTaskRow


async def provider_failures(session: AsyncSession, tenant_ids: Sequence[str]) -> list[str | None]:
    """Each tenant's oldest provider task the provider refused for good, as a sentence
    (None: nothing failed)."""
    query = (
        select(ProviderTaskRow)
        .where(ProviderTaskRow.tenant_id.in_(tenant_ids), ProviderTaskRow.status == TaskStatus.FAILED)
        .order_by(ProviderTaskRow.id)
    )
    found: dict[str, str] = {}
    for task in (await session.scalars(query)).all():
        what = (
            "syncing the customer"
            if task.kind == "SYNC_CUSTOMER"
            else f"collecting invoice {task.subject_id}"
        )
        found.setdefault(task.tenant_id, f"{what} failed after {task.attempts} attempt(s): {task.last_error}")
    return [found.get(t) for t in tenant_ids]


async def key_refused(session: AsyncSession) -> ProviderTaskRow | None:
    """The latest provider task refused for good for the gateway's API key, unless a
    call has succeeded since (the key works again); None when the key is not refused."""
    refused = await session.scalar(
        select(ProviderTaskRow)
        .where(
            ProviderTaskRow.status == TaskStatus.FAILED,
            ProviderTaskRow.last_error.startswith(KEY_REFUSED, autoescape=True),
        )
        .order_by(ProviderTaskRow.updated_at.desc(), ProviderTaskRow.id.desc())
        .limit(1)
    )
    if refused is None:
        return None
    succeeded_since = await session.scalar(
        select(ProviderTaskRow.id)
        .where(ProviderTaskRow.status == TaskStatus.DONE, ProviderTaskRow.updated_at > refused.updated_at)
        .limit(1)
    )
    return None if succeeded_since is not None else refused

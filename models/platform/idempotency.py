"""Idempotency keys: a retried request replays the first result for 24 hours; the
same key on a different request is refused with IDEMPOTENCY_CONFLICT."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.errors import IdempotencyConflict
from models.kernel.validation import Input
from models.tables import IdempotencyKeyRow

RETENTION = timedelta(hours=24)


def fingerprint(spec: Input) -> str:
    """What makes two requests the same: every field but the key itself."""
    body = spec.model_dump(mode="json", exclude={"idempotency_key"})
    if isinstance(body.get("addons"), list):  # the same totals in another order are the same request
        body["addons"] = sorted(body["addons"], key=lambda item: json.dumps(item, sort_keys=True))
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


async def replayed(
    session: AsyncSession, tenant_id: str, operation: str, key: str, spec: Input, now: datetime
) -> str | None:
    """The id of the first result for this key, or None if the request is new.

    Call it after locking the row the operation serializes on, so two requests
    with one key never both run."""
    row = await session.get(IdempotencyKeyRow, (tenant_id, operation, key))
    if row is None:
        return None
    if row.created_at <= now - RETENTION:
        await session.delete(row)
        await session.flush()
        return None
    if row.fingerprint != fingerprint(spec):
        raise IdempotencyConflict(
            f"Idempotency key {key!r} was first used for a different {operation} request; "
            "use a new key for a new request."
        )
    return row.result_id


def remember(
    session: AsyncSession,
    tenant_id: str,
    operation: str,
    key: str,
    spec: Input,
    result_id: str,
    now: datetime,
) -> None:
    session.add(
        IdempotencyKeyRow(
            tenant_id=tenant_id,
            operation=operation,
            key=key,
            fingerprint=fingerprint(spec),
            result_id=result_id,
            created_at=now,
        )
    )

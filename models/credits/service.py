"""Credit grants (grantCredits) and the ledger's writes: an invoice drawing on the
balance, soonest-expiring credit first, each use attributed to the grant it drew on; and
a grant expiring, what was left of it leaving the balance with its own EXPIRED entry.

The balance is the sum of the ledger's entries; a grant's ``remaining`` moves only with
an entry naming it, so what live grants hold never exceeds the balance and the rest (the
pool: GRANTED and CREDIT_NOTE credit) never goes negative."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.credits.inputs import CreditGrantCreate
from models.credits.rules import Lot, allocate, pool
from models.kernel.enums import CreditReason
from models.kernel.errors import ValidationFailed
from models.kernel.ids import new_id
from models.kernel.money import MAX_SAFE_INTEGER, Money
from models.platform import audit, locks
from models.platform.access import Principal, require_admin
from models.platform.deps import Deps
from models.tables import CreditEntryRow, CreditGrantRow, SubscriptionRow, TenantRow

# ``subscriptions.timeline.renew_first``: this domain sits below subscriptions, so the caller
# hands it in (session, deps, tenant, live subscription) -> the tenant's now.
CatchUp = Callable[[AsyncSession, Deps, TenantRow, SubscriptionRow | None], Awaitable[datetime]]


async def grant_credits(
    deps: Deps, actor: Principal, spec: CreditGrantCreate, *, renew_first: CatchUp
) -> CreditGrantRow:
    """Grant ``spec.amount`` of the tenant's currency (ADMIN), usable by its next invoices
    until ``spec.expires_at`` on the tenant's clock (never, without one). What the clock
    owes the tenant is applied first (``renew_first``): a renewal that fell due before the
    grant, and that no worker has made yet, is made without it, as it would have been."""
    require_admin(actor, "grantCredits")
    async with deps.store.transaction() as session:
        tenant = await locks.tenant(session, spec.tenant_id)
        now = await renew_first(session, deps, tenant, await locks.live_subscription(session, tenant.id))
        if spec.expires_at is not None and spec.expires_at <= now:
            raise ValidationFailed(
                "input.expiresAt",
                f"is not after the tenant's now ({now.isoformat()}); a grant must be usable for a while",
            )
        balance = await balance_of(session, tenant.id)
        if balance + spec.amount > MAX_SAFE_INTEGER:
            raise ValidationFailed(
                "input.amount",
                f"would take the credit balance ({Money(balance, tenant.currency).formatted}) past "
                f"{MAX_SAFE_INTEGER} minor units",
            )
        grant = CreditGrantRow(
            id=new_id("cgr"),
            tenant_id=tenant.id,
            currency=tenant.currency,
            amount=spec.amount,
            remaining=spec.amount,
            description=spec.description,
            expires_at=spec.expires_at,
            created_at=now,
        )
        session.add(grant)
        await session.flush()  # its entry refers to it
        _entry(session, tenant, spec.amount, CreditReason.GRANT, spec.description, now, grant_id=grant.id)
        audit.record(
            session,
            actor,
            tenant_id=tenant.id,
            action="credit.granted",
            subject_id=grant.id,
            before=None,
            after={
                "amount": spec.amount,
                "currency": tenant.currency,
                "expiresAt": spec.expires_at.isoformat() if spec.expires_at else None,
                "description": spec.description,
            },
            at=now,
        )
    return grant


async def balance_of(session: AsyncSession, tenant_id: str) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(CreditEntryRow.amount), 0)).where(CreditEntryRow.tenant_id == tenant_id)
    )
    return int(total or 0)


async def draw(
    session: AsyncSession,
    tenant: TenantRow,
    *,
    amount: int,
    invoice_id: str,
    invoice_number: str,
    currency: str,
    at: datetime,
) -> None:
    """``amount`` of the balance pays invoice ``invoice_number``: one APPLIED entry per
    grant (soonest-expiring first) and one for the pool it drew on. Call it with the
    tenant locked."""
    if amount == 0:
        return
    live = list(
        (
            await session.scalars(
                select(CreditGrantRow)
                .where(
                    CreditGrantRow.tenant_id == tenant.id,
                    CreditGrantRow.expired_at.is_(None),
                    CreditGrantRow.remaining > 0,
                )
                .order_by(CreditGrantRow.id)
            )
        ).all()
    )
    free = pool(await balance_of(session, tenant.id), [g.remaining for g in live])
    lots = [Lot(g.id, g.remaining, g.expires_at) for g in live] + [Lot(None, free)]
    grants = {g.id: g for g in live}
    for used in allocate(lots, amount):
        text = f"Applied to invoice {invoice_number}"
        if used.grant_id is not None:
            grant = grants[used.grant_id]
            grant.remaining -= used.amount
            text = f"{text} from grant: {grant.description}"[:500]
        _entry(
            session, tenant, -used.amount, CreditReason.APPLIED, text, at, invoice_id, used.grant_id, currency
        )


async def give_back(
    session: AsyncSession,
    tenant: TenantRow,
    *,
    invoice_id: str,
    invoice_number: str,
    currency: str,
    at: datetime,
) -> int:
    """Invoice ``invoice_number`` is voided: the balance it drew on is the tenant's again.
    What came from a grant still live at ``at`` goes back to that grant (its expiry kept,
    so a void never turns expiring credit into lasting credit); the rest (the pool, or a
    grant expired since) to the pool. Call it with the tenant locked. Returns the amount."""
    drawn = await session.execute(
        select(CreditEntryRow.grant_id, func.sum(CreditEntryRow.amount))
        .where(CreditEntryRow.invoice_id == invoice_id, CreditEntryRow.reason == CreditReason.APPLIED)
        .group_by(CreditEntryRow.grant_id)
    )
    text = f"Returned from voided invoice {invoice_number}"
    to_pool = total = 0
    for grant_id, amount in drawn.all():
        used = -int(amount)
        total += used
        grant = await session.get(CreditGrantRow, grant_id) if grant_id is not None else None
        live = (
            grant is not None
            and grant.expired_at is None
            and (grant.expires_at is None or grant.expires_at > at)
        )
        if grant is None or not live:
            to_pool += used
            continue
        grant.remaining += used
        description = f"{text} to grant: {grant.description}"[:500]
        _entry(session, tenant, used, CreditReason.GRANTED, description, at, invoice_id, grant.id, currency)
    if to_pool > 0:
        _entry(session, tenant, to_pool, CreditReason.GRANTED, text, at, invoice_id, currency=currency)
    return total


async def next_expiry(session: AsyncSession, tenant_id: str, now: datetime) -> CreditGrantRow | None:
    """The tenant's grant that expires soonest by ``now`` and has not yet."""
    return await session.scalar(
        select(CreditGrantRow)
        .where(
            CreditGrantRow.tenant_id == tenant_id,
            CreditGrantRow.expires_at.is_not(None),
            CreditGrantRow.expired_at.is_(None),
            CreditGrantRow.expires_at <= now,
        )
        .order_by(CreditGrantRow.expires_at, CreditGrantRow.id)
        .limit(1)
    )


def expire(session: AsyncSession, tenant: TenantRow, grant: CreditGrantRow, at: datetime) -> None:
    """The grant expires at ``at``: what is left of it leaves the balance (an EXPIRED
    entry, at most one per grant), and nothing draws on it again."""
    if grant.expired_at is not None:
        raise ValueError(f"credit grant {grant.id} expired already")
    if grant.remaining > 0:
        _entry(
            session,
            tenant,
            -grant.remaining,
            CreditReason.EXPIRED,
            f"Expired: {grant.description}"[:500],
            at,
            grant_id=grant.id,
            currency=grant.currency,
        )
    grant.remaining = 0
    grant.expired_at = at


def _entry(
    session: AsyncSession,
    tenant: TenantRow,
    amount: int,
    reason: CreditReason,
    description: str,
    at: datetime,
    invoice_id: str | None = None,
    grant_id: str | None = None,
    currency: str | None = None,
) -> None:
    session.add(
        CreditEntryRow(
            id=new_id("cred"),
            tenant_id=tenant.id,
            currency=currency or tenant.currency,
            amount=amount,
            reason=reason,
            invoice_id=invoice_id,
            grant_id=grant_id,
            description=description,
            at=at,
        )
    )

"""Tenants: create, read, list, and keep their billing info."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from models.invoicing.rules import MAX_AMOUNT, recurring_lines, settle
from models.kernel.enums import ProviderTaskKind, Role
from models.kernel.errors import NotFound, ValidationFailed
from models.kernel.ids import new_id
from models.platform import audit, locks
from models.platform.access import Principal, require_admin, require_tenant
from models.platform.clocks import clock_for_tenant, tenant_clock
from models.platform.deps import Deps
from models.platform.outbox import queue_provider_task
from models.platform.pagination import Page, paginate
from models.platform.reads import light_rows_by_ids
from models.subscriptions.queries import held_items, live_subscriptions
from models.tables import PlanRow, TenantRow, TestClockRow
from models.tenants.inputs import BillingInfoUpdate, PaymentTermsUpdate, TaxRateUpdate, TenantCreate


def tax_rate_ppm(percent: Decimal) -> int:
    return int(percent * 10_000)


def _apply_billing_info(row: TenantRow, info: BillingInfoUpdate | None) -> None:
    address = info.address if info else None
    row.company_name = info.company_name if info else None
    row.address_line1 = address.line1 if address else None
    row.address_line2 = address.line2 if address else None
    row.address_city = address.city if address else None
    row.address_state = address.state if address else None
    row.address_postal_code = address.postal_code if address else None
    row.address_country = address.country if address else None


async def create_tenant(deps: Deps, actor: Principal, spec: TenantCreate) -> TenantRow:
    require_admin(actor, "createTenant")
    async with deps.store.transaction() as session:
        return await insert_tenant(session, deps, spec)


async def insert_tenant(session: AsyncSession, deps: Deps, spec: TenantCreate) -> TenantRow:
    """The write of ``create_tenant``, inside the caller's transaction."""
    test_clock = None
    if spec.test_clock_id is not None:
        test_clock = await session.get(TestClockRow, spec.test_clock_id)
        if test_clock is None:
            raise NotFound("TestClock", spec.test_clock_id)
    row = TenantRow(
        id=new_id("ten"),
        invoice_prefix=await _free_invoice_prefix(session, invoice_prefix_base(spec.name)),
        name=spec.name,
        email=spec.email,
        currency=spec.currency,
        timezone=spec.timezone,
        sales_mode=spec.sales_mode,
        test_clock_id=spec.test_clock_id,
        tax_rate_ppm=tax_rate_ppm(spec.tax_rate),
        collection_method=spec.collection_method,
        days_until_due=spec.days_until_due,
    )
    _apply_billing_info(row, spec.billing_info)
    row.created_at = row.updated_at = clock_for_tenant(deps, row, test_clock).now()
    session.add(row)
    if deps.mirrors:
        await session.flush()  # the task refers to the tenant
    _queue_customer_sync(session, deps, row)
    return row


def _queue_customer_sync(session: AsyncSession, deps: Deps, tenant: TenantRow) -> None:
    """With a payment provider, (re)create the tenant's customer there once this
    commits: every tenant, SALES_LED ones included, is linked to a customer."""
    queue_provider_task(
        session,
        deps,
        tenant_id=tenant.id,
        kind=ProviderTaskKind.SYNC_CUSTOMER,
        subject_id=tenant.id,
        now=deps.clock.now(),
    )


def invoice_prefix_base(name: str) -> str:
    """``Acme Analytics`` -> ``ACME``: the first word's ASCII letters and digits."""
    words = name.split()
    base = "".join(c for c in words[0] if c.isascii() and c.isalnum()).upper()[:8] if words else ""
    return base or "INV"


async def _free_invoice_prefix(session: AsyncSession, base: str) -> str:
    """``base``, or ``base2``, ``base3``...: every tenant's invoice numbers stay unique
    across the operator's books, as tax authorities expect of one seller."""
    await locks.invoice_prefixes(session)
    taken = set(
        (
            await session.scalars(
                select(TenantRow.invoice_prefix).where(
                    func.substr(TenantRow.invoice_prefix, 1, len(base)) == base
                )
            )
        ).all()
    )
    prefix, n = base, 1
    while prefix in taken:
        n += 1
        prefix = f"{base}{n}"
    return prefix


async def update_billing_info(
    deps: Deps, actor: Principal, tenant_id: str, info: BillingInfoUpdate
) -> TenantRow:
    """Replace the tenant's billing info (fields left out are cleared)."""
    require_tenant(actor, tenant_id)
    async with deps.store.transaction() as session:
        row = await locks.tenant(session, tenant_id)
        _apply_billing_info(row, info)
        row.updated_at = (await tenant_clock(session, deps, row)).now()
        _queue_customer_sync(session, deps, row)
    return row


async def set_tax_rate(deps: Deps, actor: Principal, tenant_id: str, tax_rate: Any) -> TenantRow:
    """The exclusive tax rate (percent) of the tenant's next invoices (ADMIN: tax
    is the operator's books, not the tenant's to choose)."""
    require_admin(actor, "setTaxRate")
    spec = TaxRateUpdate.parse({"tax_rate": tax_rate}, path="")
    async with deps.store.transaction() as session:
        row = await locks.tenant(session, tenant_id)
        rate = tax_rate_ppm(spec.tax_rate)
        await _check_renewals_fit(session, row, rate)
        row.tax_rate_ppm = rate
        row.updated_at = (await tenant_clock(session, deps, row)).now()
    return row


async def set_payment_terms(
    deps: Deps, actor: Principal, tenant_id: str, spec: PaymentTermsUpdate
) -> TenantRow:
    """How the tenant's next invoices are paid (ADMIN: payment terms are agreed with the
    operator): charged to its card, or sent, due ``days_until_due`` days after issue.
    Invoices already issued keep the terms they were issued with."""
    require_admin(actor, "setPaymentTerms")
    async with deps.store.transaction() as session:
        row = await locks.tenant(session, tenant_id)
        before = {"collectionMethod": row.collection_method.value, "daysUntilDue": row.days_until_due}
        row.collection_method, row.days_until_due = spec.collection_method, spec.days_until_due
        now = (await tenant_clock(session, deps, row)).now()
        row.updated_at = now
        audit.record(
            session,
            actor,
            tenant_id=row.id,
            action="tenant.payment_terms_changed",
            subject_id=row.id,
            before=before,
            after={"collectionMethod": row.collection_method.value, "daysUntilDue": row.days_until_due},
            at=now,
        )
    return row


async def _check_renewals_fit(session: AsyncSession, tenant: TenantRow, rate: int) -> None:
    """The live subscription's renewal, taxed at ``rate``, must stay an amount the API can show."""
    (subscription,) = await live_subscriptions(session, [tenant.id])
    if subscription is None:
        return
    plan = await session.get(PlanRow, subscription.plan_id)
    total = settle(recurring_lines(plan, await held_items(session, subscription.id)), rate, 0).total
    if abs(total) > MAX_AMOUNT:
        raise ValidationFailed(
            "taxRate",
            f"the renewal of subscription {subscription.id!r} would come to {total} minor units with this "
            f"tax, more than the {MAX_AMOUNT:,} the API can carry",
        )


async def get_tenant(deps: Deps, actor: Principal, tenant_id: str) -> TenantRow:
    require_tenant(actor, tenant_id)
    async with deps.store.read() as session:
        row = await session.get(TenantRow, tenant_id)
    if row is None:
        raise NotFound("Tenant", tenant_id)
    return row


async def read_tenant(deps: Deps, actor: Principal, tenant_id: str) -> Any:
    """``get_tenant`` as a light, read-only row (``models.platform.reads``) for queries: the
    same attributes, without the ORM's cost."""
    require_tenant(actor, tenant_id)
    async with deps.store.read() as session:
        (row,) = await light_rows_by_ids(session, TenantRow, [tenant_id])
    if row is None:
        raise NotFound("Tenant", tenant_id)
    return row


SEARCH_MAX_LENGTH = 200


def _literal(text: str) -> str:
    """``text`` for a LIKE pattern, its wildcards (and the escape character) matched literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_filter(search: str) -> Any:
    """Tenants whose name, email or provider customer id contains ``search``, or whose id
    starts with it, ignoring case; VALIDATION_FAILED naming ``search`` when it is too long."""
    if len(search) > SEARCH_MAX_LENGTH:
        raise ValidationFailed("search", f"must be at most {SEARCH_MAX_LENGTH} characters; got {len(search)}")
    needle = _literal(search.strip().lower())
    if not needle:
        return true()
    contains, prefix = f"%{needle}%", f"{needle}%"
    return or_(
        func.lower(TenantRow.name).like(contains, escape="\\"),
        func.lower(TenantRow.email).like(contains, escape="\\"),
        func.lower(TenantRow.id).like(prefix, escape="\\"),
        func.lower(TenantRow.provider_customer_id).like(contains, escape="\\"),
    )


async def list_tenants(
    deps: Deps,
    actor: Principal,
    first: int | None = None,
    after: str | None = None,
    search: str | None = None,
    *,
    light: bool = False,
) -> Page[TenantRow]:
    """Every tenant for ADMIN keys; a TENANT key sees its own; a PARTNER key none. With
    ``search``, only those matching it (search_filter); a blank search matches all.
    ``light``: as light read-only rows (``read_tenant``), for queries."""
    query = select(TenantRow)
    if not actor.is_admin:
        visible = actor.tenant_id if actor.role is Role.TENANT else None
        query = query.where(TenantRow.id == visible)
    if search is not None:
        query = query.where(search_filter(search))
    async with deps.store.read() as session:
        return await paginate(session, query, TenantRow.id, first, after, light=light)

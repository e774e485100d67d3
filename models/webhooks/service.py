"""Outbound webhooks: partner endpoints, the deliveries owed to them, and every attempt.

An event committed by a service is dispatched into one delivery per matching endpoint
(``dispatch_events``); a worker claims due deliveries under a lease
(``claim_due_deliveries``), POSTs them outside any transaction (``gateway.webhooks``)
and records how each attempt went (``record_attempt``), which schedules the next one
on the Standard Webhooks schedule or gives up. The HTTP call itself lives in
``gateway``; this module only decides what is owed and when.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import DeliveryStatus
from models.kernel.errors import NotFound, ValidationFailed
from models.kernel.ids import new_id
from models.platform import locks
from models.platform.access import Principal, require_admin, require_tenant, require_visible
from models.platform.deps import Deps
from models.platform.outbox import work_queued
from models.platform.pagination import Page, paginate
from models.tables import TenantRow, WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow
from models.webhooks.inputs import WebhookEndpointCreate, WebhookEndpointUpdate
from models.webhooks.rules import check_url, new_secret


def _visible(actor: Principal, endpoint: WebhookEndpointRow | None) -> bool:
    """All-tenant endpoints are the operator's; a tenant's are also its own key's."""
    if endpoint is None:
        return False
    return actor.is_admin or (endpoint.tenant_id is not None and actor.can_manage(endpoint.tenant_id))


async def create_endpoint(
    deps: Deps, actor: Principal, spec: WebhookEndpointCreate
) -> tuple[WebhookEndpointRow, str]:
    """The endpoint and its signing secret, which cannot be read again."""
    if spec.tenant_id is None:
        require_admin(actor, "An endpoint for every tenant's events (no tenantId)")
    else:
        require_tenant(actor, spec.tenant_id)
    url = check_url(spec.url, strict=not actor.is_admin)
    secret = new_secret()
    async with deps.store.transaction() as session:
        if spec.tenant_id is not None and await session.get(TenantRow, spec.tenant_id) is None:
            raise NotFound("Tenant", spec.tenant_id)
        row = WebhookEndpointRow(
            id=new_id("whe"),
            url=url,
            events=spec.events,
            tenant_id=spec.tenant_id,
            secret=secret,
            description=spec.description or None,
            created_at=deps.clock.now(),
        )
        session.add(row)
    return row, secret


async def _endpoint(
    session: AsyncSession, actor: Principal, endpoint_id: str, *, lock: bool = False
) -> WebhookEndpointRow:
    if lock:
        row = await locks.webhook_endpoint(session, endpoint_id)
    else:
        row = await session.get(WebhookEndpointRow, endpoint_id)
    require_visible(_visible(actor, row), "WebhookEndpoint", endpoint_id)
    return row


async def update_endpoint(
    deps: Deps, actor: Principal, endpoint_id: str, spec: WebhookEndpointUpdate
) -> WebhookEndpointRow:
    """Change what is left out as is. A disabled endpoint keeps its pending
    deliveries; they go once it is enabled again."""
    async with deps.store.transaction() as session:
        row = await _endpoint(session, actor, endpoint_id, lock=True)
        if spec.url is not None:
            row.url = check_url(spec.url, strict=not actor.is_admin)
        if spec.events is not None:
            row.events = spec.events
        if spec.description is not None:
            row.description = spec.description or None
        if spec.enabled is not None:
            row.disabled = not spec.enabled
            if spec.enabled:
                work_queued(session, deps)
    return row


async def delete_endpoint(deps: Deps, actor: Principal, endpoint_id: str) -> WebhookEndpointRow:
    """Delete the endpoint with its deliveries and their log (an attempt being
    recorded finishes first: ``platform.locks``)."""
    async with deps.store.transaction() as session:
        row = await _endpoint(session, actor, endpoint_id, lock=True)
        await locks.webhook_deliveries_of(session, row.id)
        deliveries = select(WebhookDeliveryRow.id).where(WebhookDeliveryRow.endpoint_id == row.id)
        await session.execute(delete(WebhookAttemptRow).where(WebhookAttemptRow.delivery_id.in_(deliveries)))
        await session.execute(delete(WebhookDeliveryRow).where(WebhookDeliveryRow.endpoint_id == row.id))
        await session.execute(delete(WebhookEndpointRow).where(WebhookEndpointRow.id == row.id))
    return row


async def list_endpoints(deps: Deps, actor: Principal, tenant_id: str | None) -> list[WebhookEndpointRow]:
    """Oldest first. ADMIN: every endpoint, or one tenant's (all-tenant ones left
    out); other keys: their own tenant's."""
    if tenant_id is None and not actor.is_admin:
        tenant_id = actor.tenant_id or ""
    query = select(WebhookEndpointRow).order_by(WebhookEndpointRow.id)
    if tenant_id is not None:
        require_tenant(actor, tenant_id)
        query = query.where(WebhookEndpointRow.tenant_id == tenant_id)
    async with deps.store.read() as session:
        return list((await session.scalars(query)).all())


@dataclass(frozen=True, slots=True)
class DeliveryLog:
    """A delivery with its attempts, oldest first."""

    delivery: WebhookDeliveryRow
    attempts: list[WebhookAttemptRow]

    @property
    def id(self) -> str:
        return self.delivery.id


async def _with_attempts(
    session: AsyncSession, deliveries: Sequence[WebhookDeliveryRow]
) -> list[DeliveryLog]:
    ids = [d.id for d in deliveries]
    attempts: dict[str, list[WebhookAttemptRow]] = defaultdict(list)
    if ids:
        query = (
            select(WebhookAttemptRow)
            .where(WebhookAttemptRow.delivery_id.in_(ids))
            .order_by(WebhookAttemptRow.attempt)
        )
        for attempt in (await session.scalars(query)).all():
            attempts[attempt.delivery_id].append(attempt)
    return [DeliveryLog(d, attempts[d.id]) for d in deliveries]


async def list_deliveries(
    deps: Deps,
    actor: Principal,
    endpoint_id: str,
    first: int | None,
    after: str | None,
    status: DeliveryStatus | None = None,
) -> Page[DeliveryLog]:
    """An endpoint's deliveries, newest first, each with its attempt log."""
    async with deps.store.read() as session:
        await _endpoint(session, actor, endpoint_id)
        query = select(WebhookDeliveryRow).where(WebhookDeliveryRow.endpoint_id == endpoint_id)
        if status is not None:
            query = query.where(WebhookDeliveryRow.status == status)
        page = await paginate(session, query, WebhookDeliveryRow.id, first, after, newest_first=True)
        return Page(await _with_attempts(session, page.items), page.has_next_page)


async def redeliver(deps: Deps, actor: Principal, delivery_id: str) -> DeliveryLog:
    """Send a delivery again now, whatever became of it, with a fresh retry schedule;
    its ``webhook-id`` stays the same, so a receiver that got it already can tell."""
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        row = await locks.webhook_delivery(session, delivery_id)
        endpoint = None if row is None else await session.get(WebhookEndpointRow, row.endpoint_id)
        require_visible(_visible(actor, endpoint), "WebhookDelivery", delivery_id)
        if endpoint.disabled:
            raise ValidationFailed(
                "deliveryId", "its endpoint is disabled; enable it with updateWebhookEndpoint first"
            )
        row.status, row.attempts = DeliveryStatus.PENDING, 0
        row.next_attempt_at = row.updated_at = now
        work_queued(session, deps)
        (log,) = await _with_attempts(session, [row])
    return log

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

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import DeliveryStatus
from models.kernel.errors import ValidationFailed
from models.kernel.ids import new_id
from models.platform import locks
from models.platform.access import Principal, require_admin, require_tenant, require_visible
from models.platform.deps import Deps
from models.platform.outbox import work_queued
from models.platform.pagination import Page, paginate
from models.tables import WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow
from models.webhooks import addresses
from models.webhooks.inputs import WebhookEndpointCreate, WebhookEndpointUpdate
from models.webhooks.rules import all_public, check_url, new_secret, not_public, url_host


def _visible(actor: Principal, endpoint: WebhookEndpointRow | None) -> bool:
    """All-tenant endpoints are the operator's; a tenant's are also its own key's."""
    if endpoint is None:
        return False
    return actor.is_admin or (endpoint.tenant_id is not None and actor.can_manage(endpoint.tenant_id))


async def checked_url(deps: Deps, actor: Principal, url: str, field: str = "input.url") -> tuple[str, bool]:
    """The URL, and whether it may be delivered to a private address. Its host must
    resolve, to public addresses only; an ADMIN key may register a loopback or private
    one when the operator allows it (GATEWAY_WEBHOOKS_ALLOW_PRIVATE), a TENANT key
    never. Resolved outside any transaction (it is I/O), and again at every delivery:
    what a name resolves to changes."""
    url = check_url(url, strict=not actor.is_admin, field=field)
    host = url_host(url)
    resolved = await addresses.resolve(deps, host)
    if all_public(resolved):
        return url, False
    if resolved and actor.is_admin and deps.policy.webhooks.allow_private:
        return url, True
    hint = " (ADMIN keys may, with GATEWAY_WEBHOOKS_ALLOW_PRIVATE=true)" if actor.is_admin else ""
    raise ValidationFailed(field, not_public(host) + hint)


async def create_endpoint(
    deps: Deps, actor: Principal, spec: WebhookEndpointCreate
) -> tuple[WebhookEndpointRow, str]:
    """The endpoint and its signing secret, which cannot be read again."""
    if spec.tenant_id is None:
        require_admin(actor, "An endpoint for every tenant's events (no tenantId)")
    else:
        require_tenant(actor, spec.tenant_id)
    url, allow_private = await checked_url(deps, actor, spec.url)
    secret = new_secret()
    async with deps.store.transaction() as session:
        if spec.tenant_id is not None:
            await locks.tenant(session, spec.tenant_id)  # NOT_FOUND; two creates count in turn
            await _check_room(deps, session, spec.tenant_id)
        row = WebhookEndpointRow(
            id=new_id("whe"),
            url=url,
            events=spec.events,
            tenant_id=spec.tenant_id,
            secret=secret,
            description=spec.description or None,
            created_at=deps.clock.now(),
            allow_private=allow_private,
        )
        session.add(row)
    return row, secret


async def _check_room(deps: Deps, session: AsyncSession, tenant_id: str) -> None:
    """Every endpoint costs the gateway a delivery per event, sent from capacity all
    tenants share: a tenant may have ``max_endpoints_per_tenant`` (the operator's
    GATEWAY_MAX_WEBHOOK_ENDPOINTS_PER_TENANT). Counted under the tenant's lock."""
    limit = deps.policy.webhooks.max_endpoints_per_tenant
    count = await session.scalar(
        select(func.count()).select_from(WebhookEndpointRow).where(WebhookEndpointRow.tenant_id == tenant_id)
    )
    if (count or 0) >= limit:
        raise ValidationFailed(
            "input.tenantId",
            f"the tenant has {count} webhook endpoints, the most it may have is {limit}; delete one "
            "(deleteWebhookEndpoint) or subscribe an existing one to more event types",
        )


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
    deliveries; they go once it is enabled again. A new URL is checked as at
    registration (by the key changing it), and a new URL or enabling it again closes
    its circuit: whoever did it expects it to answer now."""
    checked = None
    if spec.url is not None:
        async with deps.store.read() as session:  # someone else's endpoint: NOT_FOUND first
            await _endpoint(session, actor, endpoint_id)
        checked = await checked_url(deps, actor, spec.url)
    async with deps.store.transaction() as session:
        row = await _endpoint(session, actor, endpoint_id, lock=True)
        if checked is not None:
            row.url, row.allow_private = checked
            _close_circuit(row)
        if spec.events is not None:
            row.events = spec.events
        if spec.description is not None:
            row.description = spec.description or None
        if spec.enabled is not None:
            row.disabled = not spec.enabled
            if spec.enabled:
                _close_circuit(row)
                work_queued(session, deps)
    return row


def _close_circuit(row: WebhookEndpointRow) -> None:
    row.consecutive_timeouts, row.paused_until = 0, None


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
        return Page(await _with_attempts(session, page.items), page.has_next_page, page.has_previous_page)


async def redeliver(deps: Deps, actor: Principal, delivery_id: str) -> DeliveryLog:
    """Send a delivery again now, whatever became of it, with a fresh retry schedule;
    its ``webhook-id`` stays the same, so a receiver that got it already can tell.
    Closes the endpoint's circuit, so "now" holds for a paused endpoint too (its
    endpoint is locked before it, in the order of ``platform.locks``)."""
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        found = await session.get(WebhookDeliveryRow, delivery_id)
        endpoint = None if found is None else await locks.webhook_endpoint(session, found.endpoint_id)
        row = None if endpoint is None else await locks.webhook_delivery(session, delivery_id)
        require_visible(row is not None and _visible(actor, endpoint), "WebhookDelivery", delivery_id)
        if endpoint.disabled:
            raise ValidationFailed(
                "deliveryId", "its endpoint is disabled; enable it with updateWebhookEndpoint first"
            )
        _close_circuit(endpoint)
        row.status, row.attempts = DeliveryStatus.PENDING, 0
        row.next_attempt_at = row.updated_at = now
        work_queued(session, deps)
        (log,) = await _with_attempts(session, [row])
    return log

"""Outbound webhooks: partner endpoints, the deliveries owed to them, and every attempt.

An event committed by a service is dispatched into one delivery per matching endpoint
(``dispatch_events``); a worker claims due deliveries under a lease
(``claim_due_deliveries``), POSTs them outside any transaction (``gateway.webhooks``)
and records how each attempt went (``record_attempt``), which schedules the next one
on the Standard Webhooks schedule or gives up. The HTTP call itself lives in
``gateway``; this module only decides what is owed and when.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
import socket
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import StringConstraints, field_validator
from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import DeliveryStatus
from models.kernel.errors import NotFound, ValidationFailed
from models.kernel.ids import new_id
from models.kernel.validation import Input
from models.platform.access import Principal, require_admin, require_tenant, require_visible
from models.platform.deps import Deps
from models.platform.events import EVENT_TYPES, Event
from models.platform.outbox import claim_rows, webhook_retry_delay, work_queued
from models.platform.pagination import Page, paginate
from models.platform.reads import rows_by_ids
from models.platform.store import ROW_LOCK
from models.tables import EventRow, TenantRow, WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # Standard Webhooks: 24 to 64 random bytes
MAX_TEXT = 1000  # what an attempt keeps of an error or a response body

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


def _event_types(value: list[str]) -> list[str]:
    valid = ", ".join(EVENT_TYPES)
    if not value:
        raise ValueError(f"must list at least one event type; use some of {valid}")
    unknown = [v for v in value if v not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"{', '.join(map(repr, unknown))} is not an event type; use some of {valid}")
    return list(dict.fromkeys(value))


class EndpointCreate(Input):
    url: Url
    events: list[str]
    tenant_id: str | None = None
    description: Description | None = None

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        return _event_types(value)


class EndpointUpdate(Input):
    url: Url | None = None
    events: list[str] | None = None
    description: Description | None = None
    enabled: bool | None = None

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _event_types(value)


def check_url(url: str, *, strict: bool, field: str = "input.url") -> str:
    """An absolute http(s) URL. ``strict`` (keys of a tenant, who must not make the
    gateway call into its own network): https only, and no loopback, private,
    link-local or otherwise non-public address literal, nor ``localhost``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValidationFailed(field, f"{url!r} is not a URL; use an absolute https:// URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationFailed(field, f"{url!r} is not an absolute http(s) URL; use e.g. https://example.com/hooks")
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed(
            field, "must not carry credentials (user:password@); receivers authenticate by the signature"
        )
    if not strict:
        return url
    if parts.scheme != "https":
        raise ValidationFailed(field, "must use https:// (plain http is for ADMIN keys only)")
    name = host.rstrip(".")
    if name == "localhost" or name.endswith(".localhost") or not _public_literal(name):
        raise ValidationFailed(field, f"{host!r} is not a public address; use a public host name")
    return url


def _public_literal(host: str) -> bool:
    """False for an address literal that is not globally routable (True for names)."""
    try:
        address: Any = ipaddress.ip_address(host)
    except ValueError:
        try:  # legacy IPv4 spellings resolvers accept: 2130706433, 0x7f.1, 127.1
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _visible(actor: Principal, endpoint: WebhookEndpointRow | None) -> bool:
    """All-tenant endpoints are the operator's; a tenant's are also its own key's."""
    if endpoint is None:
        return False
    return actor.is_admin or (endpoint.tenant_id is not None and actor.can_manage(endpoint.tenant_id))


async def create_endpoint(deps: Deps, actor: Principal, data: Any) -> tuple[WebhookEndpointRow, str]:
    """The endpoint and its signing secret, which cannot be read again."""
    spec: EndpointCreate = EndpointCreate.parse(data)
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
            id=new_id("whe"), url=url, events=spec.events, tenant_id=spec.tenant_id, secret=secret,
            description=spec.description or None, created_at=deps.clock.now(),
        )
        session.add(row)
    return row, secret


async def _endpoint(
    session: AsyncSession, actor: Principal, endpoint_id: str, **lock: Any
) -> WebhookEndpointRow:
    row = await session.get(WebhookEndpointRow, endpoint_id, **lock)
    require_visible(_visible(actor, row), "WebhookEndpoint", endpoint_id)
    return row


async def update_endpoint(deps: Deps, actor: Principal, endpoint_id: str, data: Any) -> WebhookEndpointRow:
    """Change what is left out as is. A disabled endpoint keeps its pending
    deliveries; they go once it is enabled again."""
    spec: EndpointUpdate = EndpointUpdate.parse(data)
    async with deps.store.transaction() as session:
        row = await _endpoint(session, actor, endpoint_id, with_for_update=True)
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
    """Delete the endpoint with its deliveries and their log. Lock order: the
    endpoint, then its deliveries (an attempt being recorded finishes first)."""
    async with deps.store.transaction() as session:
        row = await _endpoint(session, actor, endpoint_id, with_for_update=True)
        deliveries = select(WebhookDeliveryRow.id).where(WebhookDeliveryRow.endpoint_id == row.id)
        await session.execute(deliveries.with_for_update())
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
        query = (select(WebhookAttemptRow).where(WebhookAttemptRow.delivery_id.in_(ids))
                 .order_by(WebhookAttemptRow.attempt))
        for attempt in (await session.scalars(query)).all():
            attempts[attempt.delivery_id].append(attempt)
    return [DeliveryLog(d, attempts[d.id]) for d in deliveries]


async def list_deliveries(
    deps: Deps, actor: Principal, endpoint_id: str, first: int | None, after: str | None,
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
        row = await session.get(WebhookDeliveryRow, delivery_id, with_for_update=True)
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


async def dispatch_events(deps: Deps, limit: int = 500) -> int:
    """Turn undispatched events, oldest first, into one delivery per enabled endpoint
    that wants them (its tenant's or every tenant's, subscribed to the type), due now.
    Returns how many events it dispatched."""
    now = deps.clock.now()
    # Spelled as the partial index's predicate, so SQLite uses it too (not "dispatched = 0").
    query = (select(EventRow).where(text("NOT events.dispatched"))
             .order_by(EventRow.created_at, EventRow.id).limit(limit))
    async with deps.store.transaction() as session:
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        events = (await session.scalars(query)).all()
        if not events:
            return 0
        tenants = {e.tenant_id for e in events if e.tenant_id is not None}
        # KEY SHARE: an endpoint being deleted is waited for, then skipped.
        endpoints = (await session.scalars(
            select(WebhookEndpointRow)
            .where(~WebhookEndpointRow.disabled)
            .where(or_(WebhookEndpointRow.tenant_id.is_(None), WebhookEndpointRow.tenant_id.in_(tenants)))
            .with_for_update(**ROW_LOCK)
        )).all()
        for event in events:
            for endpoint in endpoints:
                if event.type in endpoint.events and endpoint.tenant_id in (None, event.tenant_id):
                    session.add(WebhookDeliveryRow(
                        id=new_id("msg"), endpoint_id=endpoint.id, event_id=event.id, event_type=event.type,
                        next_attempt_at=now, created_at=now, updated_at=now,
                    ))
        await session.execute(
            update(EventRow).where(EventRow.id.in_([e.id for e in events])).values(dispatched=True)
            .execution_options(synchronize_session=False)
        )
    return len(events)


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A claimed delivery and what sending it takes."""

    delivery: WebhookDeliveryRow
    url: str
    secret: str
    event: Event


async def claim_due_deliveries(deps: Deps, limit: int = 50) -> list[DueDelivery]:
    """Lease due deliveries of enabled endpoints, soonest due first."""
    now = deps.clock.now()
    query = (
        select(WebhookDeliveryRow.id)
        .join(WebhookEndpointRow, WebhookEndpointRow.id == WebhookDeliveryRow.endpoint_id)
        .where(WebhookDeliveryRow.status == DeliveryStatus.PENDING,
               WebhookDeliveryRow.next_attempt_at <= now, ~WebhookEndpointRow.disabled)
        .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
        .limit(limit)
    )
    async with deps.store.transaction() as session:
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=WebhookDeliveryRow)
        ids = (await session.scalars(query)).all()
        deliveries = await claim_rows(session, WebhookDeliveryRow, ids, now)
        if not deliveries:
            return []
        endpoints = await rows_by_ids(session, WebhookEndpointRow, [d.endpoint_id for d in deliveries])
        events = await rows_by_ids(session, EventRow, [d.event_id for d in deliveries])
    return [
        DueDelivery(d, endpoint.url, endpoint.secret, Event.from_row(event))
        for d, endpoint, event in zip(deliveries, endpoints, events, strict=True)
    ]


async def record_attempt(
    deps: Deps, delivery: WebhookDeliveryRow, status_code: int | None, error: str | None, duration_ms: int,
    response_body: str | None = None,
) -> DeliveryLog | None:
    """Log one attempt: a 2xx answer is SUCCEEDED; anything else (another status, no
    answer) is tried again after the schedule's next wait, or FAILED once it is
    spent. None if the delivery was deleted meanwhile. The returned log holds the
    new attempt only. Fenced by the claim: when the delivery was claimed again or
    redelivered meanwhile, the attempt is logged but the newer state stands."""
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        row = await session.get(WebhookDeliveryRow, delivery.id, with_for_update=True, populate_existing=True)
        if row is None:
            return None
        last = await session.scalar(
            select(func.max(WebhookAttemptRow.attempt)).where(WebhookAttemptRow.delivery_id == row.id)
        )
        attempt = WebhookAttemptRow(
            id=new_id("att"), delivery_id=row.id, attempt=(last or 0) + 1, at=now, status_code=status_code,
            error=error[:MAX_TEXT] if error else None,
            response_body=response_body[:MAX_TEXT] if response_body else None, duration_ms=duration_ms,
        )
        session.add(attempt)
        if row.status != DeliveryStatus.PENDING or row.attempts != delivery.attempts:
            pass  # another claim (or a redeliver) owns what happens next
        elif status_code is not None and 200 <= status_code < 300:
            row.status = DeliveryStatus.SUCCEEDED
        elif (wait := webhook_retry_delay(row.attempts)) is None:
            row.status = DeliveryStatus.FAILED
        else:
            row.status, row.next_attempt_at = DeliveryStatus.PENDING, now + wait
        row.updated_at = now
    return DeliveryLog(row, [attempt])

"""Live GraphQL subscriptions (`graphql-transport-ws` on /graphql): the tenant's
events as they commit, in whichever worker process they happen.

Access is checked twice. At subscribe time a key that may not see the tenant gets
NOT_FOUND (an `error` message, as a query would) and nothing else. Then, before each
event is yielded, the socket's key is authenticated again (``Context.refresh``, which
also gives the event fresh DataLoaders, so `seats` and `invoice` are read anew, never
from an earlier event's cache): a key revoked while subscribed ends the subscription
with UNAUTHENTICATED at the next event and receives nothing more. That costs one
indexed key lookup per event, no more than the event's own reads.

A client that falls a thousand events behind is dropped rather than slowing the
publisher: its stream completes after the events already queued; subscribe again
and refetch. Events begin when the server has joined the hub (graphql-transport-ws
has no subscribe acknowledgement); what commits from then on is delivered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import strawberry

from models.invoicing import service as invoices
from models.kernel.enums import EventType, Role
from models.kernel.errors import Unauthenticated, ValidationFailed
from models.platform.access import Principal, require_visible
from models.platform.events import Event, Holder, Holdings
from models.subscriptions import service as subscriptions
from models.tenants import service as tenants
from resolvers.invoicing.types import Invoice
from resolvers.live.types import (
    EntitlementsChanged,
    InvoiceEvent,
    SeatsChanged,
    SubscriptionEvent,
    UsageRecordedEvent,
)
from resolvers.shared.context import Info
from resolvers.shared.loaders import Loaders
from resolvers.subscriptions.types import Subscription

T = TypeVar("T")
# Each event costs every subscription a key check and the event's reads, so they are
# counted per process (Strawberry also caps 100 per socket):
# - a tenant's own TENANT and PARTNER keys hold at most MAX_PER_TENANT of its subscriptions,
# - its PARTNER keys together at most PARTNER_SHARE of them, so an integration can never
#   shut the tenant's own keys out,
# - one key at most MAX_PER_KEY, whatever the tenants (an ADMIN key MAX_PER_ADMIN_KEY);
# - ADMIN subscriptions do not count against a tenant's share: staff are never shut out.
MAX_PER_TENANT = 200
PARTNER_SHARE = MAX_PER_TENANT // 2
MAX_PER_KEY = 50
MAX_PER_ADMIN_KEY = 1000
Access = Callable[[Principal, str], bool]

SEATS = frozenset({EventType.SEATS_CHANGED})
USAGE = frozenset({EventType.USAGE_RECORDED})
ENTITLEMENTS = frozenset({EventType.ENTITLEMENTS_CHANGED})
INVOICES = frozenset(
    t.value
    for t in (
        EventType.INVOICE_CREATED,
        EventType.INVOICE_PAID,
        EventType.INVOICE_PAYMENT_FAILED,
        EventType.INVOICE_OVERDUE,
        EventType.INVOICE_VOIDED,
        EventType.CREDIT_NOTE_CREATED,  # names the invoice it credits
    )
)
# Every event of a subscription's life (renewals, plan changes, trials, dunning, pauses).
SUBSCRIPTIONS = frozenset(t.value for t in EventType if t.value.startswith("subscription."))


def _manages(principal: Principal, tenant_id: str) -> bool:
    return principal.can_manage(tenant_id)


def _meters(principal: Principal, tenant_id: str) -> bool:
    return principal.can_meter(tenant_id)


@strawberry.type
class LiveSubscriptions:
    @strawberry.subscription(
        description="The tenant's seats, each time they change. ADMIN or the tenant's key."
    )
    async def seats_changed(self, info: Info, tenant_id: strawberry.ID) -> AsyncIterator[SeatsChanged]:
        events = await _open(info, str(tenant_id), SEATS, _manages)
        return _LiveStream(info, str(tenant_id), events, _manages, _sync(SeatsChanged.of))

    @strawberry.subscription(
        description="Usage accepted for the tenant, per call. ADMIN, the tenant's key or its PARTNER key."
    )
    async def usage_recorded(self, info: Info, tenant_id: strawberry.ID) -> AsyncIterator[UsageRecordedEvent]:
        events = await _open(info, str(tenant_id), USAGE, _meters)
        return _LiveStream(info, str(tenant_id), events, _meters, _sync(UsageRecordedEvent.of))

    @strawberry.subscription(
        description="The tenant's invoices as they are created, paid, fail to be paid, go overdue, are "
        "voided or credited (credit_note.created, with the invoice credited). ADMIN or the tenant's key."
    )
    async def invoice_events(self, info: Info, tenant_id: strawberry.ID) -> AsyncIterator[InvoiceEvent]:
        events = await _open(info, str(tenant_id), INVOICES, _manages)

        async def build(event: Event) -> InvoiceEvent:
            ctx = info.context
            row = await invoices.get_invoice(ctx.deps, ctx.actor, str(event.data["invoiceId"]))
            return InvoiceEvent(
                id=strawberry.ID(event.id), type=event.type, at=event.at, invoice=Invoice.from_row(row)
            )

        return _LiveStream(info, str(tenant_id), events, _manages, build)

    @strawberry.subscription(
        description="The tenant's subscription, at each event of its life: subscription.active, .renewed, "
        ".plan_changed, .cancelled, .trial_will_end, .past_due, .unpaid, .recovered, .paused, .resumed. "
        "ADMIN or the tenant's key."
    )
    async def subscription_events(
        self, info: Info, tenant_id: strawberry.ID
    ) -> AsyncIterator[SubscriptionEvent]:
        events = await _open(info, str(tenant_id), SUBSCRIPTIONS, _manages)

        async def build(event: Event) -> SubscriptionEvent:
            ctx = info.context
            row = await subscriptions.get_subscription(ctx.deps, ctx.actor, str(event.data["subscriptionId"]))
            return SubscriptionEvent(
                id=strawberry.ID(event.id),
                type=event.type,
                at=event.at,
                subscription=Subscription.from_row(row),
            )

        return _LiveStream(info, str(tenant_id), events, _manages, build)

    @strawberry.subscription(
        description="The tenant's entitlements, each time something moves them (within a second of the "
        "change's commit). ADMIN, the tenant's key or its PARTNER key."
    )
    async def entitlements_changed(
        self, info: Info, tenant_id: strawberry.ID
    ) -> AsyncIterator[EntitlementsChanged]:
        events = await _open(info, str(tenant_id), ENTITLEMENTS, _meters)
        return _LiveStream(info, str(tenant_id), events, _meters, _sync(EntitlementsChanged.of))


async def _open(info: Info, tenant_id: str, types: frozenset[str], may_see: Access) -> AsyncIterator[Event]:
    """Join the bus first, then check access: an event committed while we check is
    still queued for us, and a refusal leaves nothing subscribed."""
    ctx = info.context
    if ctx.deps.bus is None:
        raise RuntimeError("live subscriptions need the app's event hub (Deps.bus)")
    actor = ctx.actor
    holder = Holder(actor.role, actor.api_key_id)
    events = ctx.deps.bus.subscribe(tenant_id, types, holder)
    try:
        require_visible(may_see(actor, tenant_id), "Tenant", tenant_id)
        # Counted before anything awaits, so subscriptions opened together are counted
        # in the order they joined (this one counts too).
        refusal = over_quota(holder, ctx.deps.bus.holdings(tenant_id, holder))
        if refusal is not None:
            raise ValidationFailed(
                "tenantId",
                f"{refusal} on this server; complete some before opening more (one per screen is plenty: "
                "each event is read once per subscription)",
            )
        if actor.can_manage(tenant_id):  # a PARTNER key's own tenant exists: it holds the key
            await tenants.get_tenant(ctx.deps, actor, tenant_id)
    except BaseException:
        await _close(events)
        raise
    return events


def over_quota(holder: Holder, held: Holdings) -> str | None:
    """Why the subscription just joined (counted in ``held``) is one too many, or None."""
    if holder.role is Role.ADMIN:
        if held.by_key > MAX_PER_ADMIN_KEY:
            return f"this key already holds {MAX_PER_ADMIN_KEY} live subscriptions"
        return None
    if held.by_key > MAX_PER_KEY:
        return f"this key already holds {MAX_PER_KEY} live subscriptions"
    partners = held.by_role.get(Role.PARTNER, 0)
    if holder.role is Role.PARTNER and partners > PARTNER_SHARE:
        return f"this tenant's PARTNER keys already hold {PARTNER_SHARE} live subscriptions, their share"
    if partners + held.by_role.get(Role.TENANT, 0) > MAX_PER_TENANT:
        return f"this tenant's keys already hold {MAX_PER_TENANT} live subscriptions"
    return None


class _LiveStream(AsyncIterator[T]):
    """Each event, re-checked and built; closing it (the client's `complete`, a closed
    socket) leaves the bus at once, even before the first event (a generator would not)."""

    def __init__(
        self,
        info: Info,
        tenant_id: str,
        events: AsyncIterator[Event],
        may_see: Access,
        build: Callable[[Event], Awaitable[T]],
    ) -> None:
        self.info, self.tenant_id, self.events, self.may_see, self.build = (
            info,
            tenant_id,
            events,
            may_see,
            build,
        )

    async def __anext__(self) -> T:
        try:
            event = await self.events.__anext__()
            await _recheck(self.info, self.tenant_id, self.may_see)
            return await self.build(event)
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        await _close(self.events)


async def _recheck(info: Info, tenant_id: str, may_see: Access) -> None:
    """Authenticate the socket's key again and start the event's DataLoaders empty."""
    ctx = info.context
    if ctx.refresh is not None:
        await ctx.refresh(ctx)
    else:
        ctx.loaders = Loaders(ctx.deps)
    if ctx.principal is None:
        raise Unauthenticated(ctx.auth_problem)
    require_visible(may_see(ctx.principal, tenant_id), "Tenant", tenant_id)


def _sync(of: Callable[[Event], T]) -> Callable[[Event], Awaitable[T]]:
    async def build(event: Event) -> T:
        return of(event)

    return build


async def _close(events: Any) -> None:
    close = getattr(events, "aclose", None)
    if close is not None:
        await close()

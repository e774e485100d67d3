"""What every use case is given: the store, the process clock, the operator's policy
and the name resolver; and inserting a row whose name must be unique."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from models.kernel.clock import Clock, SystemClock
from models.kernel.errors import ValidationFailed
from models.platform.store import Store

if TYPE_CHECKING:
    from models.platform.events import EventBus
    from models.platform.provider import PaymentProvider


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    """What an operator allows outbound webhooks (``gateway.settings``)."""

    # ADMIN keys may register endpoints on loopback or private addresses (tests,
    # on-premise receivers); TENANT keys never may (GATEWAY_WEBHOOKS_ALLOW_PRIVATE).
    allow_private: bool = False
    # How many endpoints one tenant may have (GATEWAY_MAX_WEBHOOK_ENDPOINTS_PER_TENANT):
    # each one is a delivery per event, sent from the gateway's own capacity.
    max_endpoints_per_tenant: int = 20


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """How entitlement tokens are signed (``gateway.settings``)."""

    # How long a token is valid (GATEWAY_ENTITLEMENT_TOKEN_SECONDS); a retired signing key
    # stays published this long after it stops signing.
    lifetime: timedelta = timedelta(minutes=5)
    issuer: str = "billing-gateway"  # the tokens' `iss` (GATEWAY_ENTITLEMENT_TOKEN_ISSUER)
    # The key-encryption key that seals signing keys in the database: 32 bytes
    # (GATEWAY_SECRET_KEY), else read from, or made in, ``secret_key_file``
    # (GATEWAY_SECRET_KEY_FILE; None: beside the SQLite database, or in the working directory).
    secret_key: bytes | None = field(default=None, repr=False)
    secret_key_file: str | None = None


@dataclass(frozen=True, slots=True)
class PortalPolicy:
    """How customer billing portal sessions work (``gateway.settings``, models/portal)."""

    link_lifetime: timedelta = timedelta(minutes=5)  # GATEWAY_PORTAL_LINK_SECONDS
    idle_timeout: timedelta = timedelta(hours=1)  # GATEWAY_PORTAL_SESSION_IDLE_SECONDS
    max_lifetime: timedelta = timedelta(hours=12)  # GATEWAY_PORTAL_SESSION_MAX_SECONDS
    # returnUrl may be http on a loopback host (GATEWAY_PORTAL_ALLOW_LOOPBACK_RETURN).
    allow_loopback_return: bool = False
    # Where links point (GATEWAY_PUBLIC_URL); None: the URL the request came in on.
    public_url: str | None = None


@dataclass(frozen=True, slots=True)
class BillingPolicy:
    """What an operator sets (``gateway.settings``): how the billing clock runs, and
    what outbound webhooks may do. (One policy object, so every place that builds
    ``Deps`` from the settings hands the domain all of it.)"""

    # A renewal's usage is billed this long after its period ends, so usage reported a
    # little late still lands on the period's own invoice (GATEWAY_USAGE_GRACE_SECONDS).
    usage_grace: timedelta = timedelta(hours=1)
    # A PAST_DUE subscription's entitlements hold this long after it became past due
    # (GATEWAY_PAST_DUE_GRACE_DAYS): the customer keeps working while payment is retried.
    past_due_grace: timedelta = timedelta(days=14)
    # After a failed automatic charge, the days (counted from the failure, then from each
    # failed retry) before the charge is tried again; none past the last (GATEWAY_DUNNING_RETRY_DAYS).
    dunning_retry_days: tuple[int, ...] = (3, 5, 7)
    webhooks: WebhookPolicy = field(default_factory=WebhookPolicy)
    tokens: TokenPolicy = field(default_factory=TokenPolicy)
    portal: PortalPolicy = field(default_factory=PortalPolicy)


class Resolver(Protocol):
    """A host name's addresses (IP strings, in the order to try them). Raises OSError
    (or times out) when it does not resolve. Injected so tests decide what names mean."""

    async def __call__(self, host: str) -> list[str]: ...


RESOLVE_SECONDS = 5.0


async def system_resolver(host: str) -> list[str]:
    """The operating system's resolver (the event loop's getaddrinfo, in a thread)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(RESOLVE_SECONDS):
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class Deps:
    """``provider``: the payment rail (None: ``local``, nothing leaves the gateway).
    ``bus``: hears of events once they commit (live subscriptions, the outbox worker).
    ``policy``: the operator's settings. ``resolver``: what host names resolve to
    (outbound webhooks check every address before they connect to it)."""

    store: Store
    clock: Clock = field(default_factory=SystemClock)
    provider: PaymentProvider | None = None
    bus: EventBus | None = None
    policy: BillingPolicy = field(default_factory=BillingPolicy)
    resolver: Resolver = system_resolver

    @property
    def mirrors(self) -> bool:
        """Whether tenants and invoices are mirrored to a payment provider."""
        return self.provider is not None and self.provider.mirrors


Row = TypeVar("Row", bound=SQLModel)


async def insert_unique(deps: Deps, row: Row, field: str, taken: str) -> Row:
    """Insert ``row`` in its own transaction; when a unique column is taken (even a
    moment ago, by a concurrent request) it is a VALIDATION_FAILED on ``field`` saying
    ``taken``."""
    try:
        async with deps.store.transaction() as session, session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise ValidationFailed(field, taken) from None
    return row

"""What every use case is given: the store and the process clock; and inserting a
row whose name must be unique."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from models.kernel.clock import Clock, SystemClock
from models.kernel.errors import ValidationFailed
from models.platform.store import Store

if TYPE_CHECKING:
    from models.platform.events import EventBus
    from models.platform.provider import PaymentProvider


@dataclass(frozen=True, slots=True)
class BillingPolicy:
    """How the billing clock runs: what an operator sets (``gateway.settings``)."""

    # A renewal's usage is billed this long after its period ends, so usage reported a
    # little late still lands on the period's own invoice (GATEWAY_USAGE_GRACE_SECONDS).
    usage_grace: timedelta = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Deps:
    """``provider``: the payment rail (None: ``local``, nothing leaves the gateway).
    ``bus``: hears of events once they commit (live subscriptions, the outbox worker).
    ``policy``: the operator's billing settings."""

    store: Store
    clock: Clock = field(default_factory=SystemClock)
    provider: PaymentProvider | None = None
    bus: EventBus | None = None
    policy: BillingPolicy = field(default_factory=BillingPolicy)

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

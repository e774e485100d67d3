"""The pure rules of a subscription's life: when its period is over, and which status
may follow which. ``lifecycle`` makes every transition through ``check_transition``."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from models.kernel.enums import SubscriptionStatus

ACTIVE, PAST_DUE, CANCELLED = (
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.CANCELLED,
)

# Which status may follow which. CANCELLED is final: a tenant subscribes again instead.
TRANSITIONS: dict[SubscriptionStatus, frozenset[SubscriptionStatus]] = {
    ACTIVE: frozenset({PAST_DUE, CANCELLED}),
    PAST_DUE: frozenset({ACTIVE, CANCELLED}),
    CANCELLED: frozenset(),
}


class InvalidTransition(ValueError):
    """A transition the state machine does not allow: a bug in the caller, never input."""


class Period(Protocol):
    @property
    def status(self) -> SubscriptionStatus: ...

    @property
    def current_period_end(self) -> datetime: ...


def is_due(subscription: Period, now: datetime) -> bool:
    """Whether the subscription's period is over and not yet renewed."""
    return subscription.status is not CANCELLED and subscription.current_period_end <= now


def check_transition(current: SubscriptionStatus, target: SubscriptionStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(f"a {current} subscription cannot become {target}")

"""The pure rules of a subscription's life: when its period is over, and which status
may follow which. ``lifecycle`` makes every transition through ``check_transition``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from models.kernel.enums import SubscriptionStatus

TRIALING, ACTIVE, PAST_DUE, UNPAID, PAUSED, CANCELLED = (
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.UNPAID,
    SubscriptionStatus.PAUSED,
    SubscriptionStatus.CANCELLED,
)

# Which status may follow which. CANCELLED is final: a tenant subscribes again instead.
# TRIALING ends in ACTIVE (its first invoice); ACTIVE goes PAST_DUE when an invoice is not
# paid in time, UNPAID when the grace after that passes, and back to ACTIVE when what is
# overdue is paid; only an ACTIVE subscription pauses, and it resumes ACTIVE.
TRANSITIONS: dict[SubscriptionStatus, frozenset[SubscriptionStatus]] = {
    TRIALING: frozenset({ACTIVE, CANCELLED}),
    ACTIVE: frozenset({PAST_DUE, PAUSED, CANCELLED}),
    PAST_DUE: frozenset({ACTIVE, UNPAID, CANCELLED}),
    UNPAID: frozenset({ACTIVE, CANCELLED}),
    PAUSED: frozenset({ACTIVE, CANCELLED}),
    CANCELLED: frozenset(),
}
# The statuses whose periods renew (and are invoiced) at their end. A trial's "period" is
# the trial; a paused subscription has none.
RENEWING = frozenset({ACTIVE, PAST_DUE, UNPAID})
# How long before a trial's end subscription.trial_will_end is sent.
TRIAL_REMINDER = timedelta(days=3)


class InvalidTransition(ValueError):
    """A transition the state machine does not allow: a bug in the caller, never input."""


class Period(Protocol):
    @property
    def status(self) -> SubscriptionStatus: ...

    @property
    def current_period_end(self) -> datetime: ...


def is_due(subscription: Period, now: datetime) -> bool:
    """Whether the subscription's period is over and not yet renewed."""
    return subscription.status in RENEWING and subscription.current_period_end <= now


def check_transition(current: SubscriptionStatus, target: SubscriptionStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(f"a {current} subscription cannot become {target}")

"""What a tenant (or one of its members) may do with a feature, from what its plan and
add-ons grant, its subscription's standing and what it used. Pure: no I/O.

The reasons, in the order they are looked at (the first that applies is the answer):
SUBSCRIPTION_INACTIVE when there is no live subscription; NOT_IN_PLAN when neither the
plan nor an add-on grants the feature; SUBSCRIPTION_INACTIVE when the subscription's
standing grants nothing (only TRIALING, ACTIVE and PAST_DUE within its grace do);
SEAT_TYPE_EXCLUDED when the member's seat type is outside every grant; LIMIT_REACHED
when a BLOCK limit is used up.

Usage is counted in millionths of a unit (as meters keep it): ``used`` shows whole units
rounded up, ``remaining`` whole units rounded down, so neither ever promises more than
is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from models.kernel.enums import EntitlementReason, FeatureKind, Overage, SeatType, SubscriptionStatus

MICROS = 1_000_000
THRESHOLDS = (80, 100)  # percent of a METERED limit announced once per period
GRANTING = frozenset({SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE})


@dataclass(frozen=True, slots=True)
class Grant:
    """One plan's or add-on's grant; ``units`` is how many the subscription has (1 for
    its plan, the quantity for an add-on): a limit counts once per unit."""

    limit_units: int | None  # None: unlimited
    overage: Overage
    seat_types: frozenset[SeatType] | None  # None: every seat type
    units: int = 1

    def covers(self, seat_type: SeatType) -> bool:
        return self.seat_types is None or seat_type in self.seat_types


@dataclass(frozen=True, slots=True)
class Standing:
    """The live subscription's status, when it became PAST_DUE, and the grace after."""

    status: SubscriptionStatus
    past_due_at: datetime | None
    grace: timedelta

    def grants(self, now: datetime) -> bool:
        if self.status in GRANTING:
            return True
        if self.status is SubscriptionStatus.PAST_DUE:
            return self.past_due_at is None or now < self.past_due_at + self.grace
        return False


@dataclass(frozen=True, slots=True)
class Entitlement:
    feature_code: str
    kind: FeatureKind
    enabled: bool
    reason: EntitlementReason | None
    limit: int | None = None  # units; None: no limit (BOOLEAN, unlimited, or not granted)
    used_micros: int | None = None  # None for BOOLEAN
    overage: Overage | None = None
    resets_at: datetime | None = None  # METERED: when the billing period, and its count, ends

    @property
    def used(self) -> int | None:
        return None if self.used_micros is None else -(-self.used_micros // MICROS)

    @property
    def remaining(self) -> int | None:
        if self.limit is None or self.used_micros is None:
            return None
        return max(self.limit * MICROS - self.used_micros, 0) // MICROS

    def admits(self, amount_micros: int) -> bool:
        """Whether consuming ``amount_micros`` more stays within a BLOCK limit."""
        if self.limit is None or self.overage is Overage.ALLOW:
            return True
        return (self.used_micros or 0) + amount_micros <= self.limit * MICROS


def total_limit(kind: FeatureKind, grants: Sequence[Grant]) -> int | None:
    """The limit the grants add up to: the plan's, plus each add-on's times its units;
    unlimited if any grant is. BOOLEAN features have none."""
    if kind is FeatureKind.BOOLEAN or any(g.limit_units is None for g in grants):
        return None
    return sum((g.limit_units or 0) * g.units for g in grants)


def decide(
    code: str,
    kind: FeatureKind,
    grants: Sequence[Grant],
    standing: Standing | None,
    now: datetime,
    *,
    seat_type: SeatType | None = None,
    used_micros: int = 0,
    resets_at: datetime | None = None,
) -> Entitlement:
    """The entitlement to one feature. ``standing`` None: no live subscription.
    ``seat_type``: the member asked about (None: the tenant as a whole)."""
    used = None if kind is FeatureKind.BOOLEAN else used_micros
    resets = resets_at if kind is FeatureKind.METERED else None
    if standing is None:
        return Entitlement(code, kind, False, EntitlementReason.SUBSCRIPTION_INACTIVE, used_micros=used)
    if not grants:
        return Entitlement(code, kind, False, EntitlementReason.NOT_IN_PLAN, used_micros=used)
    limit = total_limit(kind, grants)
    overage = None if kind is FeatureKind.BOOLEAN else _overage(grants)
    state = Entitlement(code, kind, True, None, limit, used, overage, resets)

    def refused(reason: EntitlementReason) -> Entitlement:
        return Entitlement(code, kind, False, reason, limit, used, overage, resets)

    if not standing.grants(now):
        return refused(EntitlementReason.SUBSCRIPTION_INACTIVE)
    if seat_type is not None and not any(g.covers(seat_type) for g in grants):
        return refused(EntitlementReason.SEAT_TYPE_EXCLUDED)
    if limit is not None and overage is Overage.BLOCK and used_micros >= limit * MICROS:
        return refused(EntitlementReason.LIMIT_REACHED)
    return state


def _overage(grants: Sequence[Grant]) -> Overage:
    """ALLOW when any grant allows going past the limit (an add-on may), else BLOCK."""
    return Overage.ALLOW if any(g.overage is Overage.ALLOW for g in grants) else Overage.BLOCK


def thresholds_reached(limit: int | None, used_micros: int) -> list[int]:
    """The percentages of ``limit`` (THRESHOLDS) that ``used_micros`` has reached."""
    if not limit:
        return []
    return [p for p in THRESHOLDS if used_micros * 100 >= p * limit * MICROS]

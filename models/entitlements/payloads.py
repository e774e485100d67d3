"""What the entitlement events say (webhooks deliver it as their ``data``)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from models.entitlements.rules import Entitlement
from models.kernel.enums import EntitlementReason, EventType, FeatureKind, Overage
from models.platform.payloads import EventPayload, Instant


class EntitlementData(BaseModel):
    """One feature's entitlement as the API's ``Entitlement`` type shows it."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    feature_code: str
    kind: FeatureKind
    enabled: bool
    reason: EntitlementReason | None
    limit: int | None
    used: int | None
    remaining: int | None
    overage: Overage | None
    resets_at: Instant | None

    @classmethod
    def of(cls, entitlement: Entitlement) -> EntitlementData:
        return cls(
            feature_code=entitlement.feature_code,
            kind=entitlement.kind,
            enabled=entitlement.enabled,
            reason=entitlement.reason,
            limit=entitlement.limit,
            used=entitlement.used,
            remaining=entitlement.remaining,
            overage=entitlement.overage,
            resets_at=entitlement.resets_at,
        )


class EntitlementsChangedPayload(EventPayload):
    """Something that moves entitlements happened (``reason``: the event that did it, such
    as ``subscription.plan_changed``, or ``usage.limit_reached``); ``entitlements`` is
    every feature's as it stands after it."""

    type = EventType.ENTITLEMENTS_CHANGED

    reason: str
    entitlements: list[EntitlementData]

    @classmethod
    def of(
        cls, tenant_id: str, reason: str, entitlements: Sequence[Entitlement]
    ) -> EntitlementsChangedPayload:
        return cls(
            tenant_id=tenant_id, reason=reason, entitlements=[EntitlementData.of(e) for e in entitlements]
        )


class UsageThresholdReachedPayload(EventPayload):
    """A METERED feature's usage reached ``percent`` (80 or 100) of its limit in the
    billing period [periodStart, periodEnd): sent once per threshold and period."""

    type = EventType.USAGE_THRESHOLD_REACHED

    feature_code: str
    meter_name: str
    percent: int
    limit: int
    used: int
    period_start: Instant
    period_end: Instant

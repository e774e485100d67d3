"""Features, what plans and add-ons grant of them, what tenants consumed, and the keys
that sign entitlement tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from models.kernel.enums import FeatureKind, Overage, SeatType
from models.tables.base import EnumText, ModelJSON, UTCDateTime

ACTIVE_GRANT = "revoked_at IS NULL"


class FeatureRow(SQLModel, table=True):
    """Something a tenant may do: on/off (BOOLEAN), up to a number (LIMIT), or up to a
    meter's usage in the billing period (METERED, on ``meter_id``)."""

    __tablename__ = "features"
    __table_args__ = (
        CheckConstraint("kind IN ('BOOLEAN', 'LIMIT', 'METERED')", name="kind"),
        CheckConstraint("(kind = 'METERED') = (meter_id IS NOT NULL)", name="meter"),
    )

    id: str = Field(primary_key=True, max_length=40)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    kind: FeatureKind = Field(sa_type=EnumText(FeatureKind, 10))
    meter_id: str | None = Field(default=None, foreign_key="meters.id", index=True, max_length=40)
    archived_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class FeatureGrantRow(SQLModel, table=True):
    """A plan's or an add-on's grant of a feature. An add-on's limit counts once per unit
    bought. ``seat_types`` (None: every type) restricts it to members of those seat types.
    Granting again revokes the grant it replaces (kept, with ``revoked_at``)."""

    __tablename__ = "feature_grants"
    __table_args__ = (
        CheckConstraint("(plan_id IS NULL) <> (addon_id IS NULL)", name="grantor"),
        CheckConstraint("limit_units IS NULL OR limit_units >= 0", name="limit_units"),
        CheckConstraint("overage IN ('BLOCK', 'ALLOW')", name="overage"),
        Index(
            "uq_feature_grants_plan_active",
            "feature_id",
            "plan_id",
            unique=True,
            sqlite_where=text(f"plan_id IS NOT NULL AND {ACTIVE_GRANT}"),
            postgresql_where=text(f"plan_id IS NOT NULL AND {ACTIVE_GRANT}"),
        ),
        Index(
            "uq_feature_grants_addon_active",
            "feature_id",
            "addon_id",
            unique=True,
            sqlite_where=text(f"addon_id IS NOT NULL AND {ACTIVE_GRANT}"),
            postgresql_where=text(f"addon_id IS NOT NULL AND {ACTIVE_GRANT}"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    feature_id: str = Field(foreign_key="features.id", index=True, max_length=40)
    plan_id: str | None = Field(default=None, foreign_key="plans.id", index=True, max_length=40)
    addon_id: str | None = Field(default=None, foreign_key="addons.id", index=True, max_length=40)
    # None: unlimited (LIMIT and METERED); BOOLEAN grants have none.
    limit_units: int | None = Field(default=None, sa_type=BigInteger)
    overage: Overage = Field(default=Overage.BLOCK, sa_type=EnumText(Overage, 10))
    seat_types: list[SeatType] | None = Field(default=None, sa_type=ModelJSON(list[SeatType]))
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class FeatureUsageRow(SQLModel, table=True):
    """How much of a LIMIT feature a tenant holds (projects created minus deleted), in
    millionths of a unit; changed only by consumeEntitlement, under the tenant's lock."""

    __tablename__ = "feature_usage"
    __table_args__ = (CheckConstraint("used_micros >= 0", name="used_micros"),)

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=40)
    feature_id: str = Field(primary_key=True, foreign_key="features.id", max_length=40)
    used_micros: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ConsumptionRow(SQLModel, table=True):
    """One accepted consumeEntitlement, by its idempotency key: a retry replays it."""

    __tablename__ = "entitlement_consumptions"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=40)
    idempotency_key: str = Field(primary_key=True, max_length=200)
    feature_id: str = Field(foreign_key="features.id", max_length=40)
    amount_micros: int = Field(sa_type=BigInteger)
    at: datetime = Field(sa_type=UTCDateTime)


class UsageThresholdRow(SQLModel, table=True):
    """A METERED feature's usage reached ``percent`` of its limit in the period starting
    ``period_start``: usage.threshold_reached is sent once for each."""

    __tablename__ = "usage_thresholds"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=40)
    feature_id: str = Field(primary_key=True, foreign_key="features.id", max_length=40)
    period_start: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    percent: int = Field(primary_key=True)
    reached_at: datetime = Field(sa_type=UTCDateTime)


class SigningKeyRow(SQLModel, table=True):
    """A key that signs entitlement tokens. The newest unretired one signs; a retired one
    stays published (``/.well-known/jwks.json``) until ``unpublish_at``, when the last
    token it signed has expired. The private key is stored encrypted with the operator's
    key-encryption key (``models.entitlements.keys``; see the README)."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        # At most one key signs: two processes making the first key at once, or rotating at
        # once, cannot both leave theirs active (the loser retries and reads the winner's).
        Index(
            "uq_signing_keys_active",
            "algorithm",
            unique=True,
            sqlite_where=text("retired_at IS NULL"),
            postgresql_where=text("retired_at IS NULL"),
        ),
    )

    kid: str = Field(primary_key=True, max_length=64)
    algorithm: str = Field(max_length=16)
    public_jwk: dict[str, str] = Field(sa_type=ModelJSON(dict[str, str]))
    private_key: str = Field(max_length=4000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    unpublish_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

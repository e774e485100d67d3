"""entitlements: features, grants, consumption, thresholds, signing keys; subscription states

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

Features and what plans and add-ons grant of them; what tenants consumed of LIMIT
features and by which idempotency keys; the usage thresholds already announced per
period; the keys that sign entitlement tokens (at most one active). Audit entries of
catalog changes belong to no tenant. Subscriptions may be TRIALING, UNPAID or PAUSED
too, and remember when they became PAST_DUE (entitlements hold for a grace after).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

STATUSES_BEFORE = "status IN ('ACTIVE', 'PAST_DUE', 'CANCELLED')"
STATUSES = "status IN ('TRIALING', 'ACTIVE', 'PAST_DUE', 'UNPAID', 'PAUSED', 'CANCELLED')"
ACTIVE_GRANT = "revoked_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "features",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("meter_id", sa.String(length=40), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('BOOLEAN', 'LIMIT', 'METERED')", name=op.f("ck_features_kind")),
        sa.CheckConstraint("(kind = 'METERED') = (meter_id IS NOT NULL)", name=op.f("ck_features_meter")),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"], name=op.f("fk_features_meter_id_meters")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_features")),
        sa.UniqueConstraint("code", name=op.f("uq_features_code")),
    )
    op.create_index(op.f("ix_features_meter_id"), "features", ["meter_id"], unique=False)

    op.create_table(
        "feature_grants",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("feature_id", sa.String(length=40), nullable=False),
        sa.Column("plan_id", sa.String(length=40), nullable=True),
        sa.Column("addon_id", sa.String(length=40), nullable=True),
        sa.Column("limit_units", sa.BigInteger(), nullable=True),
        sa.Column("overage", sa.String(length=10), nullable=False),
        sa.Column("seat_types", sa.JSON(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(plan_id IS NULL) <> (addon_id IS NULL)", name=op.f("ck_feature_grants_grantor")),
        sa.CheckConstraint(
            "limit_units IS NULL OR limit_units >= 0", name=op.f("ck_feature_grants_limit_units")
        ),
        sa.CheckConstraint("overage IN ('BLOCK', 'ALLOW')", name=op.f("ck_feature_grants_overage")),
        sa.ForeignKeyConstraint(
            ["addon_id"], ["addons.id"], name=op.f("fk_feature_grants_addon_id_addons")
        ),
        sa.ForeignKeyConstraint(
            ["feature_id"], ["features.id"], name=op.f("fk_feature_grants_feature_id_features")
        ),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_feature_grants_plan_id_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_grants")),
    )
    op.create_index(op.f("ix_feature_grants_addon_id"), "feature_grants", ["addon_id"], unique=False)
    op.create_index(op.f("ix_feature_grants_feature_id"), "feature_grants", ["feature_id"], unique=False)
    op.create_index(op.f("ix_feature_grants_plan_id"), "feature_grants", ["plan_id"], unique=False)
    for grantor in ("plan", "addon"):
        where = sa.text(f"{grantor}_id IS NOT NULL AND {ACTIVE_GRANT}")
        op.create_index(
            f"uq_feature_grants_{grantor}_active",
            "feature_grants",
            ["feature_id", f"{grantor}_id"],
            unique=True,
            sqlite_where=where,
            postgresql_where=where,
        )

    op.create_table(
        "feature_usage",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("feature_id", sa.String(length=40), nullable=False),
        sa.Column("used_micros", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("used_micros >= 0", name=op.f("ck_feature_usage_used_micros")),
        sa.ForeignKeyConstraint(
            ["feature_id"], ["features.id"], name=op.f("fk_feature_usage_feature_id_features")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_feature_usage_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("tenant_id", "feature_id", name=op.f("pk_feature_usage")),
    )
    op.create_table(
        "entitlement_consumptions",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("feature_id", sa.String(length=40), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_id"], ["features.id"], name=op.f("fk_entitlement_consumptions_feature_id_features")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_entitlement_consumptions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "idempotency_key", name=op.f("pk_entitlement_consumptions")),
    )
    op.create_table(
        "usage_thresholds",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("feature_id", sa.String(length=40), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_id"], ["features.id"], name=op.f("fk_usage_thresholds_feature_id_features")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_usage_thresholds_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "feature_id", "period_start", "percent", name=op.f("pk_usage_thresholds")
        ),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("private_key", sa.String(length=4000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unpublish_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_index(
        "uq_signing_keys_active",
        "signing_keys",
        ["algorithm"],
        unique=True,
        sqlite_where=sa.text("retired_at IS NULL"),
        postgresql_where=sa.text("retired_at IS NULL"),
    )

    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.alter_column("tenant_id", existing_type=sa.String(length=40), nullable=True)
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("past_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f("ck_subscriptions_status"), type_="check")
        batch_op.create_check_constraint("status", STATUSES)


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_subscriptions_status"), type_="check")
        batch_op.create_check_constraint("status", STATUSES_BEFORE)
        batch_op.drop_column("past_due_at")
    op.execute("DELETE FROM audit_entries WHERE tenant_id IS NULL")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.alter_column("tenant_id", existing_type=sa.String(length=40), nullable=False)
    op.drop_index("uq_signing_keys_active", table_name="signing_keys")
    op.drop_table("signing_keys")
    op.drop_table("usage_thresholds")
    op.drop_table("entitlement_consumptions")
    op.drop_table("feature_usage")
    for grantor in ("addon", "plan"):
        op.drop_index(f"uq_feature_grants_{grantor}_active", table_name="feature_grants")
    op.drop_index(op.f("ix_feature_grants_plan_id"), table_name="feature_grants")
    op.drop_index(op.f("ix_feature_grants_feature_id"), table_name="feature_grants")
    op.drop_index(op.f("ix_feature_grants_addon_id"), table_name="feature_grants")
    op.drop_table("feature_grants")
    op.drop_index(op.f("ix_features_meter_id"), table_name="features")
    op.drop_table("features")

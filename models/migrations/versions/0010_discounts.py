"""discounts: coupons and the discounts they give

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Coupons take a percentage (thousandths of a percent) or an amount off; a discount is a
coupon redeemed on a subscription (one live per subscription, every redemption kept).
Invoice lines admit the DISCOUNT kind.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

KINDS = "kind IN ('BASE', 'ADDON', 'USAGE', 'PRORATION', 'CREDIT', 'DISCOUNT')"
KINDS_BEFORE = "kind IN ('BASE', 'ADDON', 'USAGE', 'PRORATION', 'CREDIT')"
LIVE = "ended_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "coupons",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("percent_off", sa.Integer(), nullable=True),
        sa.Column("amount_off", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("duration", sa.String(length=10), nullable=False),
        sa.Column("duration_in_periods", sa.Integer(), nullable=True),
        sa.Column("applies_to", sa.JSON(), nullable=True),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("times_redeemed", sa.Integer(), nullable=False),
        sa.Column("redeem_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(percent_off IS NOT NULL AND amount_off IS NULL AND currency IS NULL) OR "
            "(percent_off IS NULL AND amount_off IS NOT NULL AND currency IS NOT NULL)",
            name=op.f("ck_coupons_off"),
        ),
        sa.CheckConstraint(
            "percent_off IS NULL OR (percent_off > 0 AND percent_off <= 100000)", name=op.f("ck_coupons_percent")
        ),
        sa.CheckConstraint("amount_off IS NULL OR amount_off > 0", name=op.f("ck_coupons_amount")),
        sa.CheckConstraint("duration IN ('ONCE', 'REPEATING', 'FOREVER')", name=op.f("ck_coupons_duration")),
        sa.CheckConstraint(
            "(duration = 'REPEATING') = (duration_in_periods IS NOT NULL)",
            name=op.f("ck_coupons_duration_in_periods"),
        ),
        sa.CheckConstraint(
            "times_redeemed >= 0 AND (max_redemptions IS NULL OR times_redeemed <= max_redemptions)",
            name=op.f("ck_coupons_redemptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("code", name=op.f("uq_coupons_code")),
    )
    op.create_table(
        "discounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("coupon_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("periods_left", sa.Integer(), nullable=True),
        sa.Column("invoices", sa.Integer(), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("periods_left IS NULL OR periods_left >= 0", name=op.f("ck_discounts_periods_left")),
        sa.ForeignKeyConstraint(["coupon_id"], ["coupons.id"], name=op.f("fk_discounts_coupon_id_coupons")),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"], name=op.f("fk_discounts_subscription_id_subscriptions")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_discounts_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discounts")),
    )
    op.create_index(op.f("ix_discounts_coupon_id"), "discounts", ["coupon_id"], unique=False)
    op.create_index(
        "uq_discounts_subscription_id_live",
        "discounts",
        ["subscription_id"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_invoice_lines_kind"), type_="check")
        batch_op.create_check_constraint("kind", KINDS)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM invoice_lines WHERE kind = 'DISCOUNT'"))
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_invoice_lines_kind"), type_="check")
        batch_op.create_check_constraint("kind", KINDS_BEFORE)
    op.drop_index("uq_discounts_subscription_id_live", table_name="discounts")
    op.drop_index(op.f("ix_discounts_coupon_id"), table_name="discounts")
    op.drop_table("discounts")
    op.drop_table("coupons")

"""usage billings, renewal errors

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

What each period's usage was billed (usage_billings), so usage that arrives late is
billed once, and a renewal's usage can wait out its grace window; how far each tenant's
usage has been billed; and why a subscription's last renewal could not be billed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_billings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("plans", sa.JSON(), nullable=False),
        sa.Column("finalize_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finalized_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("billed", sa.JSON(), nullable=True),
        sa.Column("stale", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_usage_billings_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_usage_billings_subscription_id_subscriptions"),
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_usage_billings_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_billings")),
    )
    with op.batch_alter_table("usage_billings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usage_billings_invoice_id"), ["invoice_id"], unique=False)
        batch_op.create_index(
            "ix_usage_billings_tenant_id_period_start", ["tenant_id", "period_start"], unique=False
        )
        batch_op.create_index(
            "ix_usage_billings_pending",
            ["finalize_at"],
            unique=False,
            sqlite_where=sa.text("finalized_at IS NULL"),
            postgresql_where=sa.text("finalized_at IS NULL"),
        )

    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("renewal_error", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("renewal_failed_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("usage_billed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("usage_billed_until")

    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("renewal_failed_at")
        batch_op.drop_column("renewal_error")

    with op.batch_alter_table("usage_billings", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_billings_pending", sqlite_where=sa.text("finalized_at IS NULL"))
        batch_op.drop_index("ix_usage_billings_tenant_id_period_start")
        batch_op.drop_index(batch_op.f("ix_usage_billings_invoice_id"))

    op.drop_table("usage_billings")

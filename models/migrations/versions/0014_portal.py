"""portal: billing portal links and sessions, and the portal configuration

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

MODES = (
    "proration_billing_mode IN ('PRORATED_IMMEDIATELY', 'DIFFERENCE_IMMEDIATELY', 'FULL_IMMEDIATELY', "
    "'DO_NOT_BILL')"
)


def upgrade() -> None:
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("return_url", sa.String(length=2000), nullable=False),
        sa.Column("link_hash", sa.String(length=64), nullable=False),
        sa.Column("link_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_hash", sa.String(length=64), nullable=True),
        sa.Column("idle_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(opened_at IS NULL) = (session_hash IS NULL)", name=op.f("ck_portal_sessions_opened")
        ),
        sa.CheckConstraint("(opened_at IS NULL) = (expires_at IS NULL)", name=op.f("ck_portal_sessions_expiry")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_portal_sessions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sessions")),
        sa.UniqueConstraint("link_hash", name=op.f("uq_portal_sessions_link_hash")),
        sa.UniqueConstraint("session_hash", name=op.f("uq_portal_sessions_session_hash")),
    )
    op.create_index(op.f("ix_portal_sessions_tenant_id"), "portal_sessions", ["tenant_id"], unique=False)
    op.create_table(
        "portal_configuration",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("change_plan", sa.Boolean(), nullable=False),
        sa.Column("change_seats", sa.Boolean(), nullable=False),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("cancel_immediately", sa.Boolean(), nullable=False),
        sa.Column("pause", sa.Boolean(), nullable=False),
        sa.Column("apply_coupons", sa.Boolean(), nullable=False),
        sa.Column("manage_members", sa.Boolean(), nullable=False),
        sa.Column("proration_billing_mode", sa.String(length=30), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.CheckConstraint(MODES, name=op.f("ck_portal_configuration_proration_billing_mode")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_configuration")),
    )


def downgrade() -> None:
    op.drop_table("portal_configuration")
    op.drop_index(op.f("ix_portal_sessions_tenant_id"), table_name="portal_sessions")
    op.drop_table("portal_sessions")

"""credit_grants: credit grants and their expiry

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

PENDING_EXPIRY = "expires_at IS NOT NULL AND expired_at IS NULL"
EXPIRED = "reason = 'EXPIRED'"
REASONS = "reason IN ('GRANTED', 'APPLIED', 'GRANT', 'EXPIRED', 'CREDIT_NOTE')"
REASONS_BEFORE = "reason IN ('GRANTED', 'APPLIED')"


def upgrade() -> None:
    op.create_table(
        "credit_grants",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_grants_amount")),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= amount", name=op.f("ck_credit_grants_remaining")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_credit_grants_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_grants")),
    )
    op.create_index(op.f("ix_credit_grants_tenant_id"), "credit_grants", ["tenant_id"], unique=False)
    op.create_index(
        "ix_credit_grants_expiry",
        "credit_grants",
        ["expires_at"],
        unique=False,
        sqlite_where=sa.text(PENDING_EXPIRY),
        postgresql_where=sa.text(PENDING_EXPIRY),
    )
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grant_id", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_credit_entries_grant_id_credit_grants"), "credit_grants", ["grant_id"], ["id"]
        )
        batch_op.create_index(op.f("ix_credit_entries_grant_id"), ["grant_id"], unique=False)
        batch_op.create_index(
            "uq_credit_entries_grant_id_expired",
            ["grant_id"],
            unique=True,
            sqlite_where=sa.text(EXPIRED),
            postgresql_where=sa.text(EXPIRED),
        )
        batch_op.drop_constraint(op.f("ck_credit_entries_reason"), type_="check")
        batch_op.create_check_constraint("reason", REASONS)


def downgrade() -> None:
    # The ledger keeps every amount (so every balance) under the reasons it had before.
    op.execute(sa.text("UPDATE credit_entries SET reason = 'GRANTED' WHERE reason = 'GRANT'"))
    op.execute(sa.text("UPDATE credit_entries SET reason = 'APPLIED' WHERE reason = 'EXPIRED'"))
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_credit_entries_reason"), type_="check")
        batch_op.create_check_constraint("reason", REASONS_BEFORE)
        batch_op.drop_index("uq_credit_entries_grant_id_expired")
        batch_op.drop_index(op.f("ix_credit_entries_grant_id"))
        batch_op.drop_constraint(op.f("fk_credit_entries_grant_id_credit_grants"), type_="foreignkey")
        batch_op.drop_column("grant_id")
    op.drop_index("ix_credit_grants_expiry", table_name="credit_grants")
    op.drop_index(op.f("ix_credit_grants_tenant_id"), table_name="credit_grants")
    op.drop_table("credit_grants")

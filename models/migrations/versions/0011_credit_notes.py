"""credit_notes: credit notes, void invoices and refunds

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Credit notes (``credit_notes``, numbered per tenant) correct an issued invoice: on an
OPEN one they lower what is due (``invoices.credited``, part of the amount-due check);
on a PAID one they go to the credit balance (ledger reason ``CREDIT_NOTE``) or are
refunded through the provider (``REFUND_CREDIT_NOTE``). An invoice voided in the
gateway is voided at the provider too (``VOID_INVOICE``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TASK_KINDS = (
    "kind IN ('SYNC_CUSTOMER', 'COLLECT_INVOICE', 'MARK_PAID_OUT_OF_BAND', 'REFUND_CREDIT_NOTE', "
    "'VOID_INVOICE')"
)
TASK_KINDS_BEFORE = "kind IN ('SYNC_CUSTOMER', 'COLLECT_INVOICE', 'MARK_PAID_OUT_OF_BAND')"
AMOUNT_DUE = (
    "credits_applied >= 0 AND amount_due >= 0 AND "
    "amount_due = (CASE WHEN total > 0 THEN total ELSE 0 END) - credits_applied - credited"
)
AMOUNT_DUE_BEFORE = (
    "credits_applied >= 0 AND amount_due >= 0 AND "
    "amount_due = (CASE WHEN total > 0 THEN total ELSE 0 END) - credits_applied"
)
REASONS = "reason IN ('GRANTED', 'APPLIED', 'CREDIT_NOTE')"
REASONS_BEFORE = "reason IN ('GRANTED', 'APPLIED')"


def upgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credited", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.drop_constraint(op.f("ck_invoices_amount_due"), type_="check")
        batch_op.create_check_constraint("amount_due", AMOUNT_DUE)
        batch_op.create_check_constraint("credited", "credited >= 0")

    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_credit_entries_reason"), type_="check")
        batch_op.create_check_constraint("reason", REASONS)

    with op.batch_alter_table("provider_tasks", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_provider_tasks_kind"), type_="check")
        batch_op.create_check_constraint("kind", TASK_KINDS)

    op.create_table(
        "credit_notes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("lowered_due", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("provider_refund_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_notes_amount")),
        sa.CheckConstraint(
            "outcome IN ('CREDIT_BALANCE', 'REFUND')", name=op.f("ck_credit_notes_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_credit_notes_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_credit_notes_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_notes")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_credit_notes_tenant_id_number")),
    )
    op.create_index(op.f("ix_credit_notes_invoice_id"), "credit_notes", ["invoice_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_credit_notes_invoice_id"), table_name="credit_notes")
    op.drop_table("credit_notes")
    op.execute(sa.text("DELETE FROM provider_tasks WHERE kind IN ('REFUND_CREDIT_NOTE', 'VOID_INVOICE')"))
    with op.batch_alter_table("provider_tasks", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_provider_tasks_kind"), type_="check")
        batch_op.create_check_constraint("kind", TASK_KINDS_BEFORE)
    # A credit note's ledger entries become grants: the balance they made stays.
    op.execute(sa.text("UPDATE credit_entries SET reason = 'GRANTED' WHERE reason = 'CREDIT_NOTE'"))
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_credit_entries_reason"), type_="check")
        batch_op.create_check_constraint("reason", REASONS_BEFORE)
    # What credit notes took off an OPEN invoice stays off: it counts as credit applied.
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_invoices_credited"), type_="check")
        batch_op.drop_constraint(op.f("ck_invoices_amount_due"), type_="check")
    op.execute(sa.text("UPDATE invoices SET credits_applied = credits_applied + credited WHERE credited <> 0"))
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_check_constraint("amount_due", AMOUNT_DUE_BEFORE)
        batch_op.drop_column("credited")

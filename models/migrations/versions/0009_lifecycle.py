"""lifecycle: trials, payment terms, dunning, pause

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

Plans offer trial days, once per tenant and plan (``trials``). Tenants are charged
automatically or sent invoices with payment terms; invoices carry a due date, what was
paid of them by hand (``payments``), when they were found overdue, and when a failed
charge is retried. Subscriptions remember their trial's end, when the grace of a
PAST_DUE one ends, and a pause.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

AWAITING = "status = 'OPEN' AND due_date IS NOT NULL AND overdue_at IS NULL"
TASK_KINDS = "kind IN ('SYNC_CUSTOMER', 'COLLECT_INVOICE', 'MARK_PAID_OUT_OF_BAND')"
TASK_KINDS_BEFORE = "kind IN ('SYNC_CUSTOMER', 'COLLECT_INVOICE')"
RETRY = "next_retry_at IS NOT NULL"


def _instant(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trial_days", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_check_constraint("trial_days", "trial_days >= 0 AND trial_days <= 730")

    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "collection_method",
                sa.String(length=20),
                server_default="CHARGE_AUTOMATICALLY",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("days_until_due", sa.Integer(), server_default="30", nullable=False))
        batch_op.create_check_constraint(
            "collection_method", "collection_method IN ('CHARGE_AUTOMATICALLY', 'SEND_INVOICE')"
        )
        batch_op.create_check_constraint("days_until_due", "days_until_due >= 0 AND days_until_due <= 365")

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(_instant("due_date"))
        batch_op.add_column(_instant("overdue_at"))
        batch_op.add_column(sa.Column("amount_paid", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(_instant("next_retry_at"))
        batch_op.add_column(sa.Column("retries", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_check_constraint("amount_paid", "amount_paid >= 0 AND amount_paid <= amount_due")
        batch_op.create_index(
            "ix_invoices_due",
            ["due_date"],
            unique=False,
            sqlite_where=sa.text(AWAITING),
            postgresql_where=sa.text(AWAITING),
        )
        batch_op.create_index(
            "ix_invoices_retry",
            ["next_retry_at"],
            unique=False,
            sqlite_where=sa.text(RETRY),
            postgresql_where=sa.text(RETRY),
        )

    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        for name in ("grace_ends_at", "trial_end", "trial_reminder_at", "paused_at", "resumes_at"):
            batch_op.add_column(_instant(name))

    # An invoice paid by hand is marked paid at the provider too (MARK_PAID_OUT_OF_BAND).
    with op.batch_alter_table("provider_tasks", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_provider_tasks_kind"), type_="check")
        batch_op.create_check_constraint("kind", TASK_KINDS)

    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount")),
        sa.CheckConstraint("method IN ('BANK_TRANSFER', 'CHECK', 'OTHER')", name=op.f("ck_payments_method")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_payments_invoice_id_invoices")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_payments_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index(op.f("ix_payments_invoice_id"), "payments", ["invoice_id"], unique=False)
    op.create_table(
        "trials",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("plan_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_trials_plan_id_plans")),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"], name=op.f("fk_trials_subscription_id_subscriptions")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_trials_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("tenant_id", "plan_id", name=op.f("pk_trials")),
    )


def downgrade() -> None:
    op.drop_table("trials")
    op.execute(sa.text("DELETE FROM provider_tasks WHERE kind = 'MARK_PAID_OUT_OF_BAND'"))
    with op.batch_alter_table("provider_tasks", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_provider_tasks_kind"), type_="check")
        batch_op.create_check_constraint("kind", TASK_KINDS_BEFORE)
    op.drop_index(op.f("ix_payments_invoice_id"), table_name="payments")
    op.drop_table("payments")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        for name in ("resumes_at", "paused_at", "trial_reminder_at", "trial_end", "grace_ends_at"):
            batch_op.drop_column(name)
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_retry")
        batch_op.drop_index("ix_invoices_due")
        batch_op.drop_constraint(op.f("ck_invoices_amount_paid"), type_="check")
        for name in ("retries", "next_retry_at", "amount_paid", "overdue_at", "due_date"):
            batch_op.drop_column(name)
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_tenants_days_until_due"), type_="check")
        batch_op.drop_constraint(op.f("ck_tenants_collection_method"), type_="check")
        batch_op.drop_column("days_until_due")
        batch_op.drop_column("collection_method")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_plans_trial_days"), type_="check")
        batch_op.drop_column("trial_days")

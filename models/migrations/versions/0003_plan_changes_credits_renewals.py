"""plan changes, credits, renewals

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

Invoices gain a reason (SUBSCRIBE, CHANGE, RENEWAL) and may have a negative total
(a change that credits more than it charges; the credit goes to the balance), so
the amount-due check is rewritten. Every invoice before this one was a first
invoice, hence the server default.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

RENEWAL = sa.text("reason = 'RENEWAL'")
AMOUNT_DUE = (
    "credits_applied >= 0 AND amount_due >= 0 AND "
    "amount_due = (CASE WHEN total > 0 THEN total ELSE 0 END) - credits_applied"
)
OLD_AMOUNT_DUE = "amount_due = total - credits_applied AND amount_due >= 0"


def upgrade() -> None:
    op.create_table('credit_entries',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('invoice_id', sa.String(length=40), nullable=True),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("reason IN ('GRANTED', 'APPLIED')", name=op.f('ck_credit_entries_reason')),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_credit_entries_amount')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_credit_entries_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_credit_entries_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_entries'))
    )
    op.create_index(op.f('ix_credit_entries_tenant_id'), 'credit_entries', ['tenant_id'], unique=False)

    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=20), server_default='SUBSCRIBE', nullable=False))
        batch_op.drop_constraint(op.f('ck_invoices_amount_due'), type_='check')
        batch_op.create_check_constraint('amount_due', AMOUNT_DUE)
        batch_op.create_check_constraint('reason', "reason IN ('SUBSCRIBE', 'CHANGE', 'RENEWAL')")
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.alter_column('reason', server_default=None)
    op.create_index('uq_invoices_subscription_id_renewal', 'invoices', ['subscription_id', 'period_start'],
                    unique=True, sqlite_where=RENEWAL, postgresql_where=RENEWAL)

    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancel_at_period_end', sa.Boolean(), server_default=sa.text('false'),
                                      nullable=False))
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('scheduled_change', sa.JSON(), nullable=True))
    op.create_index(op.f('ix_subscriptions_current_period_end'), 'subscriptions', ['current_period_end'])

    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tax_rate_ppm', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint('tax_rate_ppm', 'tax_rate_ppm >= 0 AND tax_rate_ppm <= 1000000')


def downgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_tenants_tax_rate_ppm'), type_='check')
        batch_op.drop_column('tax_rate_ppm')

    op.drop_index(op.f('ix_subscriptions_current_period_end'), table_name='subscriptions')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('scheduled_change')
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('cancel_at_period_end')

    op.drop_index('uq_invoices_subscription_id_renewal', table_name='invoices',
                  sqlite_where=RENEWAL, postgresql_where=RENEWAL)
    op.drop_table('credit_entries')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invoices_reason'), type_='check')
        batch_op.drop_constraint(op.f('ck_invoices_amount_due'), type_='check')
        batch_op.create_check_constraint('amount_due', OLD_AMOUNT_DUE)
        batch_op.drop_column('reason')

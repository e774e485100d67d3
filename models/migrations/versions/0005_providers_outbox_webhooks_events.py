"""providers, outbox, webhooks, events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

Domain events; provider tasks (the outbox of calls owed to the payment provider);
inbound provider events kept once by id; outbound webhook endpoints, deliveries and
attempts; the provider's invoice id, hosted page and payment state on invoices; and an
EXTERNAL invoice reason for invoices made in the provider by people (SALES_LED).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

REASONS = "reason IN ('SUBSCRIBE', 'CHANGE', 'RENEWAL', 'FINAL'"


def upgrade() -> None:
    op.create_table('events',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=60), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dispatched', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_events_undispatched', ['created_at'], unique=False, sqlite_where=sa.text('NOT dispatched'), postgresql_where=sa.text('NOT dispatched'))

    op.create_table('provider_events',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('outcome', sa.String(length=200), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_events'))
    )
    op.create_table('provider_tasks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('subject_id', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('SYNC_CUSTOMER', 'COLLECT_INVOICE')", name=op.f('ck_provider_tasks_kind')),
    sa.CheckConstraint("status IN ('PENDING', 'DONE', 'FAILED')", name=op.f('ck_provider_tasks_status')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_provider_tasks_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_tasks'))
    )
    with op.batch_alter_table('provider_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_tasks_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index('ix_provider_tasks_pending', ['tenant_id', 'id'], unique=False, sqlite_where=sa.text("status = 'PENDING'"), postgresql_where=sa.text("status = 'PENDING'"))

    op.create_table('webhook_endpoints',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=True),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_webhook_endpoints_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints'))
    )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_endpoints_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('endpoint_id', sa.String(length=40), nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('event_type', sa.String(length=60), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('PENDING', 'SUCCEEDED', 'FAILED')", name=op.f('ck_webhook_deliveries_status')),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], name=op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_webhook_deliveries_event_id_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('endpoint_id', 'event_id', name=op.f('uq_webhook_deliveries_endpoint_id_event_id'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_next_attempt_at'), ['next_attempt_at'], unique=False)

    op.create_table('webhook_attempts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('delivery_id', sa.String(length=40), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.Column('response_body', sa.String(length=1000), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'], name=op.f('fk_webhook_attempts_delivery_id_webhook_deliveries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts'))
    )
    with op.batch_alter_table('webhook_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_attempts_delivery_id'), ['delivery_id'], unique=False)

    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider_invoice_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('hosted_invoice_url', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('payment_failed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('payment_error', sa.String(length=500), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_invoices_provider_invoice_id'), ['provider_invoice_id'])
        batch_op.drop_constraint(op.f('ck_invoices_reason'), type_='check')
        batch_op.create_check_constraint('reason', REASONS + ", 'EXTERNAL')")


def downgrade() -> None:
    op.execute("DELETE FROM invoice_lines WHERE invoice_id IN (SELECT id FROM invoices WHERE reason = 'EXTERNAL')")
    op.execute("DELETE FROM credit_entries WHERE invoice_id IN (SELECT id FROM invoices WHERE reason = 'EXTERNAL')")
    op.execute("DELETE FROM invoices WHERE reason = 'EXTERNAL'")
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invoices_reason'), type_='check')
        batch_op.create_check_constraint('reason', REASONS + ")")
        batch_op.drop_constraint(batch_op.f('uq_invoices_provider_invoice_id'), type_='unique')
        batch_op.drop_column('payment_error')
        batch_op.drop_column('payment_failed_at')
        batch_op.drop_column('paid_at')
        batch_op.drop_column('hosted_invoice_url')
        batch_op.drop_column('provider_invoice_id')

    with op.batch_alter_table('webhook_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_attempts_delivery_id'))

    op.drop_table('webhook_attempts')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_event_id'))

    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_endpoints_tenant_id'))

    op.drop_table('webhook_endpoints')
    with op.batch_alter_table('provider_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_provider_tasks_pending', sqlite_where=sa.text("status = 'PENDING'"), postgresql_where=sa.text("status = 'PENDING'"))
        batch_op.drop_index(batch_op.f('ix_provider_tasks_next_attempt_at'))

    op.drop_table('provider_tasks')
    op.drop_table('provider_events')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_undispatched', sqlite_where=sa.text('NOT dispatched'), postgresql_where=sa.text('NOT dispatched'))
        batch_op.drop_index(batch_op.f('ix_events_tenant_id'))

    op.drop_table('events')

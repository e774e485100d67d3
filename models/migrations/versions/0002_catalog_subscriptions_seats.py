"""catalog, subscriptions, seats, audit, invoices

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('addons',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=1000), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('seat_type', sa.String(length=10), nullable=True),
    sa.Column('seats_per_unit', sa.Integer(), nullable=False),
    sa.Column('tax_category', sa.String(length=64), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("seat_type IS NULL OR seat_type IN ('FULL', 'VIEWER', 'GUEST')", name=op.f('ck_addons_seat_type')),
    sa.CheckConstraint('price >= 0', name=op.f('ck_addons_price')),
    sa.CheckConstraint('seats_per_unit >= 1', name=op.f('ck_addons_seats_per_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_addons')),
    sa.UniqueConstraint('code', name=op.f('uq_addons_code'))
    )
    op.create_table('plans',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('interval', sa.String(length=10), nullable=False),
    sa.Column('base_price', sa.BigInteger(), nullable=False),
    sa.Column('included_seats', sa.Integer(), nullable=False),
    sa.Column('min_seats', sa.Integer(), nullable=True),
    sa.Column('max_seats', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("interval IN ('MONTH', 'YEAR')", name=op.f('ck_plans_interval')),
    sa.CheckConstraint('base_price >= 0', name=op.f('ck_plans_base_price')),
    sa.CheckConstraint('included_seats >= 0', name=op.f('ck_plans_included_seats')),
    sa.CheckConstraint('max_seats IS NULL OR (max_seats >= 1 AND max_seats >= COALESCE(min_seats, 0) AND max_seats >= included_seats)', name=op.f('ck_plans_max_seats')),
    sa.CheckConstraint('min_seats IS NULL OR min_seats >= 0', name=op.f('ck_plans_min_seats')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans')),
    sa.UniqueConstraint('code', name=op.f('uq_plans_code'))
    )
    op.create_table('plan_addons',
    sa.Column('plan_id', sa.String(length=40), nullable=False),
    sa.Column('addon_id', sa.String(length=40), nullable=False),
    sa.Column('attached_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['addon_id'], ['addons.id'], name=op.f('fk_plan_addons_addon_id_addons')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_addons_plan_id_plans')),
    sa.PrimaryKeyConstraint('plan_id', 'addon_id', name=op.f('pk_plan_addons'))
    )
    with op.batch_alter_table('plan_addons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_addons_addon_id'), ['addon_id'], unique=False)

    op.create_table('audit_entries',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('actor_api_key_id', sa.String(length=40), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject_id', sa.String(length=40), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_audit_entries_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_tenant_id_id', ['tenant_id', 'id'], unique=False)

    op.create_table('idempotency_keys',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('operation', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('result_id', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_idempotency_keys_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'operation', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_table('members',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('seat_type', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('invited_by', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("seat_type IN ('FULL', 'VIEWER', 'GUEST')", name=op.f('ck_members_seat_type')),
    sa.CheckConstraint("status IN ('ACTIVE', 'REMOVED')", name=op.f('ck_members_status')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_members_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members'))
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index('ix_members_tenant_id_status_seat_type', ['tenant_id', 'status', 'seat_type'], unique=False)
        batch_op.create_index('uq_members_tenant_id_email_active', ['tenant_id', 'email'], unique=True, sqlite_where=sa.text("status = 'ACTIVE'"), postgresql_where=sa.text("status = 'ACTIVE'"))

    op.create_table('subscriptions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('plan_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('billing_anchor', sa.DateTime(timezone=True), nullable=False),
    sa.Column('current_period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('ACTIVE', 'PAST_DUE', 'CANCELLED')", name=op.f('ck_subscriptions_status')),
    sa.CheckConstraint('current_period_end > current_period_start', name=op.f('ck_subscriptions_period')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_subscriptions_plan_id_plans')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_subscriptions_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions'))
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscriptions_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subscriptions_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('uq_subscriptions_tenant_id_live', ['tenant_id'], unique=True, sqlite_where=sa.text("status <> 'CANCELLED'"), postgresql_where=sa.text("status <> 'CANCELLED'"))

    op.create_table('invoices',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('subscription_id', sa.String(length=40), nullable=True),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('subtotal', sa.BigInteger(), nullable=False),
    sa.Column('tax', sa.BigInteger(), nullable=False),
    sa.Column('credits_applied', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('amount_due', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('DRAFT', 'OPEN', 'PAID', 'VOID', 'UNCOLLECTIBLE')", name=op.f('ck_invoices_status')),
    sa.CheckConstraint('amount_due = total - credits_applied AND amount_due >= 0', name=op.f('ck_invoices_amount_due')),
    sa.CheckConstraint('total = subtotal + tax', name=op.f('ck_invoices_total')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_invoices_subscription_id_subscriptions')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_invoices_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('tenant_id', 'number', name=op.f('uq_invoices_tenant_id_number'))
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoices_subscription_id'), ['subscription_id'], unique=False)

    op.create_table('subscription_addons',
    sa.Column('subscription_id', sa.String(length=40), nullable=False),
    sa.Column('addon_id', sa.String(length=40), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_subscription_addons_quantity')),
    sa.ForeignKeyConstraint(['addon_id'], ['addons.id'], name=op.f('fk_subscription_addons_addon_id_addons')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_subscription_addons_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('subscription_id', 'addon_id', name=op.f('pk_subscription_addons'))
    )
    with op.batch_alter_table('subscription_addons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscription_addons_addon_id'), ['addon_id'], unique=False)

    op.create_table('invoice_lines',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('invoice_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_amount', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('addon_id', sa.String(length=40), nullable=True),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('BASE', 'ADDON', 'USAGE', 'PRORATION', 'CREDIT')", name=op.f('ck_invoice_lines_kind')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_lines_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_lines'))
    )
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_lines_invoice_id'), ['invoice_id'], unique=False)

    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invoice_prefix', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('invoice_count', sa.Integer(), server_default='0', nullable=False))
    _backfill_invoice_prefixes()
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.alter_column('invoice_prefix', existing_type=sa.String(length=12), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_tenants_invoice_prefix'), ['invoice_prefix'])


def _backfill_invoice_prefixes() -> None:
    """Tenants made before invoices get a prefix from their name, as new ones do
    (a frozen copy of models.services.tenants.invoice_prefix_base)."""
    conn = op.get_bind()
    taken: set[str] = set()
    for tenant_id, name in conn.execute(sa.text("SELECT id, name FROM tenants ORDER BY id")).all():
        base = "".join(c for c in name.split()[0] if c.isascii() and c.isalnum()).upper()[:8] if name.split() else ""
        base = base or "INV"
        prefix, n = base, 1
        while prefix in taken:
            n += 1
            prefix = f"{base}{n}"
        taken.add(prefix)
        conn.execute(
            sa.text("UPDATE tenants SET invoice_prefix = :p WHERE id = :id"), {"p": prefix, "id": tenant_id}
        )



def downgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_tenants_invoice_prefix'), type_='unique')
        batch_op.drop_column('invoice_count')
        batch_op.drop_column('invoice_prefix')

    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_lines_invoice_id'))

    op.drop_table('invoice_lines')
    with op.batch_alter_table('subscription_addons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscription_addons_addon_id'))

    op.drop_table('subscription_addons')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_subscription_id'))

    op.drop_table('invoices')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('uq_subscriptions_tenant_id_live', sqlite_where=sa.text("status <> 'CANCELLED'"), postgresql_where=sa.text("status <> 'CANCELLED'"))
        batch_op.drop_index(batch_op.f('ix_subscriptions_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_subscriptions_plan_id'))

    op.drop_table('subscriptions')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index('uq_members_tenant_id_email_active', sqlite_where=sa.text("status = 'ACTIVE'"), postgresql_where=sa.text("status = 'ACTIVE'"))
        batch_op.drop_index('ix_members_tenant_id_status_seat_type')

    op.drop_table('members')
    op.drop_table('idempotency_keys')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_tenant_id_id')

    op.drop_table('audit_entries')
    with op.batch_alter_table('plan_addons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_addons_addon_id'))

    op.drop_table('plan_addons')
    op.drop_table('plans')
    op.drop_table('addons')

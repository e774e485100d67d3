"""metering

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

Meters; usage points and their daily rollups; usage idempotency keys; usage charges
on plans; and a FINAL invoice reason for the usage of a subscription's last period.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

REASONS = "reason IN ('SUBSCRIBE', 'CHANGE', 'RENEWAL'"


def upgrade() -> None:
    op.create_table('meters',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=1000), nullable=True),
    sa.Column('aggregation', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("aggregation IN ('SUM', 'MAX', 'COUNT', 'LATEST')", name=op.f('ck_meters_aggregation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meters')),
    sa.UniqueConstraint('name', name=op.f('uq_meters_name'))
    )
    op.create_table('usage_charges',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('plan_id', sa.String(length=40), nullable=False),
    sa.Column('meter_id', sa.String(length=40), nullable=False),
    sa.Column('model', sa.String(length=20), nullable=False),
    sa.Column('unit_amount', sa.BigInteger(), nullable=False),
    sa.Column('package_size', sa.BigInteger(), nullable=False),
    sa.Column('free_units', sa.BigInteger(), nullable=False),
    sa.Column('tiers', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("model IN ('PER_UNIT', 'PACKAGE', 'GRADUATED', 'VOLUME')", name=op.f('ck_usage_charges_model')),
    sa.CheckConstraint('unit_amount >= 0 AND free_units >= 0 AND package_size >= 1', name=op.f('ck_usage_charges_amounts')),
    sa.ForeignKeyConstraint(['meter_id'], ['meters.id'], name=op.f('fk_usage_charges_meter_id_meters')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_usage_charges_plan_id_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_charges')),
    sa.UniqueConstraint('plan_id', 'meter_id', name=op.f('uq_usage_charges_plan_id_meter_id'))
    )
    with op.batch_alter_table('usage_charges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_charges_meter_id'), ['meter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_charges_plan_id'), ['plan_id'], unique=False)

    op.create_table('usage_days',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('meter_id', sa.String(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('max_value', sa.BigInteger(), nullable=False),
    sa.Column('latest_ts', sa.BigInteger(), nullable=False),
    sa.Column('latest_value', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('points > 0', name=op.f('ck_usage_days_points')),
    sa.ForeignKeyConstraint(['meter_id'], ['meters.id'], name=op.f('fk_usage_days_meter_id_meters')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_usage_days_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'meter_id', 'day', name=op.f('pk_usage_days'))
    )
    op.create_table('usage_keys',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('meter_id', sa.String(length=40), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('ts_given', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'key', name=op.f('pk_usage_keys'))
    )
    with op.batch_alter_table('usage_keys', schema=None) as batch_op:
        batch_op.create_index('ix_usage_keys_created_at', ['created_at'], unique=False)

    op.create_table('usage_points',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('meter_id', sa.String(length=40), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'meter_id', 'ts', name=op.f('pk_usage_points'))
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invoices_reason'), type_='check')
        batch_op.create_check_constraint('reason', REASONS + ", 'FINAL')")
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.alter_column('quantity', type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False)
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('usage_plans', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('usage_plans')
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.alter_column('quantity', type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=False)
    op.execute("DELETE FROM invoice_lines WHERE invoice_id IN (SELECT id FROM invoices WHERE reason = 'FINAL')")
    op.execute("DELETE FROM credit_entries WHERE invoice_id IN (SELECT id FROM invoices WHERE reason = 'FINAL')")
    op.execute("DELETE FROM invoices WHERE reason = 'FINAL'")
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invoices_reason'), type_='check')
        batch_op.create_check_constraint('reason', REASONS + ")")
    op.drop_table('usage_points')
    with op.batch_alter_table('usage_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_keys_created_at')

    op.drop_table('usage_keys')
    op.drop_table('usage_days')
    with op.batch_alter_table('usage_charges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_charges_plan_id'))
        batch_op.drop_index(batch_op.f('ix_usage_charges_meter_id'))

    op.drop_table('usage_charges')
    op.drop_table('meters')

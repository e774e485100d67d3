"""webhook endpoints: private addresses, the circuit

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Whether an endpoint may be delivered to a loopback or private address (registered so
by an ADMIN key while the operator allowed it), and the circuit that pauses an
endpoint that keeps timing out: its timeouts in a row and until when it waits.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("allow_private", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("consecutive_timeouts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("paused_until")
        batch_op.drop_column("consecutive_timeouts")
        batch_op.drop_column("allow_private")

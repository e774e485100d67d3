"""credit_note_lines: credit notes issued by line

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

A credit note issued by line records what it credits on each invoice line it names
(``credit_note_lines``); its amount is their sum. Notes issued by amount have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_note_lines",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("credit_note_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_line_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_note_lines_amount")),
        sa.ForeignKeyConstraint(
            ["credit_note_id"],
            ["credit_notes.id"],
            name=op.f("fk_credit_note_lines_credit_note_id_credit_notes"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_line_id"],
            ["invoice_lines.id"],
            name=op.f("fk_credit_note_lines_invoice_line_id_invoice_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_note_lines")),
        sa.UniqueConstraint(
            "credit_note_id",
            "invoice_line_id",
            name=op.f("uq_credit_note_lines_credit_note_id_invoice_line_id"),
        ),
    )
    op.create_index(
        op.f("ix_credit_note_lines_credit_note_id"), "credit_note_lines", ["credit_note_id"], unique=False
    )
    op.create_index(
        op.f("ix_credit_note_lines_invoice_line_id"), "credit_note_lines", ["invoice_line_id"], unique=False
    )


def downgrade() -> None:
    # A note issued by line keeps its amount (and so every invariant); only its lines go.
    op.drop_index(op.f("ix_credit_note_lines_invoice_line_id"), table_name="credit_note_lines")
    op.drop_index(op.f("ix_credit_note_lines_credit_note_id"), table_name="credit_note_lines")
    op.drop_table("credit_note_lines")

"""one checkpoint per tree size

Replicas sign checkpoints one at a time since this revision (an advisory lock), and the database
now refuses a second checkpoint of a size it has. Before this revision two replicas could each
store a checkpoint of the same size; such twins with the same root are the same statement and the
later one is dropped. Twins with different roots would be evidence that the log was rewritten:
the migration stops and names them rather than delete either.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 20:00:00
"""

import sqlalchemy as sa
from alembic import op

from core.errors import IntegrityError

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    clash = conn.execute(
        sa.text(
            "SELECT a.size, a.id, b.id FROM ledger_checkpoint a JOIN ledger_checkpoint b "
            "ON a.size = b.size AND a.id < b.id AND a.root <> b.root ORDER BY a.size LIMIT 5"
        )
    ).all()
    if clash:
        listed = ", ".join(f"size {size} (checkpoints #{a} and #{b})" for size, a, b in clash)
        raise IntegrityError(
            f"stored checkpoints of one size disagree on the root: {listed}; the log was "
            "rewritten or a foreign checkpoint was stored; this migration deletes neither",
            hint="run `assay audit verify`, keep both as evidence, and move the one that is "
            "not this log's out of ledger_checkpoint before upgrading",
        )
    conn.execute(
        sa.text(
            "DELETE FROM ledger_checkpoint WHERE EXISTS (SELECT 1 FROM ledger_checkpoint d "
            "WHERE d.size = ledger_checkpoint.size AND d.root = "
            "ledger_checkpoint.root AND d.id < ledger_checkpoint.id)"
        )
    )
    with op.batch_alter_table("ledger_checkpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_checkpoint_size"))
        batch_op.create_index(batch_op.f("ix_ledger_checkpoint_size"), ["size"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("ledger_checkpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_checkpoint_size"))
        batch_op.create_index(batch_op.f("ix_ledger_checkpoint_size"), ["size"], unique=False)

"""complaints and appeals

Review items get a kind (generation, complaint, appeal) and a subject record; ``review_cases``
holds what a complaint or an appeal adds; ``withdrawn_content`` lists the images an upheld
complaint withdrew (:mod:`gateway.review.cases`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 14:00:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_items") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="generation"))
        batch.add_column(sa.Column("subject_id", sa.String(length=26), nullable=True))
        batch.create_index("ix_review_items_subject_id", ["subject_id"])
    op.create_table(
        "review_cases",
        sa.Column("review_id", sa.String(length=26), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("contact", sa.String(length=320), nullable=True),
        sa.Column("content_ids", sa.Text(), nullable=False),
        sa.Column("original_review_id", sa.String(length=26), nullable=True),
        sa.Column("first_deciders", sa.String(length=400), nullable=False),
        sa.Column("contested", sa.String(length=16), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("decided_record_id", sa.String(length=26), nullable=True),
        sa.PrimaryKeyConstraint("review_id"),
    )
    op.create_table(
        "withdrawn_content",
        sa.Column("content_id", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=26), nullable=False),
        sa.Column("review_id", sa.String(length=26), nullable=False),
        sa.Column("ledger_record_id", sa.String(length=26), nullable=False),
        sa.Column("withdrawn_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("content_id"),
    )
    op.create_index("ix_withdrawn_content_record_id", "withdrawn_content", ["record_id"])


def downgrade() -> None:
    op.drop_index("ix_withdrawn_content_record_id", table_name="withdrawn_content")
    op.drop_table("withdrawn_content")
    op.drop_table("review_cases")
    with op.batch_alter_table("review_items") as batch:
        batch.drop_index("ix_review_items_subject_id")
        batch.drop_column("subject_id")
        batch.drop_column("kind")

"""released images' local features

The local features of every released image and their LSH bucket keys, so that ``verify`` finds a
cropped, captioned or mirrored repost whose watermark and metadata are gone
(:mod:`provenance.released_features`). Images released before this revision have no rows and are
found by their other marks only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 13:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "released_features",
        sa.Column("content_id", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("scheme", sa.String(length=32), nullable=False),
        sa.Column("work_w", sa.Integer(), nullable=False),
        sa.Column("work_h", sa.Integer(), nullable=False),
        sa.Column("scale", sa.Float(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("pts", sa.LargeBinary(), nullable=False),
        sa.Column("ang", sa.LargeBinary(), nullable=False),
        sa.Column("desc", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("content_id"),
    )
    op.create_table(
        "released_feature_keys",
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("content_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("key", "content_id"),
    )


def downgrade() -> None:
    op.drop_table("released_feature_keys")
    op.drop_table("released_features")

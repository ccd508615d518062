"""The document table and the revision counter.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "objects",
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(1024), primary_key=True),
        sa.Column("parent", sa.String(1024), nullable=True),
        sa.Column("doc", sa.Text, nullable=False),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO meta (key, value) VALUES ('revision', 0)")


def downgrade() -> None:
    op.drop_table("meta")
    op.drop_table("objects")

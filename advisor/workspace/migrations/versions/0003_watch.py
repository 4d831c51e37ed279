"""Change alerts: watched sources (with HTTP cache validators), recognised items, sent notifications.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from advisor.workspace.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watch_sources",
        sa.Column("url", sa.String(1000), primary_key=True),
        sa.Column("etag", sa.String(500)),
        sa.Column("last_modified", sa.String(100)),
        sa.Column("checked_at", UTCDateTime),
        sa.Column("status", sa.String(40)),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "watch_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(1000), nullable=False, unique=True),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("link", sa.String(1000), nullable=False),
        sa.Column("published", sa.String(100)),
        sa.Column("keywords", sa.JSON, nullable=False),
        sa.Column("first_seen", UTCDateTime, nullable=False),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(1000), nullable=False),
        sa.Column("channel", sa.String(80), nullable=False),
        sa.Column("claimed_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime),
        sa.UniqueConstraint("key", "channel"),
    )


def downgrade() -> None:
    for table in ("notifications", "watch_items", "watch_sources"):
        op.drop_table(table)

"""The first workspace schema: systems, profile versions, assessments, instrument snapshots, tracked
obligations and records.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from advisor.workspace.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "systems",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(80), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("owner", sa.String(120)),
        sa.Column("review_months", sa.Integer, nullable=False, server_default="3"),
        sa.Column("last_reviewed", sa.Date),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("updated_by", sa.String(120), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "profile_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("system_id", sa.Integer, sa.ForeignKey("systems.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.UniqueConstraint("system_id", "number"),
    )
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("system_id", sa.Integer, sa.ForeignKey("systems.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("profile_version_id", sa.Integer, sa.ForeignKey("profile_versions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("risk_level", sa.String(16), nullable=False),
        sa.Column("applicable", sa.Integer, nullable=False),
        sa.Column("to_confirm", sa.Integer, nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("corpus_version", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
    )
    op.create_table(
        "instrument_snapshots",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("instrument_id", sa.String(120), nullable=False, index=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "tracked_obligations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("system_id", sa.Integer, sa.ForeignKey("systems.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("obligation_id", sa.String(120), nullable=False),
        sa.Column("finding", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("status", sa.String(16), nullable=False, server_default="not_started"),
        sa.Column("na_reason", sa.Text),
        sa.Column("owner", sa.String(120)),
        sa.Column("due", sa.Date),
        sa.Column("due_is_default", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("month", sa.Integer, nullable=False, server_default="1"),
        sa.Column("stage", sa.String(16), nullable=False, server_default="prepare"),
        sa.Column("title_en", sa.Text, nullable=False),
        sa.Column("title_zh", sa.Text, nullable=False),
        sa.Column("citations", sa.JSON, nullable=False),
        sa.Column("checklist", sa.JSON, nullable=False),
        sa.Column("timing", sa.JSON),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("notes", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("updated_by", sa.String(120), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("system_id", "obligation_id"),
    )
    op.create_table(
        "records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("system_id", sa.Integer, sa.ForeignKey("systems.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False, index=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("updated_by", sa.String(120), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("records", "tracked_obligations", "instrument_snapshots", "assessments", "profile_versions", "systems"):
        op.drop_table(table)

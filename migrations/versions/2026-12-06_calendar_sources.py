"""calendar sources: a participant's own ICS or CalDAV calendar, read for busy times

``calendar_source`` holds each source's address, its sealed CalDAV password, its sync state
(status, last success, last error, ETag / Last-Modified), the busy intervals read from it
(UTC minutes) and the lease by which exactly one worker refreshes it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 21:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    moment = app.db.types.UTCDateTime(timezone=True)
    op.create_table(
        "calendar_source",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", text(length=8), nullable=False),
        sa.Column("url", text(length=2000), nullable=False),
        sa.Column("username", text(length=320), nullable=True),
        sa.Column("password_sealed", sa.Text(), nullable=True),
        sa.Column("status", text(length=8), nullable=False),
        sa.Column("last_synced_at", moment, nullable=True),
        sa.Column("last_error", text(length=1000), nullable=True),
        sa.Column("failing_since", moment, nullable=True),
        sa.Column("etag", text(length=500), nullable=True),
        sa.Column("last_modified", text(length=100), nullable=True),
        sa.Column("read_as", text(length=400), nullable=False),
        sa.Column("busy", sa.JSON(), nullable=False),
        sa.Column("busy_digest", text(length=64), nullable=False),
        sa.Column("next_sync_at", moment, nullable=False),
        sa.Column("lease_owner", text(length=64), nullable=True),
        sa.Column("lease_until", moment, nullable=True),
        sa.Column("created_at", moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_calendar_source_participant_id_participant"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_calendar_source_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_source")),
    )
    with op.batch_alter_table("calendar_source", schema=None) as batch_op:
        for column in ("participant_id", "workspace_id", "next_sync_at"):
            batch_op.create_index(
                batch_op.f(f"ix_calendar_source_{column}"), [column], unique=False
            )


def downgrade() -> None:
    with op.batch_alter_table("calendar_source", schema=None) as batch_op:
        for column in ("next_sync_at", "workspace_id", "participant_id"):
            batch_op.drop_index(batch_op.f(f"ix_calendar_source_{column}"))
    op.drop_table("calendar_source")

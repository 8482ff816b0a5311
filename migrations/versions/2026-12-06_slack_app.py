"""the Slack app: OAuth installs, the bot token, Slack Connect users, channel posts

``workspace`` gets the sealed bot token, the bot's user id and when it was installed;
``slack_install`` holds each install link's one-time OAuth state (hashed);
``participant.slack_team_id`` the Slack team of a user from another organisation (Slack
Connect); ``series`` a channel and how long before each occurrence it is reminded;
``slack_post`` is the outbox of channel messages.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 22:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    moment = app.db.types.UTCDateTime(timezone=True)
    with op.batch_alter_table("workspace", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slack_bot_token_sealed", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("slack_bot_user_id", text(length=32), nullable=True))
        batch_op.add_column(sa.Column("slack_installed_at", moment, nullable=True))
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slack_team_id", text(length=32), nullable=True))
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slack_channel_id", text(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("slack_reminder_minutes", sa.Integer(), server_default="60", nullable=True)
        )
    with op.batch_alter_table("series", schema=None) as batch_op:  # null means no reminders
        batch_op.alter_column("slack_reminder_minutes", server_default=None)
    op.create_table(
        "slack_install",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("state_hash", text(length=64), nullable=False),
        sa.Column("expires_at", moment, nullable=False),
        sa.Column("used_at", moment, nullable=True),
        sa.Column("created_at", moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_slack_install_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_install")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_slack_install_state_hash")),
    )
    with op.batch_alter_table("slack_install", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_slack_install_workspace_id"), ["workspace_id"], unique=False
        )
    op.create_table(
        "slack_post",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("series_id", sa.Uuid(), nullable=False),
        sa.Column("occurrence_id", sa.Uuid(), nullable=True),
        sa.Column("kind", text(length=16), nullable=False),
        sa.Column("key", text(length=200), nullable=False),
        sa.Column("channel", text(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("blocks", sa.JSON(), nullable=False),
        sa.Column("status", text(length=8), nullable=False),
        sa.Column("due_at", moment, nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", text(length=1000), nullable=True),
        sa.Column("first_attempt_at", moment, nullable=True),
        sa.Column("lease_owner", text(length=64), nullable=True),
        sa.Column("lease_until", moment, nullable=True),
        sa.Column("ts", text(length=32), nullable=True),
        sa.Column("sent_at", moment, nullable=True),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("updated_at", moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_slack_post_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_post")),
        sa.UniqueConstraint("key", name=op.f("uq_slack_post_key")),
    )
    with op.batch_alter_table("slack_post", schema=None) as batch_op:
        for column in ("due_at", "series_id", "workspace_id"):
            batch_op.create_index(batch_op.f(f"ix_slack_post_{column}"), [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slack_post", schema=None) as batch_op:
        for column in ("workspace_id", "series_id", "due_at"):
            batch_op.drop_index(batch_op.f(f"ix_slack_post_{column}"))
    op.drop_table("slack_post")
    with op.batch_alter_table("slack_install", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_install_workspace_id"))
    op.drop_table("slack_install")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_column("slack_reminder_minutes")
        batch_op.drop_column("slack_channel_id")
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.drop_column("slack_team_id")
    with op.batch_alter_table("workspace", schema=None) as batch_op:
        batch_op.drop_column("slack_installed_at")
        batch_op.drop_column("slack_bot_user_id")
        batch_op.drop_column("slack_bot_token_sealed")

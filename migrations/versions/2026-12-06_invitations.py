"""invitations: series invitation settings, RSVP answers, unsubscribes and the outbox

``series`` gets ``send_invitations``, ``organizer_email``, ``reminder_minutes``, the
invitation's ``invitation_sequence`` and ``invitation_digest``, and ``rsvp_epoch`` (bumped to
revoke RSVP links); ``series_participant`` a member's ``response`` and ``unsubscribed``;
``occurrence`` the per-occurrence ``responses``; ``delivery`` is the outbox of messages.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    moment = app.db.types.UTCDateTime(timezone=True)
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("send_invitations", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("organizer_email", text(length=320), nullable=True))
        batch_op.add_column(
            sa.Column("reminder_minutes", sa.Integer(), server_default="15", nullable=True)
        )
        batch_op.add_column(
            sa.Column("invitation_sequence", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("invitation_digest", text(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("rsvp_epoch", sa.Integer(), server_default="0", nullable=False)
        )
    # Existing series get the default reminder; afterwards the column has no server
    # default, so that an explicit null (no reminder) is stored as null by the ORM.
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.alter_column("reminder_minutes", server_default=None)
    with op.batch_alter_table("series_participant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("response", text(length=8), nullable=True))
        batch_op.add_column(
            sa.Column("unsubscribed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("responses", sa.JSON(), server_default="{}", nullable=False))
    op.create_table(
        "delivery",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("series_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=True),
        sa.Column("recipient", text(length=320), nullable=False),
        sa.Column("method", text(length=8), nullable=False),
        sa.Column("only_date", sa.Date(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("status", text(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", text(length=1000), nullable=True),
        sa.Column("next_attempt_at", moment, nullable=False),
        sa.Column("first_attempt_at", moment, nullable=True),
        sa.Column("lease_owner", text(length=64), nullable=True),
        sa.Column("lease_until", moment, nullable=True),
        sa.Column("sent_at", moment, nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("updated_at", moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_delivery_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery")),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        for column in ("next_attempt_at", "participant_id", "series_id", "workspace_id"):
            batch_op.create_index(batch_op.f(f"ix_delivery_{column}"), [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        for column in ("workspace_id", "series_id", "participant_id", "next_attempt_at"):
            batch_op.drop_index(batch_op.f(f"ix_delivery_{column}"))
    op.drop_table("delivery")
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.drop_column("responses")
    with op.batch_alter_table("series_participant", schema=None) as batch_op:
        batch_op.drop_column("unsubscribed")
        batch_op.drop_column("response")
    with op.batch_alter_table("series", schema=None) as batch_op:
        for column in (
            "rsvp_epoch",
            "invitation_digest",
            "invitation_sequence",
            "reminder_minutes",
            "organizer_email",
            "send_invitations",
        ):
            batch_op.drop_column(column)

"""quorum: each series member's attendance, each series' quorum rules, absent members

``series_participant.attendance`` ("required", "quorum" or "optional") replaces the boolean
``required``; ``series.quorum`` holds the rules (``[{"party_id", "min_attendees"}]``) and
``occurrence.absent`` the quorum members who cannot attend (participant id → reason).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("series_participant", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "attendance",
                sqlmodel.sql.sqltypes.AutoString(length=8),
                server_default="required",
                nullable=False,
            )
        )
    op.execute("UPDATE series_participant SET attendance = 'optional' WHERE NOT required")
    with op.batch_alter_table("series_participant", schema=None) as batch_op:
        batch_op.drop_column("required")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quorum", sa.JSON(), server_default="[]", nullable=False))
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("absent", sa.JSON(), server_default="{}", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.drop_column("absent")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_column("quorum")
    with op.batch_alter_table("series_participant", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("required", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    # A quorum member was counted like a required one; downgraded, they are required.
    op.execute("UPDATE series_participant SET required = (attendance <> 'optional')")
    with op.batch_alter_table("series_participant", schema=None) as batch_op:
        batch_op.drop_column("attendance")

"""past occurrences not held or not attended, and opening balances

``occurrence.held`` (false: it did not take place) and ``occurrence.not_attended`` (members
who did not come) take a past occurrence's burden out of every total; ``series.
opening_balance`` carries burden from before the service into them; ``series.replan``
("manual" or "auto") says whether a change that makes an occurrence infeasible re-schedules.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("not_attended", sa.JSON(), server_default="[]", nullable=False))
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("opening_balance", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "replan",
                sqlmodel.sql.sqltypes.AutoString(length=8),
                server_default="manual",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_column("replan")
        batch_op.drop_column("opening_balance")
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.drop_column("not_attended")
        batch_op.drop_column("held")

"""slack replay memory and sealed feed tokens

``slack_request`` remembers each signed Slack request for as long as its signature is fresh,
so a replayed one is refused on every worker. ``feed.token_sealed`` keeps a feed's token
sealed with SCHEDULER_SECRET_KEY so ``/meet feed`` can show a person's existing link.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_request",
        sa.Column("timestamp", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.PrimaryKeyConstraint("timestamp", "signature", name=op.f("pk_slack_request")),
    )
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_sealed", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.drop_column("token_sealed")
    op.drop_table("slack_request")

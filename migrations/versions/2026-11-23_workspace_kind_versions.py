"""workspace versions per kind of content

Beside ``content_version`` (any change a feed or page could show), one counter per kind of
content, so an API answer kept in memory is dropped only when what it shows changed
(app.db.content_version, app.api.read_cache).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "party_version",
    "participant_version",
    "availability_version",
    "time_off_version",
    "series_version",
    "occurrence_version",
)


def upgrade() -> None:
    with op.batch_alter_table("workspace", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("workspace", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)

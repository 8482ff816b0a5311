"""pinned and forced occurrences

``occurrence.pinned``: ``schedule`` keeps it as it is (a hand move, a swap, ``PATCH
pinned``). ``occurrence.forced_for``: members who agreed to a time past their max stretch.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pinned", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("forced_for", sa.JSON(), server_default="[]", nullable=False))
    # Occurrences already moved by hand are pinned, as a hand move now pins.
    bind = op.get_bind()
    occurrence = sa.table("occurrence", sa.column("id"), sa.column("notices", sa.JSON()))
    moved = [
        row.id
        for row in bind.execute(sa.select(occurrence.c.id, occurrence.c.notices))
        if "moved by hand" in (row.notices or [])
    ]
    for first in range(0, len(moved), 500):
        bind.execute(
            sa.text("UPDATE occurrence SET pinned = :yes WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"yes": True, "ids": moved[first : first + 500]},
        )


def downgrade() -> None:
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.drop_column("forced_for")
        batch_op.drop_column("pinned")

"""feed change notifications

Triggers that NOTIFY ``scheduler_feed_changes`` with the workspace id whenever a feed is
revoked or deleted or a workspace's content version moves (or the workspace goes), so every
worker's feed directory (app.feeds.directory) forgets what it knew, whoever wrote: the API,
the CLI or psql. PostgreSQL only; SQLite feeds always ask the database.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 22:50:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "scheduler_feed_changes"

FUNCTIONS = {
    "scheduler_notify_feed_change": f"""
        CREATE FUNCTION scheduler_notify_feed_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', OLD.workspace_id::text);
            RETURN NULL;
        END $$
    """,
    "scheduler_notify_workspace_change": f"""
        CREATE FUNCTION scheduler_notify_workspace_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', OLD.id::text);
            RETURN NULL;
        END $$
    """,
}

# (name, table, when and what)
TRIGGERS = [
    # A feed's token, revocation or scope changed, or the feed is gone.
    ("feed_changed", "feed", "AFTER UPDATE OR DELETE ON feed FOR EACH ROW "
     "EXECUTE FUNCTION scheduler_notify_feed_change()"),
    ("workspace_content_changed", "workspace", "AFTER UPDATE ON workspace FOR EACH ROW "
     "WHEN (OLD.content_version IS DISTINCT FROM NEW.content_version) "
     "EXECUTE FUNCTION scheduler_notify_workspace_change()"),
    ("workspace_deleted", "workspace", "AFTER DELETE ON workspace FOR EACH ROW "
     "EXECUTE FUNCTION scheduler_notify_workspace_change()"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for body in FUNCTIONS.values():
        op.execute(body)
    for name, _table, definition in TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} {definition}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, _definition in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    for name in FUNCTIONS:
        op.execute(f"DROP FUNCTION {name}()")

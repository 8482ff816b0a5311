"""Running and checking Alembic migrations programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def project_root() -> Path:
    """Where alembic.ini and migrations/ are: beside the source in a checkout, or in the
    working directory for an installed package (the Docker image copies them to /srv)."""
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (base / "alembic.ini").is_file() and (base / "migrations").is_dir():
            return base
    raise RuntimeError(
        "alembic.ini and migrations/ were not found; run from the directory that holds them."
    )


def alembic_config(url: str) -> Config:
    root = project_root()
    cfg = Config(str(root / "alembic.ini"))
    cfg.set_main_option("script_location", str(root / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def known_revisions(url: str) -> frozenset[str]:
    return frozenset(
        r.revision for r in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()
    )

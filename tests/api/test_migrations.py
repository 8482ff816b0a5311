"""Migrations own the schema: they are reversible and produce exactly SQLModel.metadata."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import app.db.models  # noqa: F401  (registers every table)
from app.db import migrate
from tests.conftest import BACKENDS

TABLES = {t.name for t in SQLModel.metadata.sorted_tables}


def _schema_diffs(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _version(engine: Engine) -> str | None:
    return migrate.current_revision(engine)


def test_migrated_schema_matches_the_models(engine: Engine, database_url: str) -> None:
    """Autogenerate finds nothing to do: no table, column, type, index or FK is missing."""
    assert _version(engine) == migrate.head_revision(database_url)
    assert _schema_diffs(engine) == []


def _round_trip(url: str) -> None:
    engine = create_engine(url)
    try:
        migrate.upgrade(url)
        head = migrate.head_revision(url)
        assert _version(engine) == head
        assert _tables(engine) >= TABLES
        assert _schema_diffs(engine) == []

        migrate.downgrade(url, "base")
        assert _version(engine) is None
        assert _tables(engine) <= {"alembic_version"}

        migrate.upgrade(url)
        assert _version(engine) == head
        assert _tables(engine) >= TABLES
        assert _schema_diffs(engine) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_downgrade_to_base_and_back(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        _round_trip(f"sqlite:///{tmp_path / 'round-trip.db'}")
    else:
        _postgres_round_trip(request.getfixturevalue("postgres_schema"))


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A URL whose search_path is a throw-away schema, so the shared one is left alone."""
    base = os.environ["SCHEDULER_TEST_DATABASE_URL"]  # only requested when BACKENDS has it
    schema = f"migration_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _postgres_round_trip(postgres_schema: str) -> None:
    engine = create_engine(postgres_schema)
    with engine.connect() as conn:
        # Guard: the round trip must never run against the shared schema.
        assert (
            conn.execute(text("SELECT current_schema()")).scalar_one().startswith("migration_test_")
        )
    engine.dispose()
    _round_trip(postgres_schema)


def test_one_linear_history_of_dated_reversible_files() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions and revisions[-1].down_revision is None
    versions = Path(migrate.project_root() / "migrations" / "versions")
    for rev in revisions:
        path = Path(rev.path)
        assert path.parent == versions
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}_[a-z0-9_]+\.py", path.name), path.name
        source = path.read_text()
        body = source.split("def downgrade() -> None:", 1)[1]
        assert re.search(r"op\.\w+\(", body), f"{path.name} has an empty downgrade"


@pytest.mark.parametrize("backend", BACKENDS)
def test_attendance_migration_keeps_who_is_required(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """0006 turns ``required`` into ``attendance`` (false → optional) and back again."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'attendance.db'}"
    else:
        url = request.getfixturevalue("postgres_schema")
    migrate.upgrade(url, "0005")
    engine = create_engine(url)
    rows = {str(uuid.uuid4()): True, str(uuid.uuid4()): False}
    series = str(uuid.uuid4())
    try:
        with engine.begin() as conn:
            if backend != "sqlite":  # the member rows alone: their series and people aside
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            for participant, required in rows.items():
                conn.execute(
                    text(
                        "INSERT INTO series_participant (series_id, participant_id, required) "
                        "VALUES (:s, :p, :r)"
                    ),
                    {"s": series, "p": participant, "r": required},
                )
        migrate.upgrade(url)

        def members(column: str) -> dict[str, object]:
            with engine.connect() as conn:
                found = conn.execute(
                    text(f"SELECT participant_id, {column} FROM series_participant")
                ).all()
            return {str(uuid.UUID(str(p))): value for p, value in found}

        expected = {p: "required" if r else "optional" for p, r in rows.items()}
        assert members("attendance") == expected
        migrate.downgrade(url, "0005")
        assert {p: bool(v) for p, v in members("required").items()} == rows
    finally:
        engine.dispose()

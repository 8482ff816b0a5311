"""The command line, run as a real subprocess against a temporary SQLite database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine

from app import __main__ as cli
from app.db import migrate
from app.main import create_app
from app.services import services
from app.settings import get_settings
from tests.conftest import Client, make_settings, table_counts
from tests.serving import free_port, tries_until

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    url: str, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    environment.update(SCHEDULER_DATABASE_URL=url, PYTHONPATH=str(ROOT), **(env or {}))
    # cwd is a temporary directory, so no .env file of the developer's is read.
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def client_for(portal: anyio.from_thread.BlockingPortal, db: str) -> Iterator[Any]:
    apps: list[FastAPI] = []

    def build(api_key: str) -> Client:
        if not apps:
            apps.append(create_app(make_settings(db)))
        return Client(apps[0], portal, {"Authorization": f"Bearer {api_key}"})

    yield build
    for application in apps:
        services(application).engine.dispose()


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        return table_counts(engine)
    finally:
        engine.dispose()


def test_migrate_then_create_workspace(db: str, tmp_path: Path, client_for: Any) -> None:
    r = run_cli(db, tmp_path, "migrate")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"migrated_to": migrate.head_revision(db)}

    r = run_cli(db, tmp_path, "create-workspace", "Acme ↔ OABPO")
    assert r.returncode == 0, r.stderr
    created = json.loads(r.stdout)
    assert {"id", "api_key"} <= set(created)

    api = client_for(created["api_key"])
    me = api.get("/v1/workspace")
    assert me.status_code == 200, me.text
    assert (me.json()["id"], me.json()["name"]) == (created["id"], "Acme ↔ OABPO")
    party = api.post(
        "/v1/parties", json={"name": "P", "role": "client", "timezone": "UTC", "working_hours": []}
    )
    assert party.status_code == 201, party.text
    # A wrong key is still refused on that database.
    wrong = client_for(created["api_key"] + "x").get("/v1/workspace")
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    "name",
    ["", "   ", "x" * 201, "two\nlines", "bell\x07", "del\x7f", "nel\x85"],
    ids=["empty", "blank", "too-long", "newline", "bell", "del", "c1-control"],
)
def test_create_workspace_refuses_names_the_api_refuses(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # In-process (the subprocess path is covered above): the same rules as POST /v1/workspaces.
    migrate.upgrade(db)
    monkeypatch.setenv("SCHEDULER_DATABASE_URL", db)
    get_settings.cache_clear()
    try:
        assert cli.main(["create-workspace", name]) == 2
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.startswith("error:")
    assert _counts(db)["workspace"] == 0


def test_create_workspace_on_an_unmigrated_database_fails_cleanly(db: str, tmp_path: Path) -> None:
    r = run_cli(db, tmp_path, "create-workspace", "Too early")
    assert r.returncode != 0
    assert r.stdout == ""


def test_demo_is_idempotent(db: str, tmp_path: Path, client_for: Any) -> None:
    first = run_cli(db, tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    one = json.loads(first.stdout)
    counts = _counts(db)

    second = run_cli(db, tmp_path, "demo")
    assert second.returncode == 0, second.stderr
    two = json.loads(second.stdout)

    assert two["workspace_id"] == one["workspace_id"]
    assert two["participants"] == one["participants"]
    assert len(one["participants"]) == 5
    assert two["api_key"] != one["api_key"]
    after = _counts(db)
    assert after["workspace"] == 1
    assert after["api_key"] == counts["api_key"] + 1
    # Keys, feed and share links are re-issued on every run (only hashes are stored).
    reissued = {"api_key", "feed", "share_link"}
    assert {k: v for k, v in after.items() if k not in reissued} == {
        k: v for k, v in counts.items() if k not in reissued
    }

    api = client_for(two["api_key"])
    me = api.get("/v1/workspace")
    assert me.status_code == 200, me.text
    assert me.json()["id"] == one["workspace_id"]
    people = api.get("/v1/participants").json()["items"]
    assert {p["name"]: p["id"] for p in people} == one["participants"]
    parties = {p["name"]: p for p in api.get("/v1/parties").json()["items"]}
    assert len(parties) == 3
    assert parties["OABPO Manila"]["working_hours"][0]["start"] == "21:00"
    maria = next(p for p in people if p["name"] == "Maria Santos")
    assert maria["effective_timezone"] == "Asia/Manila"
    assert maria["effective_working_hours"][0]["start"] == "09:00"


def _links(summary: dict[str, Any]) -> list[str]:
    return [*summary["feeds"].values(), *summary["share_pages"].values()]


def test_make_run_passes_its_port_to_demo_and_serve() -> None:
    r = subprocess.run(
        ["make", "-n", "run", "PORT=8100"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = r.stdout.splitlines()
    assert any(line.endswith("-m app demo --port 8100") for line in lines), r.stdout
    assert any(line.endswith("-m app serve --host 127.0.0.1 --port 8100") for line in lines)


def test_demo_links_use_the_port_served(db: str, tmp_path: Path) -> None:
    r = run_cli(db, tmp_path, "demo", "--port", "8100")
    assert r.returncode == 0, r.stderr
    links = _links(json.loads(r.stdout))
    assert len(links) == 9
    assert all(link.startswith("http://localhost:8100/") for link in links), links

    # A configured public base (a proxy in front, a real host name) wins over the port.
    env = {"SCHEDULER_PUBLIC_BASE_URL": "https://sched.example"}
    r = run_cli(db, tmp_path, "demo", "--port", "8100", env=env)
    assert r.returncode == 0, r.stderr
    assert all(link.startswith("https://sched.example/") for link in _links(json.loads(r.stdout)))


def test_serve_on_another_port_hands_out_links_to_it(db: str, tmp_path: Path) -> None:
    assert run_cli(db, tmp_path, "migrate").returncode == 0
    created = run_cli(db, tmp_path, "create-workspace", "Acme")
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)["api_key"]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    env.update(SCHEDULER_DATABASE_URL=db, PYTHONPATH=str(ROOT), SCHEDULER_LOG_LEVEL="WARNING")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        tries_until(lambda: _ready(base), within=60)
        r = httpx.post(
            f"{base}/v1/feeds",
            json={"scope": "workspace"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert r.status_code == 201, r.text
        assert r.json()["url"].startswith(f"http://localhost:{port}/feeds/"), r.json()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False

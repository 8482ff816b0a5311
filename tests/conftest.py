"""Shared fixtures: a database built by the migrations (SQLite, plus PostgreSQL when
``SCHEDULER_TEST_DATABASE_URL`` is set), the app, and real HTTP round-trips through ASGI."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event, make_url, text
from sqlmodel import SQLModel

import app.main as app_main
from app.calendars import fetch
from app.db import migrate
from app.db import models as _models  # noqa: F401  (its tables join SQLModel.metadata: _wipe)
from app.main import create_app
from app.services import services
from app.settings import Settings

ADMIN_TOKEN = "test-admin-token-0123456789"
SLACK_SECRET = "test-slack-signing-secret"
PUBLIC_BASE = "https://sched.example"

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("SCHEDULER_TEST_DATABASE_URL") else [])


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database whose schema was made by running every migration. Under pytest-xdist
    (make test) each worker has a PostgreSQL database of its own on the same server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        migrate.upgrade(url)
        yield url
        return
    url = os.environ["SCHEDULER_TEST_DATABASE_URL"]
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        _drop_everything(url)
        migrate.upgrade(url)
        yield url
        return
    own = make_url(url).set(database=f"{make_url(url).database}_{worker}")
    _recreate_database(url, own.database, create=True)
    try:
        migrate.upgrade(own.render_as_string(hide_password=False))
        yield own.render_as_string(hide_password=False)
    finally:
        _recreate_database(url, own.database, create=False)


def _recreate_database(server_url: str, name: str | None, *, create: bool) -> None:
    """Drop the database ``name`` on the server of ``server_url``, then create it afresh
    when ``create``."""
    from app.db.engine import make_engine

    engine = make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def _drop_everything(url: str) -> None:
    from app.db.engine import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "admin_token": ADMIN_TOKEN,
        "public_base_url": PUBLIC_BASE,
        "slack_signing_secret": SLACK_SECRET,
        "log_level": "WARNING",
        # The shared app takes many deliberate bad requests; tests/api/test_rate_limits.py
        # checks the limits on an app of its own.
        "feed_burst": 100_000,
        "unknown_link_burst": 100_000,
        "auth_failure_burst": 100_000,
        # Calendar sources in tests are served on loopback (tests/calendars/ics_server.py);
        # the address rule itself is tested with the default (tests/api/test_calendars.py).
        "calendar_allow_private_addresses": True,
        # The background loops of a test app (calendar refresh, email and Slack dispatch)
        # stay out of the tests' way: a test that wants one sets a short interval itself,
        # and runs dispatchers with its own clock. Slack's Web API is never the real one.
        "calendar_poll_seconds": 3600,
        "mail_poll_seconds": 3600,
        "slack_api_url": "http://127.0.0.1:9/api/",
        # An app is configured, so the install link is made (tests/slack/test_install.py
        # drives it against a local stand-in of Slack's Web API).
        "slack_client_id": "1000000000.2000000000",
        "slack_client_secret": "test-slack-client-secret",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def _loopback_names_only(host: str) -> list[str]:
    """Tests resolve no name through DNS (no traffic leaves loopback, not even a query):
    only ``localhost``, from the hosts file."""
    if host.lower().rstrip(".") != "localhost":
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return ["127.0.0.1", "::1"]


@pytest.fixture(autouse=True, scope="session")
def no_dns() -> Iterator[None]:
    """Calendar addresses named by tests (or made up by the fuzzer) never reach a resolver."""
    real = fetch._system_resolve
    fetch._system_resolve = _loopback_names_only
    yield
    fetch._system_resolve = real


@pytest.fixture(scope="session")
def portal() -> Iterator[anyio.from_thread.BlockingPortal]:
    with anyio.from_thread.start_blocking_portal() as p:
        yield p


@contextmanager
def running(application: FastAPI, portal: anyio.from_thread.BlockingPortal) -> Iterator[FastAPI]:
    """The app with its lifespan entered, as uvicorn runs it: that starts what keeps the
    feed directory exact (the LISTEN thread or the SQLite watch), so feed polls are answered
    as in production."""
    with portal.wrap_async_context_manager(application.router.lifespan_context(application)):
        if services(application).feed_listener is not None:
            deadline = time.monotonic() + 10
            while not services(application).feed_directory.live:
                assert time.monotonic() < deadline, "the feed change listener did not connect"
                time.sleep(0.01)
        yield application


@contextmanager
def clock_at(application: FastAPI, now: datetime) -> Iterator[datetime]:
    """The app's clock stands at ``now`` while the block runs. Not monkeypatch: pytest
    restores only attributes found in the instance ``__dict__``, and Starlette's State keeps
    its values elsewhere."""
    real = services(application).clock
    services(application).clock = lambda: now
    try:
        yield now
    finally:
        services(application).clock = real


# Where the app's clock stands in every test (pinned_clock below): before every date the tests
# write, so none of them has passed, whatever the real date (`make test-any-date` checks).
PINNED_NOW = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture
def pinned_now() -> datetime:
    """The instant the app's clock stands at during a test. A folder whose story happens
    at another moment overrides this fixture (tests/share, tests/slack, tests/hostile)."""
    return PINNED_NOW


@pytest.fixture(autouse=True)
def pinned_clock(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, pinned_now: datetime
) -> Iterator[datetime]:
    """No test reads the wall clock through the app: the shared app's clock stands at
    ``pinned_now``, and so does the clock of every app the test creates (create_app's
    default). ``clock_at`` or a new ``services(app).clock`` inside the test still moves it."""
    shared = request.getfixturevalue("app") if "app" in request.fixturenames else None
    monkeypatch.setattr(app_main, "utcnow", lambda: pinned_now)
    if shared is None:
        yield pinned_now
        return
    with clock_at(shared, pinned_now):
        yield pinned_now


@pytest.fixture(scope="session")
def shared_app(database_url: str, portal: anyio.from_thread.BlockingPortal) -> Iterator[FastAPI]:
    with running(create_app(make_settings(database_url)), portal) as application:
        yield application


def _wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def app(shared_app: FastAPI) -> Iterator[FastAPI]:
    yield shared_app
    _wipe(services(shared_app).engine)


@pytest.fixture
def engine(app: FastAPI) -> Engine:
    engine: Engine = services(app).engine
    return engine


class Client:
    """Synchronous facade over httpx.AsyncClient + ASGITransport (a real HTTP round-trip)."""

    def __init__(
        self,
        application: FastAPI,
        portal: anyio.from_thread.BlockingPortal,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.app = application
        self.portal = portal
        self.headers = dict(headers or {})

    def with_headers(self, **headers: str) -> Client:
        return Client(self.app, self.portal, {**self.headers, **headers})

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.portal.call(self._request, method, url, kwargs)
        return response

    async def _request(self, method: str, url: str, kwargs: dict[str, Any]) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.request(method, url, headers=headers, **kwargs)

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def patch(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PATCH", url, **kw)

    def put(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", url, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", url, **kw)

    def head(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("HEAD", url, **kw)


@pytest.fixture
def client(app: FastAPI, portal: anyio.from_thread.BlockingPortal) -> Client:
    """No credentials."""
    return Client(app, portal)


def new_workspace(client: Client, name: str = "Acme ↔ OABPO") -> tuple[Client, dict[str, Any]]:
    r = client.post("/v1/workspaces", json={"name": name}, headers={"X-Admin-Token": ADMIN_TOKEN})
    assert r.status_code == 201, r.text
    body = r.json()
    return client.with_headers(Authorization=f"Bearer {body['api_key']}"), body


@pytest.fixture
def api(client: Client) -> Client:
    """A client authenticated as a fresh workspace."""
    return new_workspace(client)[0]


@pytest.fixture
def other_api(client: Client) -> Client:
    """A client authenticated as a second, unrelated workspace."""
    return new_workspace(client, "Other tenant")[0]


NY_HOURS = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]


def make_party(api: Client, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": f"Party {uuid.uuid4().hex[:6]}",
        "role": "client",
        "timezone": "America/New_York",
        "working_hours": NY_HOURS,
        "holiday_country": "US",
    }
    body.update(overrides)
    r = api.post("/v1/parties", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def make_participant(api: Client, party_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"Person {uuid.uuid4().hex[:6]}", "party_id": party_id}
    body.update(overrides)
    r = api.post("/v1/participants", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def make_series(api: Client, participant_ids: list[str], **overrides: Any) -> dict[str, Any]:
    """A weekly review of six Tuesdays in 2027, anchored in New York."""
    body: dict[str, Any] = {
        "title": "Weekly operations review",
        "duration_minutes": 60,
        "recurrence": "FREQ=WEEKLY;BYDAY=TU",
        "start_date": "2027-01-05",
        "count": 6,
        "anchor_timezone": "America/New_York",
        "step_minutes": 30,
        "participants": [{"participant_id": p} for p in participant_ids],
    }
    body.update(overrides)
    r = api.post("/v1/series", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements the app sends through ``engine`` while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


# Every signed Slack request accepted is remembered (app.slack.verify): not a change.
BOOKKEEPING = frozenset({"slack_request"})


@contextmanager
def counting_rows(engine: Engine) -> Iterator[dict[str, int]]:
    """Row counts of every table before the block, to assert that nothing was written."""
    before = table_counts(engine)
    yield before
    after = table_counts(engine)
    changed = {t for t in after if after[t] != before.get(t)} - BOOKKEEPING
    assert not changed, f"rows changed: {before} -> {after}"


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(text(f'SELECT COUNT(*) FROM "{t.name}"')).scalar_one()
            for t in SQLModel.metadata.sorted_tables
        }

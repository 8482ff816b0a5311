"""The feed directory: on PostgreSQL a poll whose token this process knows touches no
database, and every change (through this app, another process or plain SQL) still reaches
the very poll that must see it. On SQLite every poll asks the database."""

from __future__ import annotations

import uuid

import anyio.from_thread
import psycopg
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, text

from app.db import migrate
from app.feeds.directory import ChangeListener, Entry, FeedDirectory, SqliteWatch
from app.feeds.routes import FeedCache
from app.main import create_app
from app.services import services
from tests.conftest import (
    PUBLIC_BASE,
    Client,
    make_settings,
    new_workspace,
    running,
    statements,
)
from tests.serving import fresh_postgres, libpq, tries_until

CHANGE_REACHES_WITHIN = 2.0  # seconds, for changes that travel by NOTIFY


# --- the directory's own rules ----------------------------------------------------------


def _entry(workspace: uuid.UUID) -> Entry:
    return Entry(uuid.uuid4(), workspace, 1)


def test_not_trusted_until_live_and_emptied_when_the_listener_goes() -> None:
    d = FeedDirectory()
    ws = uuid.uuid4()
    assert d.ticket() is None
    assert not d.put(d.ticket(), "a", _entry(ws))
    d.set_live(True)
    assert d.put(d.ticket(), "a", _entry(ws))
    assert d.get("a") is not None
    d.set_live(False)
    assert d.get("a") is None and len(d) == 0
    d.set_live(True)
    assert d.get("a") is None, "a new listener starts from nothing"


def test_a_lookup_that_raced_an_invalidation_is_not_remembered() -> None:
    d = FeedDirectory()
    d.set_live(True)
    ws, other = uuid.uuid4(), uuid.uuid4()
    ticket = d.ticket()  # a poll starts its database lookup ...
    d.invalidate([other])  # ... a change commits (anywhere) while it runs ...
    assert not d.put(ticket, "a", _entry(ws)), "its result may predate the change"
    assert d.put(d.ticket(), "a", _entry(ws))
    ticket = d.ticket()
    d.set_live(False)
    d.set_live(True)
    assert not d.put(ticket, "b", _entry(ws)), "a listener outage in between also counts"


def test_invalidation_drops_exactly_that_workspace_and_the_size_is_bounded() -> None:
    d = FeedDirectory(size=3)
    d.set_live(True)
    ws1, ws2 = uuid.uuid4(), uuid.uuid4()
    for digest, ws in (("a", ws1), ("b", ws1), ("c", ws2)):
        assert d.put(d.ticket(), digest, _entry(ws))
    d.invalidate([ws1])
    assert (d.get("a"), d.get("b")) == (None, None)
    assert d.get("c") is not None
    for digest in ("d", "e", "f"):
        d.put(d.ticket(), digest, _entry(ws1))
    assert len(d) == 3 and d.get("c") is None, "the oldest entry went"
    d.invalidate([ws1])
    assert len(d) == 0


# --- through the app (SQLite and PostgreSQL) --------------------------------------------


def _feed_path(api: Client) -> str:
    r = api.post("/v1/feeds", json={"scope": "workspace"})
    assert r.status_code == 201, r.text
    return str(r.json()["url"]).removeprefix(PUBLIC_BASE)


def test_a_known_token_is_served_without_the_database(
    app: FastAPI, engine: Engine, api: Client, client: Client
) -> None:
    path = _feed_path(api)
    first = client.get(path)
    assert first.status_code == 200
    with statements(engine) as sql:
        again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert sql == [], "a known token needs no query"
    directory: FeedDirectory = services(app).feed_directory
    assert directory.live and len(directory) >= 1
    watcher = services(app).feed_listener
    if engine.dialect.name == "postgresql":
        assert isinstance(watcher, ChangeListener)
    else:
        assert isinstance(watcher, SqliteWatch)  # a PRAGMA on its own connection, no query


def test_answers_from_memory_equal_the_full_routes(
    app: FastAPI, api: Client, client: Client
) -> None:
    """The first poll takes the full route (token and rendering not yet in memory); the
    next ones are answered by the FeedPolls middleware. They must not differ."""
    path = _feed_path(api)
    directory: FeedDirectory = services(app).feed_directory

    def answer(method: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        r = client.request(method, path, headers=headers)
        kept = {k: v for k, v in r.headers.items() if k != "x-request-id"}
        return r.status_code, kept, r.content

    for method, headers in [
        ("GET", {}),
        ("HEAD", {}),
        ("GET", {"If-Modified-Since": "Sun, 01 Jan 2090 00:00:00 GMT"}),
        ("GET", {"If-None-Match": '"nope", W/"other"'}),
    ]:
        directory.reset()
        services(app).feed_cache.by_workspace_version = FeedCache()
        full_route = answer(method, **headers)
        from_memory = answer(method, **headers)
        assert from_memory == full_route, (method, headers)
    etag = answer("GET")[1]["etag"]
    directory.reset()
    assert answer("GET", **{"If-None-Match": etag}) == answer("GET", **{"If-None-Match": etag})
    assert answer("GET", **{"If-None-Match": etag})[0] == 304


def test_changes_through_the_api_reach_the_next_poll(
    engine: Engine, api: Client, client: Client
) -> None:
    path = _feed_path(api)
    before = client.get(path)
    assert client.get(path).headers["etag"] == before.headers["etag"]  # cached, known token
    r = api.patch("/v1/workspace", json={"name": "Renamed tenant"})
    assert r.status_code == 200, r.text
    after = client.get(path)  # no waiting: this process forgot the workspace at commit
    assert after.status_code == 200
    assert "X-WR-CALNAME:Renamed tenant" in after.text
    assert after.headers["etag"] != before.headers["etag"]
    feed_id = api.get("/v1/feeds").json()["items"][0]["id"]
    assert api.delete(f"/v1/feeds/{feed_id}").status_code == 204
    assert client.get(path).status_code == 404


def test_changes_by_plain_sql_reach_the_polls(
    database_url: str, engine: Engine, api: Client, client: Client
) -> None:
    """A writer outside the app (an operator in psql, another service): on PostgreSQL the
    triggers' NOTIFY reaches the directory; SQLite polls read the database anyway."""
    path = _feed_path(api)
    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 200  # now known to the directory (PostgreSQL)
    outsider = create_engine(database_url)
    try:
        with outsider.begin() as conn:
            conn.execute(text("UPDATE feed SET revoked_at = CURRENT_TIMESTAMP"))
        tries = tries_until(lambda: client.get(path).status_code == 404, CHANGE_REACHES_WITHIN)
    finally:
        outsider.dispose()
    if engine.dialect.name == "sqlite":
        assert tries == 1, "SQLite: the very next poll"


# --- the listener's connection goes (PostgreSQL) ----------------------------------------


def test_a_lost_listener_falls_back_to_the_database_then_recovers(
    portal: anyio.from_thread.BlockingPortal,
) -> None:
    with fresh_postgres("listener") as url:
        dsn = url.render_as_string(hide_password=False)
        migrate.upgrade(dsn)
        with running(create_app(make_settings(dsn)), portal) as application:
            engine: Engine = services(application).engine
            directory: FeedDirectory = services(application).feed_directory
            listener = services(application).feed_listener
            assert isinstance(listener, ChangeListener)  # PostgreSQL's LISTEN, not SqliteWatch
            client = Client(application, portal)
            api = new_workspace(client)[0]
            path = _feed_path(api)
            assert client.get(path).status_code == 200
            with statements(engine) as sql:
                assert client.get(path).status_code == 200
            assert sql == []

            # The server ends the listener's session (as a restart or a network cut would).
            first_pid = listener.backend_pid
            with psycopg.connect(libpq(url), autocommit=True) as conn:
                conn.execute("SELECT pg_terminate_backend(%s)", [first_pid])
            tries_until(lambda: not directory.live, 2.0)
            with statements(engine) as sql:
                assert client.get(path).status_code == 200
            assert len(sql) == 1, "without a listener every poll asks the database"

            # It reconnects by itself, and a change it must hear about still arrives.
            tries_until(lambda: directory.live, 5.0)
            assert listener.backend_pid not in (None, first_pid)
            assert client.get(path).status_code == 200
            with statements(engine) as sql:
                assert client.get(path).status_code == 200
            assert sql == []
            with psycopg.connect(libpq(url), autocommit=True) as conn:
                conn.execute("UPDATE feed SET revoked_at = now()")
            tries_until(lambda: client.get(path).status_code == 404, CHANGE_REACHES_WITHIN)

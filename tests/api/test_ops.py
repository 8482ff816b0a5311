"""Operations: health, readiness, metrics, an unreachable database, and the error envelope
for requests that never reach a route."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from app.db import migrate
from app.main import create_app
from app.services import services
from tests.api.conftest import error_of, locs
from tests.conftest import ADMIN_TOKEN, Client, counting_rows, make_party, make_settings


@pytest.fixture
def make_client(portal: anyio.from_thread.BlockingPortal) -> Iterator[Any]:
    """Build a separate app on another database; its engine is disposed afterwards."""
    apps: list[FastAPI] = []

    def build(url: str, **overrides: Any) -> Client:
        application = create_app(make_settings(url, **overrides))
        apps.append(application)
        return Client(application, portal)

    yield build
    for application in apps:
        services(application).engine.dispose()


def test_healthz(client: Client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_readyz_at_head(client: Client, database_url: str) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    assert body["migration"] == migrate.head_revision(database_url)
    assert body["migration"] is not None
    assert body["database"] == database_url.split(":")[0].split("+")[0]


def test_readyz_is_503_when_migrations_are_missing(make_client: Any, tmp_path: Path) -> None:
    fresh = make_client(f"sqlite:///{tmp_path / 'fresh.db'}")
    r = fresh.get("/readyz")
    body = error_of(r, 503, "migrations_pending")
    assert "python -m app migrate" in body["detail"]
    assert int(r.headers["retry-after"]) > 0
    # Liveness does not depend on the database.
    assert fresh.get("/healthz").status_code == 200


def test_readyz_follows_the_migrations(make_client: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'steps.db'}"
    c = make_client(url)
    assert c.get("/readyz").status_code == 503
    migrate.upgrade(url)
    assert c.get("/readyz").status_code == 200
    migrate.downgrade(url, "base")
    error_of(c.get("/readyz"), 503, "migrations_pending")


def _sample(metrics_text: str, name: str, labels: dict[str, str]) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in metrics_text.splitlines():
        m = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if m and ",".join(sorted(m.group(1).split(","))) == want:
            return float(m.group(2))
    return 0.0


def test_metrics_count_requests_by_route_template(api: Client, client: Client) -> None:
    party = make_party(api)
    labels = {"method": "GET", "route": "/v1/parties/{party_id}", "status": "200"}
    not_found = {**labels, "status": "404"}
    before = client.get("/metrics").text
    for _ in range(3):
        assert api.get(f"/v1/parties/{party['id']}").status_code == 200
    assert api.get("/v1/parties/00000000-0000-0000-0000-000000000000").status_code == 404
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    after = r.text
    assert "# TYPE scheduler_http_requests_total counter" in after
    assert "scheduler_http_request_duration_seconds_bucket" in after
    name = "scheduler_http_requests_total"
    assert _sample(after, name, labels) - _sample(before, name, labels) == 3
    assert _sample(after, name, not_found) - _sample(before, name, not_found) == 1
    # Ids never become label values (that would explode the series count).
    assert party["id"] not in after


UNREACHABLE = {
    "postgresql-closed-port": "postgresql+psycopg://postgres@127.0.0.1:1/x",
    "sqlite-missing-directory": "sqlite:////nonexistent-directory/for/sure/scheduler.db",
}

DB_ROUTES: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]] = [
    ("GET", "/v1/workspace", None, {"Authorization": "Bearer sk_anything"}),
    ("GET", "/v1/parties", None, {"Authorization": "Bearer sk_anything"}),
    (
        "POST",
        "/v1/parties",
        {"name": "P", "role": "client", "timezone": "UTC", "working_hours": []},
        {"Authorization": "Bearer sk_anything"},
    ),
    (
        "GET",
        "/v1/participants/00000000-0000-0000-0000-000000000001",
        None,
        {"Authorization": "Bearer sk_anything"},
    ),
    ("POST", "/v1/workspaces", {"name": "W"}, {"X-Admin-Token": ADMIN_TOKEN}),
    ("GET", "/readyz", None, {}),
]


@pytest.mark.parametrize("url", list(UNREACHABLE.values()), ids=list(UNREACHABLE))
def test_unreachable_database_gives_503_quickly(make_client: Any, url: str) -> None:
    c = make_client(url, database_connect_timeout=1)
    for method, path, body, headers in DB_ROUTES:
        started = time.monotonic()
        r = c.request(method, path, json=body, headers=headers)
        elapsed = time.monotonic() - started
        assert elapsed < 5, (path, elapsed)
        err = error_of(r, 503)
        assert err["error"] == "database_unavailable", (path, err)
        assert int(r.headers["retry-after"]) > 0, path
    # The process itself is alive.
    assert c.get("/healthz").status_code == 200
    # Requests that fail before touching the database still answer as usual.
    error_of(c.get("/v1/parties"), 401, "unauthorized")
    error_of(c.get("/nowhere"), 404)


def test_unknown_path_is_a_404_envelope(client: Client, api: Client) -> None:
    for c in (client, api):
        body = error_of(c.get("/v1/nowhere"), 404, "not_found")
        assert "/docs" in body["detail"]
    error_of(client.get("/"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v1/parties"),
        ("DELETE", "/v1/workspace"),
        ("POST", "/healthz"),
        ("PUT", "/v1/participants/00000000-0000-0000-0000-000000000001"),
        ("GET", "/v1/workspaces"),
    ],
)
def test_wrong_method_is_a_405_envelope(
    api: Client, engine: Engine, method: str, path: str
) -> None:
    with counting_rows(engine):
        r = api.request(method, path, json={})
        error_of(r, 405, "method_not_allowed")
    assert r.headers.get("allow")


@pytest.mark.parametrize(
    "content",
    [b'{"name": "x",', b"not json", b'{"name": "x"}}', b"\xff\xfe", b""],
    ids=["truncated", "text", "trailing", "binary", "empty"],
)
def test_malformed_json_is_a_422_envelope(api: Client, engine: Engine, content: bytes) -> None:
    with counting_rows(engine):
        r = api.post("/v1/parties", content=content, headers={"Content-Type": "application/json"})
        err = error_of(r, 422)
    assert locs(err)[0][0] == "body"


@pytest.mark.parametrize("payload", [[], "party", 3, None], ids=["list", "string", "int", "null"])
def test_json_that_is_not_an_object_is_422(api: Client, engine: Engine, payload: Any) -> None:
    with counting_rows(engine):
        error_of(api.post("/v1/parties", json=payload), 422)
        error_of(api.patch("/v1/workspace", json=payload), 422)


def test_responses_carry_a_request_id(client: Client) -> None:
    a = client.get("/healthz").headers["x-request-id"]
    b = client.get("/healthz").headers["x-request-id"]
    assert a and b and a != b


def test_openapi_is_served(make_client: Any, database_url: str) -> None:
    # A fresh app: the shared one may have cached its schema already.
    r = make_client(database_url).get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert {"/v1/workspaces", "/v1/workspace", "/v1/parties", "/v1/participants"} <= set(paths)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a hung database)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


def test_hung_database_gives_503_within_the_connect_timeout(
    make_client: Any, silent_server: int
) -> None:
    c = make_client(
        f"postgresql+psycopg://postgres@127.0.0.1:{silent_server}/x", database_connect_timeout=1
    )
    started = time.monotonic()
    r = c.get("/v1/parties", headers={"Authorization": "Bearer sk_anything"})
    elapsed = time.monotonic() - started
    # libpq rounds connect timeouts up to 2 s; the request must not hang beyond that.
    assert elapsed < 5, elapsed
    assert error_of(r, 503)["error"] == "database_unavailable"
    assert int(r.headers["retry-after"]) > 0

"""Workspaces and API keys: admin-only creation, the key shown once, revocation at once."""

from __future__ import annotations

import uuid

import anyio.from_thread
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, text

from app.db.accounts import hash_secret
from app.main import create_app
from app.services import services
from tests.api.conftest import error_of, locs
from tests.conftest import ADMIN_TOKEN, Client, counting_rows, make_settings, new_workspace


@pytest.fixture
def development(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """PATCH binds a Slack team only in development (elsewhere the app's install does:
    tests/slack/test_install.py)."""
    monkeypatch.setattr(services(app).settings, "environment", "development")


def test_create_workspace_returns_a_working_key_once(client: Client, engine: Engine) -> None:
    r = client.post(
        "/v1/workspaces", json={"name": "Acme ↔ OABPO"}, headers={"X-Admin-Token": ADMIN_TOKEN}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "name", "api_key"}
    assert body["name"] == "Acme ↔ OABPO"
    uuid.UUID(body["id"])
    assert len(body["api_key"]) >= 32

    me = client.get("/v1/workspace", headers={"Authorization": f"Bearer {body['api_key']}"})
    assert me.status_code == 200, me.text
    assert me.json()["id"] == body["id"]
    assert me.json()["name"] == "Acme ↔ OABPO"
    assert "api_key" not in me.json()

    # Only a hash is stored: the plain key appears nowhere in the database.
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT key_hash, prefix FROM api_key")).all()
    assert [row.key_hash for row in stored] == [hash_secret(body["api_key"])]
    assert body["api_key"] not in {row.key_hash for row in stored}
    assert body["api_key"].startswith(stored[0].prefix)


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Admin-Token": "wrong"}, {"X-Admin-Token": ADMIN_TOKEN + "x"}, {"X-Admin-Token": ""}],
    ids=["missing", "wrong", "longer", "empty"],
)
def test_create_workspace_needs_the_admin_token(
    client: Client, engine: Engine, headers: dict[str, str]
) -> None:
    with counting_rows(engine):
        r = client.post("/v1/workspaces", json={"name": "Sneaky"}, headers=headers)
        error_of(r, 403, "forbidden")


def test_create_workspace_is_disabled_without_a_configured_token(
    database_url: str, engine: Engine, portal: anyio.from_thread.BlockingPortal
) -> None:
    application = create_app(make_settings(database_url, admin_token=None))
    try:
        client = Client(application, portal)
        with counting_rows(engine):
            for token in (ADMIN_TOKEN, "", "anything"):
                r = client.post(
                    "/v1/workspaces", json={"name": "Nope"}, headers={"X-Admin-Token": token}
                )
                body = error_of(r, 403, "forbidden")
                assert "SCHEDULER_ADMIN_TOKEN" in body["detail"]
    finally:
        services(application).engine.dispose()


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({}, ["body", "name"]),
        ({"name": ""}, ["body", "name"]),
        ({"name": "   "}, ["body", "name"]),
        ({"name": "x" * 201}, ["body", "name"]),
        ({"name": "two\nlines"}, ["body", "name"]),
        ({"name": 7}, ["body", "name"]),
        ({"name": "ok", "plan": "gold"}, ["body", "plan"]),
    ],
    ids=["missing", "empty", "blank", "too-long", "newline", "number", "extra-field"],
)
def test_create_workspace_validation(
    client: Client, engine: Engine, payload: dict[str, object], loc: list[str]
) -> None:
    with counting_rows(engine):
        r = client.post("/v1/workspaces", json=payload, headers={"X-Admin-Token": ADMIN_TOKEN})
        assert loc in locs(error_of(r, 422))


def test_get_and_patch_workspace(api: Client, development: None) -> None:
    r = api.get("/v1/workspace")
    assert r.status_code == 200
    before = r.json()
    assert set(before) >= {"id", "name", "slack_team_id", "created_at", "updated_at"}
    assert before["slack_team_id"] is None
    etag = r.headers["etag"]
    assert etag.startswith('W/"')

    r = api.patch("/v1/workspace", json={"name": "  Renamed  ", "slack_team_id": "T0001"})
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["name"] == "Renamed"
    assert after["slack_team_id"] == "T0001"
    assert after["updated_at"] >= before["updated_at"]
    assert after["created_at"] == before["created_at"]
    assert r.headers["etag"] != etag
    assert api.get("/v1/workspace").json() == after

    # null disconnects Slack.
    r = api.patch("/v1/workspace", json={"slack_team_id": None})
    assert r.status_code == 200, r.text
    assert r.json()["slack_team_id"] is None
    assert r.json()["name"] == "Renamed"


def test_slack_team_can_belong_to_one_workspace_only(
    api: Client, other_api: Client, engine: Engine, development: None
) -> None:
    assert api.patch("/v1/workspace", json={"slack_team_id": "T0001"}).status_code == 200
    # Setting the same value again on the owner is not a conflict.
    assert api.patch("/v1/workspace", json={"slack_team_id": "T0001"}).status_code == 200
    before = other_api.get("/v1/workspace").json()
    with counting_rows(engine):
        r = other_api.patch("/v1/workspace", json={"slack_team_id": "T0001", "name": "Thief"})
        error_of(r, 409, "conflict")
    assert other_api.get("/v1/workspace").json() == before
    # Once the owner lets go, the other workspace may take it.
    assert api.patch("/v1/workspace", json={"slack_team_id": None}).status_code == 200
    r = other_api.patch("/v1/workspace", json={"slack_team_id": "T0001"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"name": None}, ["body", "name"]),
        ({"name": ""}, ["body", "name"]),
        ({"name": "a\tb"}, ["body", "name"]),
        ({"name": "y" * 201}, ["body", "name"]),
        ({"slack_team_id": "t0001"}, ["body", "slack_team_id"]),
        ({"slack_team_id": "T 1"}, ["body", "slack_team_id"]),
        ({"slack_team_id": 12}, ["body", "slack_team_id"]),
        ({"id": str(uuid.uuid4())}, ["body", "id"]),
    ],
    ids=["null-name", "empty", "tab", "too-long", "lowercase", "space", "number", "id"],
)
def test_patch_workspace_validation(
    api: Client, engine: Engine, payload: dict[str, object], loc: list[str]
) -> None:
    before = api.get("/v1/workspace").json()
    with counting_rows(engine):
        assert loc in locs(error_of(api.patch("/v1/workspace", json=payload), 422))
    assert api.get("/v1/workspace").json() == before


def test_new_api_key_works_and_revoking_is_immediate(client: Client, engine: Engine) -> None:
    api, created = new_workspace(client)
    r = api.post("/v1/workspace/api-keys")
    assert r.status_code == 201, r.text
    key = r.json()
    assert set(key) >= {"id", "api_key", "prefix", "created_at"}
    assert key["api_key"] != created["api_key"]
    assert key["api_key"].startswith(key["prefix"])
    second = client.with_headers(Authorization=f"Bearer {key['api_key']}")
    assert second.get("/v1/workspace").json()["id"] == created["id"]

    # Revoke the second key using itself: the next request with it fails at once.
    assert second.delete(f"/v1/workspace/api-keys/{key['id']}").status_code == 204
    error_of(second.get("/v1/workspace"), 401, "unauthorized")
    error_of(second.post("/v1/workspace/api-keys"), 401, "unauthorized")
    # The first key is unaffected.
    assert api.get("/v1/workspace").status_code == 200
    # Revoking twice is a 404 (nothing to revoke), and changes nothing.
    with counting_rows(engine):
        error_of(api.delete(f"/v1/workspace/api-keys/{key['id']}"), 404, "not_found")
        error_of(api.delete(f"/v1/workspace/api-keys/{uuid.uuid4()}"), 404, "not_found")


def test_revoke_key_rejects_a_malformed_id(api: Client, engine: Engine) -> None:
    with counting_rows(engine):
        body = error_of(api.delete("/v1/workspace/api-keys/not-a-uuid"), 422)
        assert ["path", "key_id"] in locs(body)


def test_workspace_names_need_not_be_unique(client: Client) -> None:
    _, a = new_workspace(client, "Same")
    _, b = new_workspace(client, "Same")
    assert a["id"] != b["id"]


def test_slack_conflict_does_not_name_the_holder(
    api: Client, other_api: Client, development: None
) -> None:
    # The 409 for a taken Slack team must not reveal which workspace holds it.
    assert api.patch("/v1/workspace", json={"slack_team_id": "T0042"}).status_code == 200
    body = error_of(other_api.patch("/v1/workspace", json={"slack_team_id": "T0042"}), 409)
    ws = api.get("/v1/workspace").json()
    assert ws["id"] not in body["detail"]
    assert ws["name"] not in body["detail"]


def test_if_match_on_workspace_patch(api: Client, engine: Engine) -> None:
    etag = api.get("/v1/workspace").headers["etag"]
    r = api.patch("/v1/workspace", json={"name": "One"}, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    new_etag = r.headers["etag"]
    assert new_etag != etag
    assert api.get("/v1/workspace").headers["etag"] == new_etag

    with counting_rows(engine):
        r = api.patch(
            "/v1/workspace",
            json={"name": "Two", "slack_team_id": "T0009"},
            headers={"If-Match": etag},
        )
        error_of(r, 412, "precondition_failed")
    current = api.get("/v1/workspace")
    assert (current.json()["name"], current.json()["slack_team_id"]) == ("One", None)
    assert current.headers["etag"] == new_etag

    r = api.patch("/v1/workspace", json={"name": "Three"}, headers={"If-Match": "*"})
    assert r.status_code == 200 and r.json()["name"] == "Three"
    r = api.patch("/v1/workspace", json={"name": "Four"}, headers={"If-Match": r.headers["etag"]})
    assert r.status_code == 200 and r.json()["name"] == "Four"

"""Tenancy and authentication: every /v1 route refuses bad keys and hides other tenants."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from tests.api.conftest import World, error_of, populate, snapshot
from tests.conftest import Client, counting_rows, make_participant, make_party, new_workspace

TIME_OFF = {"start_date": "2027-01-04", "end_date": "2027-01-05"}
CALENDAR = "http://127.0.0.1:9/never-answered.ics"

# Every route that addresses one object, with a body that would be valid for the owner.
OBJECT_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/parties/{party}", None),
    ("PATCH", "/v1/parties/{party}", {"name": "Taken over"}),
    ("DELETE", "/v1/parties/{party}", None),
    ("GET", "/v1/participants/{participant}", None),
    ("PATCH", "/v1/participants/{participant}", {"name": "Taken over"}),
    ("DELETE", "/v1/participants/{participant}", None),
    ("GET", "/v1/participants/{participant}/time-off", None),
    ("POST", "/v1/participants/{participant}/time-off", TIME_OFF),
    ("DELETE", "/v1/participants/{participant}/time-off/{time_off}", None),
    ("GET", "/v1/participants/{participant}/calendars", None),
    # Nothing listens on loopback port 9: the owner's calendar is stored, failing.
    ("POST", "/v1/participants/{participant}/calendars", {"kind": "ics", "url": CALENDAR}),
    ("POST", "/v1/participants/{participant}/calendars/{calendar}/sync", None),
    ("DELETE", "/v1/participants/{participant}/calendars/{calendar}", None),
    ("DELETE", "/v1/workspace/api-keys/{key}", None),
]

# Every authenticated route, with a body that would be valid.
ALL_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/workspace", None),
    ("PATCH", "/v1/workspace", {"name": "Renamed"}),
    ("POST", "/v1/workspace/api-keys", None),
    ("POST", "/v1/workspace/slack/install-link", None),
    ("DELETE", "/v1/workspace/slack", None),  # the victim's workspace is connected
    ("GET", "/v1/parties", None),
    (
        "POST",
        "/v1/parties",
        {"name": "P", "role": "client", "timezone": "UTC", "working_hours": []},
    ),
    ("GET", "/v1/participants", None),
    ("POST", "/v1/participants", {"name": "Q", "party_id": "{party}"}),
    *OBJECT_ROUTES,
]


def _route_id(route: tuple[str, str, Any]) -> str:
    return f"{route[0]} {route[1]}"


def _fill(template: Any, ids: dict[str, str]) -> Any:
    if isinstance(template, str):
        return template.format(**ids)
    if isinstance(template, dict):
        return {k: _fill(v, ids) for k, v in template.items()}
    return template


# Duplicate operation ids elsewhere are test_ops.test_openapi_is_served's business.
@pytest.mark.filterwarnings("ignore:Duplicate Operation ID:UserWarning")
def test_route_tables_cover_every_v1_route(app: FastAPI) -> None:
    """A new route of these resources must be added to the tables above."""
    ours = ("/v1/workspace", "/v1/parties", "/v1/participants")
    served = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith(ours)
        for method in operations
    }
    names = {
        "party_id": "party",
        "participant_id": "participant",
        "time_off_id": "time_off",
        "calendar_id": "calendar",
        "key_id": "key",
    }
    for old, new in names.items():
        served = {(m, p.replace("{" + old + "}", "{" + new + "}")) for m, p in served}
    listed = {(m, p) for m, p, _ in ALL_ROUTES} | {("POST", "/v1/workspaces")}
    assert served == listed


@pytest.mark.parametrize(
    ("method", "path", "body"), OBJECT_ROUTES, ids=[_route_id(r) for r in OBJECT_ROUTES]
)
def test_other_workspaces_objects_are_404(
    world: World,
    other_api: Client,
    engine: Engine,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    populate(other_api)  # the attacker has objects of their own, too
    before = snapshot(world)
    with counting_rows(engine):
        r = other_api.request(method, _fill(path, world.ids()), json=body)
        err = error_of(r, 404, "not_found")
    for secret in world.ids().values():
        assert secret not in r.text
    assert "another workspace" not in err["detail"].lower()
    assert snapshot(world) == before
    # The owner still has access: the object is really there.
    if method == "GET":
        assert world.api.request("GET", _fill(path, world.ids())).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"), OBJECT_ROUTES, ids=[_route_id(r) for r in OBJECT_ROUTES]
)
def test_unknown_ids_look_the_same_as_other_workspaces_ids(
    world: World, other_api: Client, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """No existence leak: a foreign id and a random id give byte-identical answers."""
    foreign = other_api.request(method, _fill(path, world.ids()), json=body)
    random_ids = {k: str(uuid.uuid4()) for k in world.ids()}
    unknown = other_api.request(method, _fill(path, random_ids), json=body)
    assert (foreign.status_code, foreign.json()) == (unknown.status_code, unknown.json())


def test_mixing_own_participant_with_foreign_time_off(
    world: World, other_api: Client, engine: Engine
) -> None:
    theirs = populate(other_api)
    with counting_rows(engine):
        r = other_api.delete(
            f"/v1/participants/{theirs.participant['id']}/time-off/{world.time_off['id']}"
        )
        error_of(r, 404, "not_found")
    assert world.api.get(f"/v1/participants/{world.participant['id']}/time-off").json()[
        "items"
    ] == [world.time_off]


def test_lists_show_only_own_objects(world: World, other_api: Client) -> None:
    theirs = populate(other_api)
    for mine, other in ((world, theirs), (theirs, world)):
        parties = mine.api.get("/v1/parties").json()["items"]
        assert [p["id"] for p in parties] == [mine.party["id"]]
        people = mine.api.get("/v1/participants").json()["items"]
        assert [p["id"] for p in people] == [mine.participant["id"]]
        filtered = mine.api.get("/v1/participants", params={"party_id": other.party["id"]})
        assert filtered.json() == {"items": [], "next_cursor": None}


def test_foreign_party_cannot_be_used_for_participants(
    world: World, other_api: Client, engine: Engine
) -> None:
    theirs = populate(other_api)
    with counting_rows(engine):
        error_of(
            other_api.post("/v1/participants", json={"name": "X", "party_id": world.party["id"]}),
            422,
        )
        error_of(
            other_api.patch(
                f"/v1/participants/{theirs.participant['id']}", json={"party_id": world.party["id"]}
            ),
            422,
        )


BAD_AUTH: dict[str, dict[str, str]] = {
    "missing": {},
    "empty": {"Authorization": ""},
    "scheme-only": {"Authorization": "Bearer"},
    "blank-key": {"Authorization": "Bearer    "},
    "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
    "no-scheme": {"Authorization": "{key}"},
    "wrong-key": {"Authorization": "Bearer sk_this-is-not-a-key"},
    "truncated": {"Authorization": "Bearer {key_prefix}"},
    "key-hash": {"Authorization": "Bearer {key_hash}"},
    "revoked": {"Authorization": "Bearer {revoked}"},
    "huge": {"Authorization": "Bearer " + "k" * 8000},
}


@pytest.fixture
def victim(client: Client) -> tuple[World, dict[str, str]]:
    api, created = new_workspace(client)
    world = populate(api)
    revoked = api.post("/v1/workspace/api-keys").json()
    assert api.delete(f"/v1/workspace/api-keys/{revoked['id']}").status_code == 204
    from app.db.accounts import hash_secret

    secrets = {
        "key": created["api_key"],
        "key_prefix": created["api_key"][:10],
        "key_hash": hash_secret(created["api_key"]),
        "revoked": revoked["api_key"],
    }
    return world, secrets


@pytest.mark.parametrize(
    ("method", "path", "body"), ALL_ROUTES, ids=[_route_id(r) for r in ALL_ROUTES]
)
def test_every_route_needs_a_valid_key(
    client: Client,
    engine: Engine,
    victim: tuple[World, dict[str, str]],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    world, secrets = victim
    url, payload = _fill(path, world.ids()), _fill(body, world.ids())
    with counting_rows(engine):
        for auth, template in BAD_AUTH.items():
            headers = {k: v.format(**secrets) for k, v in template.items()}
            r = client.request(method, url, json=payload, headers=headers)
            assert r.status_code == 401, (auth, r.text)
            error_of(r, 401, "unauthorized")
            assert r.headers["www-authenticate"].startswith("Bearer"), auth
    # The same request with the real key gets through: the 401s were about the key alone.
    r = client.request(
        method, url, json=payload, headers={"Authorization": f"Bearer {secrets['key']}"}
    )
    still_has_members = (method, path) == ("DELETE", "/v1/parties/{party}")
    assert r.status_code == 409 if still_has_members else r.status_code < 400, r.text


@pytest.mark.parametrize(
    ("method", "path", "body"), ALL_ROUTES, ids=[_route_id(r) for r in ALL_ROUTES]
)
def test_auth_is_checked_before_the_body_and_path(
    client: Client, engine: Engine, method: str, path: str, body: dict[str, Any] | None
) -> None:
    # An unauthenticated caller learns nothing about validation, not even of the path.
    bogus = {"party": "x", "participant": "y", "time_off": "z", "key": "k", "calendar": "c"}
    with counting_rows(engine):
        r = client.request(
            method,
            _fill(path, bogus),
            json={"bogus": True},
            headers={"Authorization": "Bearer nope"},
        )
        error_of(r, 401, "unauthorized")


def test_a_valid_key_of_another_workspace_sees_only_that_workspace(
    world: World, other_api: Client
) -> None:
    assert (
        other_api.get("/v1/workspace").json()["id"] != world.api.get("/v1/workspace").json()["id"]
    )
    assert other_api.get("/v1/parties").json()["items"] == []


def test_bearer_scheme_is_case_insensitive(client: Client) -> None:
    _, created = new_workspace(client)
    r = client.get("/v1/workspace", headers={"Authorization": f"bearer {created['api_key']}"})
    assert r.status_code == 200, r.text


def test_workspace_creation_does_not_take_an_api_key(api: Client, engine: Engine) -> None:
    # A tenant's key is not an admin token.
    with counting_rows(engine):
        error_of(api.post("/v1/workspaces", json={"name": "Sub-tenant"}), 403, "forbidden")


def test_party_made_by_one_tenant_is_invisible_after_many(client: Client) -> None:
    apis = [new_workspace(client, f"T{i}")[0] for i in range(3)]
    parties = [make_party(a) for a in apis]
    people = [make_participant(a, p["id"]) for a, p in zip(apis, parties, strict=True)]
    for i, a in enumerate(apis):
        for j, p in enumerate(people):
            r = a.get(f"/v1/participants/{p['id']}")
            assert r.status_code == (200 if i == j else 404), (i, j, r.text)

"""Participants: CRUD, effective values from the party, moving party, validation, 409s."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.api.conftest import MANILA_NIGHTS, MANILA_NIGHTS_STORED, error_of, locs
from tests.conftest import NY_HOURS, Client, counting_rows, make_participant, make_party

DAY_HOURS = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}]


@pytest.fixture
def manila(api: Client) -> dict[str, Any]:
    return make_party(
        api,
        name="OABPO Manila",
        role="vendor",
        timezone="Asia/Manila",
        working_hours=MANILA_NIGHTS,
        holiday_country="PH",
    )


@pytest.fixture
def new_york(api: Client) -> dict[str, Any]:
    return make_party(
        api,
        name="Acme",
        role="client",
        timezone="America/New_York",
        working_hours=NY_HOURS,
        holiday_country="US",
        holiday_subdivision="NY",
    )


def test_participant_crud_with_party_defaults(
    api: Client, engine: Engine, manila: dict[str, Any]
) -> None:
    body = {
        "name": "Jun Reyes",
        "email": "jun@oabpo.example",
        "party_id": manila["id"],
        "timezone": None,
        "working_hours": None,
        "holiday_country": None,
        "holiday_subdivision": None,
        "slack_user_id": "U024BE7LH",
    }
    r = api.post("/v1/participants", json=body)
    assert r.status_code == 201, r.text
    jun = r.json()
    assert {k: jun[k] for k in body} == body
    assert jun["max_stretch_minutes"] == 180
    assert jun["effective_timezone"] == "Asia/Manila"
    assert jun["effective_working_hours"] == MANILA_NIGHTS_STORED
    assert jun["effective_holiday_country"] == "PH"
    assert jun["effective_holiday_subdivision"] is None
    assert set(jun) >= {"id", "created_at", "updated_at"}
    assert r.headers["etag"].startswith('W/"')

    got = api.get(f"/v1/participants/{jun['id']}")
    assert got.status_code == 200 and got.json() == jun
    assert got.headers["etag"] == r.headers["etag"]
    assert api.get("/v1/participants").json() == {"items": [jun], "next_cursor": None}

    # A party default that changes shows through at once.
    r = api.patch(f"/v1/parties/{manila['id']}", json={"timezone": "Asia/Singapore"})
    assert r.status_code == 200, r.text
    assert api.get(f"/v1/participants/{jun['id']}").json()["effective_timezone"] == (
        "Asia/Singapore"
    )

    r = api.patch(f"/v1/participants/{jun['id']}", json={"name": "Jun R.", "email": None})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["email"]) == ("Jun R.", None)
    assert r.headers["etag"] != got.headers["etag"]

    assert api.delete(f"/v1/participants/{jun['id']}").status_code == 204
    error_of(api.get(f"/v1/participants/{jun['id']}"), 404, "not_found")
    assert api.get("/v1/participants").json()["items"] == []
    with counting_rows(engine):
        error_of(api.delete(f"/v1/participants/{jun['id']}"), 404, "not_found")


def test_own_values_override_and_null_falls_back(api: Client, manila: dict[str, Any]) -> None:
    maria = make_participant(
        api,
        manila["id"],
        name="Maria Santos",
        timezone="Asia/Tokyo",
        working_hours=DAY_HOURS,
        holiday_country="JP",
        max_stretch_minutes=120,
    )
    assert maria["timezone"] == "Asia/Tokyo"
    assert maria["effective_timezone"] == "Asia/Tokyo"
    assert maria["working_hours"] == DAY_HOURS
    assert maria["effective_working_hours"] == DAY_HOURS
    assert maria["effective_holiday_country"] == "JP"
    assert maria["max_stretch_minutes"] == 120

    r = api.patch(
        f"/v1/participants/{maria['id']}",
        json={"timezone": None, "working_hours": None, "holiday_country": None},
    )
    assert r.status_code == 200, r.text
    back = r.json()
    assert (back["timezone"], back["working_hours"], back["holiday_country"]) == (None,) * 3
    assert back["effective_timezone"] == "Asia/Manila"
    assert back["effective_working_hours"] == MANILA_NIGHTS_STORED
    assert back["effective_holiday_country"] == "PH"
    assert back["max_stretch_minutes"] == 120


def test_empty_own_working_hours_do_not_fall_back(api: Client, manila: dict[str, Any]) -> None:
    # [] means "never works", which is not the same as null ("the party's").
    p = make_participant(api, manila["id"], working_hours=[])
    assert p["working_hours"] == []
    assert p["effective_working_hours"] == []


def test_own_holiday_subdivision(api: Client, manila: dict[str, Any]) -> None:
    p = make_participant(api, manila["id"], holiday_country="GB", holiday_subdivision="ENG")
    assert (p["effective_holiday_country"], p["effective_holiday_subdivision"]) == ("GB", "ENG")


def test_party_subdivision_is_inherited_with_its_country(
    api: Client, new_york: dict[str, Any]
) -> None:
    p = make_participant(api, new_york["id"])
    assert (p["effective_holiday_country"], p["effective_holiday_subdivision"]) == ("US", "NY")
    # An own country replaces the party's whole calendar, subdivision included.
    r = api.patch(f"/v1/participants/{p['id']}", json={"holiday_country": "CA"})
    assert r.status_code == 200, r.text
    assert (r.json()["effective_holiday_country"], r.json()["effective_holiday_subdivision"]) == (
        "CA",
        None,
    )


def test_moving_a_participant_to_another_party(
    api: Client, manila: dict[str, Any], new_york: dict[str, Any]
) -> None:
    p = make_participant(api, manila["id"])
    r = api.patch(f"/v1/participants/{p['id']}", json={"party_id": new_york["id"]})
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["party_id"] == new_york["id"]
    assert moved["effective_timezone"] == "America/New_York"
    assert moved["effective_working_hours"] == NY_HOURS
    assert moved["effective_holiday_subdivision"] == "NY"
    assert api.get(f"/v1/participants/{p['id']}").json() == moved
    # The old party has no one left and can be deleted now; the new one cannot.
    assert api.delete(f"/v1/parties/{manila['id']}").status_code == 204
    error_of(api.delete(f"/v1/parties/{new_york['id']}"), 409, "conflict")


def test_list_filters_by_party(
    api: Client, manila: dict[str, Any], new_york: dict[str, Any]
) -> None:
    a = make_participant(api, manila["id"])
    b = make_participant(api, new_york["id"])
    c = make_participant(api, manila["id"])

    def ids(r: httpx.Response) -> list[str]:
        return [p["id"] for p in r.json()["items"]]

    assert ids(api.get("/v1/participants", params={"party_id": manila["id"]})) == [a["id"], c["id"]]
    assert ids(api.get("/v1/participants", params={"party_id": new_york["id"]})) == [b["id"]]
    assert ids(api.get("/v1/participants", params={"party_id": str(uuid.uuid4())})) == []
    assert sorted(ids(api.get("/v1/participants"))) == sorted([a["id"], b["id"], c["id"]])
    err = error_of(api.get("/v1/participants", params={"party_id": "nope"}), 422)
    assert ["query", "party_id"] in locs(err)


INVALID_PARTICIPANTS: list[tuple[str, dict[str, Any], list[Any]]] = [
    ("zone", {"timezone": "Europe/Londn"}, ["body", "timezone"]),
    ("zone-abbrev", {"timezone": "PST"}, ["body", "timezone"]),
    (
        "hours-hhmm",
        {"working_hours": [{"days": ["mon"], "start": "9am", "end": "17:00"}]},
        ["body", "working_hours", 0, "start"],
    ),
    (
        "hours-equal",
        {"working_hours": [{"days": ["mon"], "start": "09:00", "end": "09:00"}]},
        ["body", "working_hours", 0, "end"],
    ),
    (
        "hours-start-24",
        {"working_hours": [{"days": ["mon"], "start": "24:00", "end": "01:00"}]},
        ["body", "working_hours", 0, "start"],
    ),
    (
        "hours-day",
        {"working_hours": [{"days": ["mon", "xyz"], "start": "09:00", "end": "17:00"}]},
        ["body", "working_hours", 0, "days", 1],
    ),
    (
        "hours-no-days",
        {"working_hours": [{"days": [], "start": "09:00", "end": "17:00"}]},
        ["body", "working_hours", 0, "days"],
    ),
    ("country", {"holiday_country": "ZZ"}, ["body", "holiday_country"]),
    (
        "subdivision",
        {"holiday_country": "PH", "holiday_subdivision": "NY"},
        ["body", "holiday_subdivision"],
    ),
    ("stretch-neg", {"max_stretch_minutes": -1}, ["body", "max_stretch_minutes"]),
    ("stretch-big", {"max_stretch_minutes": 721}, ["body", "max_stretch_minutes"]),
    ("stretch-float", {"max_stretch_minutes": 1.5}, ["body", "max_stretch_minutes"]),
    ("stretch-str", {"max_stretch_minutes": "lots"}, ["body", "max_stretch_minutes"]),
    ("name-long", {"name": "m" * 201}, ["body", "name"]),
    ("name-newline", {"name": "Maria\r\nSantos"}, ["body", "name"]),
    ("name-nul", {"name": "Maria\x00"}, ["body", "name"]),
    ("name-c1", {"name": "Maria\x85"}, ["body", "name"]),
    ("name-blank", {"name": "\u3000 "}, ["body", "name"]),
    ("name-missing", {"name": None}, ["body", "name"]),
    ("email", {"email": "not-an-email"}, ["body", "email"]),
    ("email-newline", {"email": "a@b.example\nBcc: x@y.example"}, ["body", "email"]),
    ("slack", {"slack_user_id": "u024be7lh"}, ["body", "slack_user_id"]),
    ("slack-long", {"slack_user_id": "U" * 33}, ["body", "slack_user_id"]),
    ("party-uuid", {"party_id": "party-1"}, ["body", "party_id"]),
    ("party-missing", {"party_id": None}, ["body", "party_id"]),
    ("party-unknown", {"party_id": "UNKNOWN"}, ["body", "party_id"]),
    ("extra", {"team": "nights"}, ["body", "team"]),
    ("effective", {"effective_timezone": "UTC"}, ["body", "effective_timezone"]),
]


@pytest.mark.parametrize(
    ("case", "change", "loc"), INVALID_PARTICIPANTS, ids=[c[0] for c in INVALID_PARTICIPANTS]
)
def test_create_participant_validation(
    api: Client,
    engine: Engine,
    manila: dict[str, Any],
    case: str,
    change: dict[str, Any],
    loc: list[Any],
) -> None:
    body: dict[str, Any] = {"name": "Maria Santos", "party_id": manila["id"], **change}
    if body["party_id"] == "UNKNOWN":
        body["party_id"] = str(uuid.uuid4())
    body = {k: v for k, v in body.items() if v is not None or k not in {"name", "party_id"}}
    with counting_rows(engine):
        err = error_of(api.post("/v1/participants", json=body), 422)
    assert loc in locs(err), err


PATCHABLE = [c for c in INVALID_PARTICIPANTS if c[0] not in {"name-missing"}]


@pytest.mark.parametrize(("case", "change", "loc"), PATCHABLE, ids=[c[0] for c in PATCHABLE])
def test_patch_participant_validation(
    api: Client,
    engine: Engine,
    manila: dict[str, Any],
    case: str,
    change: dict[str, Any],
    loc: list[Any],
) -> None:
    p = make_participant(api, manila["id"])
    body = dict(change)
    if body.get("party_id") == "UNKNOWN":
        body["party_id"] = str(uuid.uuid4())
    with counting_rows(engine):
        err = error_of(api.patch(f"/v1/participants/{p['id']}", json=body), 422)
    assert loc in locs(err), err
    assert api.get(f"/v1/participants/{p['id']}").json() == p


@pytest.mark.parametrize("field", ["name", "party_id", "max_stretch_minutes"])
def test_patch_participant_cannot_null_required_fields(
    api: Client, engine: Engine, manila: dict[str, Any], field: str
) -> None:
    p = make_participant(api, manila["id"])
    with counting_rows(engine):
        err = error_of(api.patch(f"/v1/participants/{p['id']}", json={field: None}), 422)
    assert ["body", field] in locs(err)
    assert api.get(f"/v1/participants/{p['id']}").json() == p


def test_timezone_error_suggests_close_names(api: Client, manila: dict[str, Any]) -> None:
    err = error_of(
        api.post(
            "/v1/participants",
            json={"name": "M", "party_id": manila["id"], "timezone": "America/New_Yrok"},
        ),
        422,
    )
    assert "America/New_York" in err["fields"][0]["msg"]
    assert "America/New_York" in err["detail"]


@pytest.mark.parametrize("stretch", [0, 720])
def test_stretch_bounds_are_inclusive(api: Client, manila: dict[str, Any], stretch: int) -> None:
    p = make_participant(api, manila["id"], max_stretch_minutes=stretch)
    assert p["max_stretch_minutes"] == stretch


def test_party_of_another_workspace_is_a_validation_error(
    api: Client, other_api: Client, engine: Engine, manila: dict[str, Any]
) -> None:
    theirs = make_party(other_api)
    with counting_rows(engine):
        err = error_of(
            api.post("/v1/participants", json={"name": "M", "party_id": theirs["id"]}), 422
        )
        assert ["body", "party_id"] in locs(err)
    mine = make_participant(api, manila["id"])
    with counting_rows(engine):
        err = error_of(
            api.patch(f"/v1/participants/{mine['id']}", json={"party_id": theirs["id"]}), 422
        )
        assert ["body", "party_id"] in locs(err)
    assert api.get(f"/v1/participants/{mine['id']}").json() == mine
    assert other_api.get(f"/v1/parties/{theirs['id']}").json() == theirs


def test_duplicate_slack_user_is_a_conflict(
    api: Client, other_api: Client, engine: Engine, manila: dict[str, Any]
) -> None:
    first = make_participant(api, manila["id"], slack_user_id="U024BE7LH")
    with counting_rows(engine):
        err = error_of(
            api.post(
                "/v1/participants",
                json={"name": "Copy", "party_id": manila["id"], "slack_user_id": "U024BE7LH"},
            ),
            409,
            "conflict",
        )
    assert "U024BE7LH" in err["detail"]
    second = make_participant(api, manila["id"], slack_user_id="U0SECOND")
    with counting_rows(engine):
        error_of(
            api.patch(f"/v1/participants/{second['id']}", json={"slack_user_id": "U024BE7LH"}),
            409,
            "conflict",
        )
    assert api.get(f"/v1/participants/{second['id']}").json() == second
    # Re-sending one's own id is not a conflict; nor is the same id in another workspace.
    r = api.patch(f"/v1/participants/{first['id']}", json={"slack_user_id": "U024BE7LH"})
    assert r.status_code == 200, r.text
    theirs = make_party(other_api)
    make_participant(other_api, theirs["id"], slack_user_id="U024BE7LH")
    # Unlinking frees the id for someone else.
    assert (
        api.patch(f"/v1/participants/{first['id']}", json={"slack_user_id": None}).json()[
            "slack_user_id"
        ]
        is None
    )
    r = api.patch(f"/v1/participants/{second['id']}", json={"slack_user_id": "U024BE7LH"})
    assert r.status_code == 200, r.text
    # Many participants may have no Slack id at all.
    make_participant(api, manila["id"])
    make_participant(api, manila["id"])


def test_if_match_on_participant_patch(api: Client, engine: Engine, manila: dict[str, Any]) -> None:
    p = make_participant(api, manila["id"])
    url = f"/v1/participants/{p['id']}"
    etag = api.get(url).headers["etag"]
    r = api.patch(url, json={"max_stretch_minutes": 60}, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.headers["etag"] != etag
    with counting_rows(engine):
        error_of(
            api.patch(url, json={"max_stretch_minutes": 90}, headers={"If-Match": etag}),
            412,
            "precondition_failed",
        )
    assert api.get(url).json()["max_stretch_minutes"] == 60
    r = api.patch(url, json={"max_stretch_minutes": 30}, headers={"If-Match": "*"})
    assert r.status_code == 200 and r.json()["max_stretch_minutes"] == 30


def test_time_off_leaves_the_participant_and_its_etag_as_they_were(
    api: Client, manila: dict[str, Any]
) -> None:
    """A day off is a resource of its own: the participant's representation does not show
    it, so their ETag and updated_at stay, and an edit based on an earlier read still goes
    through (no spurious 412 because someone else booked a day off meanwhile)."""
    p = make_participant(api, manila["id"])
    url = f"/v1/participants/{p['id']}"
    before = api.get(url)
    r = api.post(f"{url}/time-off", json={"start_date": "2026-12-24", "end_date": "2026-12-24"})
    assert r.status_code == 201, r.text
    after = api.get(url)
    assert after.headers["etag"] == before.headers["etag"]
    assert after.json() == before.json()
    assert api.delete(f"{url}/time-off/{r.json()['id']}").status_code == 204
    assert api.get(url).headers["etag"] == before.headers["etag"]
    r = api.patch(url, json={"name": "Still fine"}, headers={"If-Match": before.headers["etag"]})
    assert r.status_code == 200, r.text
    assert r.headers["etag"] != before.headers["etag"]


def test_deleting_a_participant_deletes_their_time_off(
    api: Client, engine: Engine, manila: dict[str, Any]
) -> None:
    p = make_participant(api, manila["id"])
    for day in ("2026-12-24", "2026-12-31"):
        r = api.post(
            f"/v1/participants/{p['id']}/time-off", json={"start_date": day, "end_date": day}
        )
        assert r.status_code == 201
    assert api.delete(f"/v1/participants/{p['id']}").status_code == 204
    from tests.conftest import table_counts

    counts = table_counts(engine)
    assert counts["time_off"] == 0 and counts["participant"] == 0
    error_of(api.get(f"/v1/participants/{p['id']}/time-off"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/participants/xyz"),
        ("PATCH", "/v1/participants/xyz"),
        ("DELETE", "/v1/participants/xyz"),
        ("GET", "/v1/participants/xyz/time-off"),
        ("POST", "/v1/participants/xyz/time-off"),
        ("DELETE", "/v1/participants/xyz/time-off/{uuid}"),
    ],
)
def test_invalid_participant_id_in_path(
    api: Client, engine: Engine, method: str, path: str
) -> None:
    body = {"start_date": "2026-12-24", "end_date": "2026-12-24"} if method == "POST" else {}
    with counting_rows(engine):
        err = error_of(api.request(method, path.format(uuid=uuid.uuid4()), json=body), 422)
    assert ["path", "participant_id"] in locs(err)


def test_invalid_time_off_id_in_path(api: Client, engine: Engine, manila: dict[str, Any]) -> None:
    p = make_participant(api, manila["id"])
    with counting_rows(engine):
        err = error_of(api.delete(f"/v1/participants/{p['id']}/time-off/12"), 422)
    assert ["path", "time_off_id"] in locs(err)

"""Parties: CRUD, validation of every field, If-Match, pagination and the delete conflict."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.api.conftest import MANILA_NIGHTS, MANILA_NIGHTS_STORED, error_of, locs
from tests.conftest import NY_HOURS, Client, counting_rows, make_participant, make_party

MANILA = {
    "name": "OABPO Manila",
    "role": "vendor",
    "timezone": "Asia/Manila",
    "working_hours": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}
    ],
    "holiday_country": "PH",
    "holiday_subdivision": None,
}


def test_party_crud(api: Client, engine: Engine) -> None:
    r = api.post("/v1/parties", json=MANILA)
    assert r.status_code == 201, r.text
    party = r.json()
    assert {k: party[k] for k in MANILA} == MANILA
    assert set(party) >= {"id", "created_at", "updated_at"}
    assert party["created_at"].endswith(("Z", "+00:00"))
    assert r.headers["etag"].startswith('W/"')

    got = api.get(f"/v1/parties/{party['id']}")
    assert got.status_code == 200
    assert got.json() == party
    assert got.headers["etag"] == r.headers["etag"]

    listed = api.get("/v1/parties").json()
    assert listed == {"items": [party], "next_cursor": None}

    r = api.patch(
        f"/v1/parties/{party['id']}",
        json={"name": "OABPO Manila (nights)", "working_hours": MANILA_NIGHTS, "role": "partner"},
    )
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["name"] == "OABPO Manila (nights)"
    assert patched["role"] == "partner"
    assert patched["working_hours"] == MANILA_NIGHTS_STORED
    assert patched["timezone"] == "Asia/Manila"  # untouched
    assert patched["updated_at"] >= party["updated_at"]
    assert r.headers["etag"] != got.headers["etag"]
    assert api.get(f"/v1/parties/{party['id']}").json() == patched

    assert api.delete(f"/v1/parties/{party['id']}").status_code == 204
    error_of(api.get(f"/v1/parties/{party['id']}"), 404, "not_found")
    assert api.get("/v1/parties").json()["items"] == []
    with counting_rows(engine):
        error_of(api.delete(f"/v1/parties/{party['id']}"), 404, "not_found")


def test_working_hours_are_normalised(api: Client) -> None:
    hours = [
        {"days": ["FRI", "mon"], "start": "21:00", "end": "06:00"},
        {"days": ["sat"], "start": "00:00", "end": "24:00"},
    ]
    party = make_party(api, working_hours=hours)
    assert party["working_hours"] == [
        {"days": ["mon", "fri"], "start": "21:00", "end": "06:00"},
        {"days": ["sat"], "start": "00:00", "end": "24:00"},
    ]
    # An empty list is allowed: the party never works.
    assert make_party(api, working_hours=[])["working_hours"] == []


@pytest.mark.parametrize("subdivision", ["NY", "CA"])
def test_holiday_subdivision(api: Client, subdivision: str) -> None:
    party = make_party(api, holiday_country="US", holiday_subdivision=subdivision)
    assert (party["holiday_country"], party["holiday_subdivision"]) == ("US", subdivision)


def _wh(**window: Any) -> list[dict[str, Any]]:
    base: dict[str, Any] = {"days": ["mon"], "start": "09:00", "end": "17:00"}
    base.update(window)
    return [base]


# (payload changes, loc that must be reported, text the message must contain)
INVALID_PARTIES: list[tuple[str, dict[str, Any], list[Any], str]] = [
    ("unknown-zone", {"timezone": "Asia/Manilla"}, ["body", "timezone"], "Asia/Manila"),
    ("zone-case", {"timezone": "asia/manila"}, ["body", "timezone"], "Asia/Manila"),
    ("zone-empty", {"timezone": ""}, ["body", "timezone"], "IANA"),
    ("zone-number", {"timezone": 8}, ["body", "timezone"], ""),
    ("zone-offset", {"timezone": "+08:00"}, ["body", "timezone"], "IANA"),
    ("zone-too-long", {"timezone": "A" * 65}, ["body", "timezone"], ""),
    (
        "bad-hhmm",
        {"working_hours": _wh(start="9:00")},
        ["body", "working_hours", 0, "start"],
        "HH:MM",
    ),
    (
        "bad-minutes",
        {"working_hours": _wh(end="17:60")},
        ["body", "working_hours", 0, "end"],
        "HH:MM",
    ),
    ("past-24", {"working_hours": _wh(end="24:30")}, ["body", "working_hours", 0, "end"], "24:00"),
    ("25h", {"working_hours": _wh(end="25:00")}, ["body", "working_hours", 0, "end"], "HH:MM"),
    (
        "start-eq-end",
        {"working_hours": _wh(start="10:00", end="10:00")},
        ["body", "working_hours", 0, "end"],
        "equal",
    ),
    (
        "midnight-both",
        {"working_hours": _wh(start="00:00", end="00:00")},
        ["body", "working_hours", 0, "end"],
        "00:00 to 24:00",
    ),
    (
        "start-24",
        {"working_hours": _wh(start="24:00", end="06:00")},
        ["body", "working_hours", 0, "start"],
        "24:00",
    ),
    (
        "weekday",
        {"working_hours": _wh(days=["monday"])},
        ["body", "working_hours", 0, "days", 0],
        "weekday",
    ),
    (
        "weekday-num",
        {"working_hours": _wh(days=[1])},
        ["body", "working_hours", 0, "days", 0],
        "weekday",
    ),
    (
        "empty-days",
        {"working_hours": _wh(days=[])},
        ["body", "working_hours", 0, "days"],
        "weekday",
    ),
    (
        "days-string",
        {"working_hours": _wh(days="mon")},
        ["body", "working_hours", 0, "days"],
        "weekday",
    ),
    ("window-extra", {"working_hours": _wh(tz="UTC")}, ["body", "working_hours", 0], "tz"),
    (
        "window-missing",
        {"working_hours": [{"days": ["mon"], "start": "09:00"}]},
        ["body", "working_hours", 0, "end"],
        "HH:MM",
    ),
    ("hours-string", {"working_hours": "09:00-17:00"}, ["body", "working_hours"], "list"),
    ("hours-null", {"working_hours": None}, ["body", "working_hours"], ""),
    ("country", {"holiday_country": "XX"}, ["body", "holiday_country"], "ISO 3166"),
    ("country-case", {"holiday_country": "ph"}, ["body", "holiday_country"], ""),
    ("country-long", {"holiday_country": "PHIL"}, ["body", "holiday_country"], ""),
    (
        "subdivision",
        {"holiday_country": "US", "holiday_subdivision": "ZZ"},
        ["body", "holiday_subdivision"],
        "Known subdivisions: AK",
    ),
    (
        "subdivision-alone",
        {"holiday_country": None, "holiday_subdivision": "NY"},
        ["body", "holiday_subdivision"],
        "holiday_country",
    ),
    ("role", {"role": "supplier"}, ["body", "role"], ""),
    ("name-long", {"name": "n" * 201}, ["body", "name"], "200"),
    ("name-newline", {"name": "OABPO\nManila"}, ["body", "name"], "control"),
    ("name-control", {"name": "OABPO\x07"}, ["body", "name"], "control"),
    ("name-del", {"name": "OABPO\x7f"}, ["body", "name"], "control"),
    ("name-line-separator", {"name": "OABPO\u2028Manila"}, ["body", "name"], "control"),
    ("name-blank", {"name": "  "}, ["body", "name"], "blank"),
    ("name-list", {"name": ["x"]}, ["body", "name"], ""),
    ("extra", {"colour": "red"}, ["body", "colour"], ""),
    ("id", {"id": str(uuid.uuid4())}, ["body", "id"], ""),
]


def _case_ids(cases: list[tuple[str, Any, Any, Any]]) -> list[str]:
    return [c[0] for c in cases]


@pytest.mark.parametrize(
    ("case", "change", "loc", "hint"), INVALID_PARTIES, ids=_case_ids(INVALID_PARTIES)
)
def test_create_party_validation(
    api: Client, engine: Engine, case: str, change: dict[str, Any], loc: list[Any], hint: str
) -> None:
    body = {**MANILA, **change}
    with counting_rows(engine):
        err = error_of(api.post("/v1/parties", json=body), 422)
    assert any(where[: len(loc)] == loc for where in locs(err)), err
    assert hint in err["detail"] or any(hint in f["msg"] for f in err["fields"]), err


@pytest.mark.parametrize(
    ("case", "change", "loc", "hint"),
    [c for c in INVALID_PARTIES if c[0] not in {"subdivision-alone"}],
    ids=[c[0] for c in INVALID_PARTIES if c[0] not in {"subdivision-alone"}],
)
def test_patch_party_validation(
    api: Client, engine: Engine, case: str, change: dict[str, Any], loc: list[Any], hint: str
) -> None:
    party = make_party(api, **MANILA)
    with counting_rows(engine):
        err = error_of(api.patch(f"/v1/parties/{party['id']}", json=change), 422)
    assert any(where[: len(loc)] == loc for where in locs(err)), err
    assert hint in err["detail"] or any(hint in f["msg"] for f in err["fields"]), err
    assert api.get(f"/v1/parties/{party['id']}").json() == party


def test_create_party_requires_fields(api: Client, engine: Engine) -> None:
    with counting_rows(engine):
        err = error_of(api.post("/v1/parties", json={}), 422)
    assert {tuple(where) for where in locs(err)} >= {
        ("body", "name"),
        ("body", "role"),
        ("body", "timezone"),
        ("body", "working_hours"),
    }


@pytest.mark.parametrize("field", ["name", "role", "timezone", "working_hours"])
def test_patch_party_cannot_null_required_fields(api: Client, engine: Engine, field: str) -> None:
    party = make_party(api)
    with counting_rows(engine):
        err = error_of(api.patch(f"/v1/parties/{party['id']}", json={field: None}), 422)
    assert ["body", field] in locs(err)
    assert api.get(f"/v1/parties/{party['id']}").json() == party


def test_patch_party_holiday_calendar(api: Client) -> None:
    party = make_party(api, holiday_country="US", holiday_subdivision="NY")
    url = f"/v1/parties/{party['id']}"
    # A subdivision of the stored country.
    r = api.patch(url, json={"holiday_subdivision": "CA"})
    assert r.status_code == 200, r.text
    assert (r.json()["holiday_country"], r.json()["holiday_subdivision"]) == ("US", "CA")
    # A subdivision that the stored country lacks.
    err = error_of(api.patch(url, json={"holiday_subdivision": "ENG"}), 422)
    assert ["body", "holiday_subdivision"] in locs(err)
    # A new country drops the old country's subdivision.
    r = api.patch(url, json={"holiday_country": "PH"})
    assert r.status_code == 200, r.text
    assert (r.json()["holiday_country"], r.json()["holiday_subdivision"]) == ("PH", None)
    # Clearing the country clears the calendar.
    r = api.patch(url, json={"holiday_country": None})
    assert r.status_code == 200, r.text
    assert (r.json()["holiday_country"], r.json()["holiday_subdivision"]) == (None, None)
    # A subdivision without a country is refused.
    err = error_of(api.patch(url, json={"holiday_subdivision": "NY"}), 422)
    assert ["body", "holiday_subdivision"] in locs(err)


def test_patch_with_empty_body_changes_nothing(api: Client) -> None:
    party = make_party(api)
    r = api.patch(f"/v1/parties/{party['id']}", json={})
    assert r.status_code == 200
    assert r.json() == party


@pytest.mark.parametrize("path", ["/v1/parties/not-a-uuid", "/v1/parties/1234"])
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_invalid_party_id_in_path(api: Client, engine: Engine, method: str, path: str) -> None:
    with counting_rows(engine):
        err = error_of(api.request(method, path, json={"name": "x"}), 422)
    assert ["path", "party_id"] in locs(err)


def test_unknown_party_is_404(api: Client, engine: Engine) -> None:
    missing = f"/v1/parties/{uuid.uuid4()}"
    with counting_rows(engine):
        for method in ("GET", "PATCH", "DELETE"):
            error_of(api.request(method, missing, json={"name": "x"}), 404, "not_found")


def test_deleting_a_party_with_participants_is_a_conflict(api: Client, engine: Engine) -> None:
    party = make_party(api)
    person = make_participant(api, party["id"])
    with counting_rows(engine):
        body = error_of(api.delete(f"/v1/parties/{party['id']}"), 409, "conflict")
    assert "participants" in body["detail"]
    assert api.get(f"/v1/parties/{party['id']}").status_code == 200
    # Once the participant is gone the party can go.
    assert api.delete(f"/v1/participants/{person['id']}").status_code == 204
    assert api.delete(f"/v1/parties/{party['id']}").status_code == 204


def test_if_match_on_party_patch(api: Client, engine: Engine) -> None:
    party = make_party(api)
    url = f"/v1/parties/{party['id']}"
    etag = api.get(url).headers["etag"]

    r = api.patch(url, json={"name": "First"}, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    new_etag = r.headers["etag"]
    assert new_etag != etag
    assert api.get(url).headers["etag"] == new_etag

    # The old ETag is stale now: 412 and nothing changes.
    with counting_rows(engine):
        error_of(
            api.patch(url, json={"name": "Second"}, headers={"If-Match": etag}),
            412,
            "precondition_failed",
        )
    current = api.get(url)
    assert current.json()["name"] == "First"
    assert current.headers["etag"] == new_etag

    # Strong form of the same tag, a list containing it, and "*" all pass.
    strong = new_etag.removeprefix("W/")
    r = api.patch(url, json={"name": "Third"}, headers={"If-Match": strong})
    assert r.status_code == 200, r.text
    r = api.patch(
        url, json={"name": "Fourth"}, headers={"If-Match": f'"nope", {r.headers["etag"]}'}
    )
    assert r.status_code == 200, r.text
    r = api.patch(url, json={"name": "Fifth"}, headers={"If-Match": "*"})
    assert r.status_code == 200, r.text
    assert api.get(url).json()["name"] == "Fifth"
    # Another object's ETag does not match this one.
    other = make_party(api)
    other_etag = api.get(f"/v1/parties/{other['id']}").headers["etag"]
    error_of(api.patch(url, json={"name": "Sixth"}, headers={"If-Match": other_etag}), 412)
    assert api.get(url).json()["name"] == "Fifth"


def test_party_roles(api: Client) -> None:
    for role in ("client", "vendor", "partner"):
        assert make_party(api, role=role)["role"] == role


def test_party_timezones_with_odd_offsets(api: Client) -> None:
    for zone in ("Asia/Kathmandu", "Asia/Kolkata", "Australia/Lord_Howe", "UTC", "Etc/GMT+12"):
        assert make_party(api, timezone=zone)["timezone"] == zone


def test_party_name_is_stripped_and_unicode_kept(api: Client) -> None:
    party = make_party(api, name="  Acme ↔ Ōsaka 株式会社  ")
    assert party["name"] == "Acme ↔ Ōsaka 株式会社"
    assert make_party(api, name="n" * 200)["name"] == "n" * 200


def test_default_hours_helper_matches(api: Client) -> None:
    # Guard for the shared fixture: make_party's defaults round-trip unchanged.
    party = make_party(api)
    assert party["working_hours"] == NY_HOURS
    assert party["holiday_country"] == "US"

"""Time off: inclusive local date ranges per participant."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.api.conftest import error_of, locs
from tests.conftest import Client, counting_rows, make_participant, make_party


@pytest.fixture
def person(api: Client) -> dict[str, Any]:
    return make_participant(api, make_party(api)["id"])


def test_time_off_create_list_delete(api: Client, engine: Engine, person: dict[str, Any]) -> None:
    url = f"/v1/participants/{person['id']}/time-off"
    r = api.post(url, json={"start_date": "2026-12-24", "end_date": "2026-12-26", "note": "Xmas"})
    assert r.status_code == 201, r.text
    xmas = r.json()
    assert set(xmas) >= {"id", "participant_id", "start_date", "end_date", "note", "created_at"}
    assert (xmas["start_date"], xmas["end_date"], xmas["note"]) == (
        "2026-12-24",
        "2026-12-26",
        "Xmas",
    )
    assert xmas["participant_id"] == person["id"]

    # One day (start == end) and no note are fine; a multi-line note is fine too.
    one = api.post(url, json={"start_date": "2027-01-01", "end_date": "2027-01-01"})
    assert one.status_code == 201, one.text
    assert one.json()["note"] is None
    lines = api.post(
        url,
        json={"start_date": "2027-02-01", "end_date": "2027-02-02", "note": "Line one\nLine two"},
    )
    assert lines.status_code == 201, lines.text

    listed = api.get(url).json()
    assert [t["id"] for t in listed["items"]] == [xmas["id"], one.json()["id"], lines.json()["id"]]
    assert listed["items"][0] == xmas
    assert listed["next_cursor"] is None

    assert api.delete(f"{url}/{one.json()['id']}").status_code == 204
    assert [t["id"] for t in api.get(url).json()["items"]] == [xmas["id"], lines.json()["id"]]
    with counting_rows(engine):
        error_of(api.delete(f"{url}/{one.json()['id']}"), 404, "not_found")
        error_of(api.delete(f"{url}/{uuid.uuid4()}"), 404, "not_found")


def test_time_off_of_one_person_cannot_be_deleted_through_another(
    api: Client, engine: Engine, person: dict[str, Any]
) -> None:
    other = make_participant(api, person["party_id"])
    r = api.post(
        f"/v1/participants/{person['id']}/time-off",
        json={"start_date": "2026-12-24", "end_date": "2026-12-24"},
    )
    off = r.json()
    with counting_rows(engine):
        error_of(api.delete(f"/v1/participants/{other['id']}/time-off/{off['id']}"), 404)
    assert api.get(f"/v1/participants/{person['id']}/time-off").json()["items"] == [off]
    assert api.get(f"/v1/participants/{other['id']}/time-off").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"start_date": "2026-12-26", "end_date": "2026-12-24"}, ["body", "end_date"]),
        ({"start_date": "2026-01-01", "end_date": "2028-01-02"}, ["body", "end_date"]),
        ({"start_date": "2026-02-30", "end_date": "2026-03-01"}, ["body", "start_date"]),
        ({"start_date": "24/12/2026", "end_date": "2026-12-26"}, ["body", "start_date"]),
        ({"start_date": "2026-12-24"}, ["body", "end_date"]),
        ({"end_date": "2026-12-24"}, ["body", "start_date"]),
        ({"start_date": None, "end_date": "2026-12-24"}, ["body", "start_date"]),
        (
            {"start_date": "2026-12-24", "end_date": "2026-12-24", "note": "n" * 501},
            ["body", "note"],
        ),
        (
            {"start_date": "2026-12-24", "end_date": "2026-12-24", "note": "bell\x07"},
            ["body", "note"],
        ),
        ({"start_date": "2026-12-24", "end_date": "2026-12-24", "note": 5}, ["body", "note"]),
        ({"start_date": "2026-12-24", "end_date": "2026-12-24", "kind": "sick"}, ["body", "kind"]),
    ],
    ids=[
        "end-before-start",
        "too-long",
        "no-such-day",
        "format",
        "no-end",
        "no-start",
        "null-start",
        "note-long",
        "note-control",
        "note-number",
        "extra",
    ],
)
def test_time_off_validation(
    api: Client, engine: Engine, person: dict[str, Any], body: dict[str, Any], loc: list[str]
) -> None:
    with counting_rows(engine):
        err = error_of(api.post(f"/v1/participants/{person['id']}/time-off", json=body), 422)
    assert loc in locs(err), err


def test_end_before_start_says_what_to_do(api: Client, person: dict[str, Any]) -> None:
    err = error_of(
        api.post(
            f"/v1/participants/{person['id']}/time-off",
            json={"start_date": "2026-12-26", "end_date": "2026-12-24"},
        ),
        422,
    )
    assert "end_date" in err["detail"] and "before" in err["detail"]


def test_time_off_for_an_unknown_participant(api: Client, engine: Engine) -> None:
    url = f"/v1/participants/{uuid.uuid4()}/time-off"
    with counting_rows(engine):
        error_of(api.post(url, json={"start_date": "2026-12-24", "end_date": "2026-12-24"}), 404)
        error_of(api.get(url), 404, "not_found")
        error_of(api.delete(f"{url}/{uuid.uuid4()}"), 404, "not_found")

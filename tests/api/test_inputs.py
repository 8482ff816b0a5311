"""Inputs that look valid but are not: each is refused with a sentence a person can act on,
and changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from tests.api.conftest import error_of, locs
from tests.conftest import Client, clock_at, counting_rows, make_participant, make_party

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)  # the horizon: 2016-12-03 to 2036-12-03


@pytest.fixture
def frozen(app: FastAPI) -> Iterator[datetime]:
    with clock_at(app, NOW) as now:
        yield now


@pytest.fixture
def people(api: Client) -> dict[str, Any]:
    party = make_party(api)
    return {"party": party, "person": make_participant(api, party["id"])}


# --- time zones ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "needles"),
    [
        ("localtime", ("not a place's time zone",)),
        ("Factory", ("not a place's time zone",)),
        ("EST", ("UTC−5 all year", "America/New_York", "Etc/GMT+5")),
        ("HST", ("UTC−10 all year", "Pacific/Honolulu")),
        ("EST5EDT", ("America/New_York",)),
        ("PST8PDT", ("America/Los_Angeles",)),
        ("Zulu", ("UTC",)),
    ],
)
def test_misleading_zone_names_are_refused_everywhere(
    api: Client, engine: Engine, people: dict[str, Any], zone: str, needles: tuple[str, ...]
) -> None:
    party, person = people["party"], people["person"]
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("post", "/v1/parties", {**_party_body(), "timezone": zone}),
        ("patch", f"/v1/parties/{party['id']}", {"timezone": zone}),
        ("post", "/v1/participants", {"name": "N", "party_id": party["id"], "timezone": zone}),
        ("patch", f"/v1/participants/{person['id']}", {"timezone": zone}),
        ("post", "/v1/series", _series_body(person["id"], anchor_timezone=zone)),
    ]
    for method, url, body in attempts:
        with counting_rows(engine):
            err = error_of(api.request(method, url, json=body), 422)
        field = "anchor_timezone" if "series" in url else "timezone"
        assert ["body", field] in locs(err), err
        for needle in needles:
            assert needle in err["detail"], err


def test_utc_and_etc_fixed_offsets_are_kept(api: Client) -> None:
    for zone in ("UTC", "Etc/UTC", "Etc/GMT+5"):
        assert make_party(api, timezone=zone)["timezone"] == zone


def _party_body() -> dict[str, Any]:
    return {"name": "P", "role": "client", "timezone": "Asia/Manila", "working_hours": []}


def _series_body(participant_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Weekly operations review",
        "duration_minutes": 60,
        "recurrence": "FREQ=WEEKLY;BYDAY=TU",
        "start_date": "2027-01-05",
        "count": 6,
        "anchor_timezone": "America/New_York",
        "participants": [{"participant_id": participant_id}],
    }
    return {**body, **overrides}


# --- bodies and messages -------------------------------------------------------------


def test_a_huge_integer_in_the_body_is_named(api: Client, engine: Engine) -> None:
    body = b'{"name": "P", "role": "client", "timezone": "UTC", "working_hours": [], "x": '
    with counting_rows(engine):
        r = api.post(
            "/v1/parties",
            content=body + b"9" * 5000 + b"}",
            headers={"Content-Type": "application/json"},
        )
    err = error_of(r, 400)
    assert "integer of more than 4300 digits" in err["detail"], err
    assert "UTF-8" not in err["detail"]


def test_a_body_that_is_not_utf8_says_so(api: Client) -> None:
    r = api.post(
        "/v1/parties",
        content='{"name": "Ōsaka"}'.encode("latin-1", "replace") + b"\xff",
        headers={"Content-Type": "application/json"},
    )
    assert "not UTF-8" in error_of(r, 400)["detail"]


@pytest.mark.parametrize(
    ("field", "value", "needles"),
    [
        ("email", "maria-at-oabpo.example", ("not an e-mail address", "maria@oabpo.example")),
        ("email", "maria@oabpo.example\n", ("not an e-mail address",)),
        ("holiday_country", "Philippines", ("ISO 3166", "e.g. PH")),
        ("holiday_country", "ph", ("e.g. PH",)),
        ("holiday_country", "United States", ("e.g. US",)),
        ("holiday_country", "X", ("ISO 3166",)),
        ("slack_user_id", "u024be7lh", ("Slack id", "U024BE7LH")),
        ("name", "n" * 201, ("at most 200 characters",)),
    ],
)
def test_constraint_errors_are_sentences_not_regexes(
    api: Client,
    engine: Engine,
    people: dict[str, Any],
    field: str,
    value: str,
    needles: tuple[str, ...],
) -> None:
    person = people["person"]
    with counting_rows(engine):
        err = error_of(api.patch(f"/v1/participants/{person['id']}", json={field: value}), 422)
    assert locs(err) == [["body", field]], err
    for needle in needles:
        assert needle in err["detail"], err
    for jargon in ("String should", "pattern", "^", "\\x00", "Value error"):
        assert jargon not in err["detail"], err


def test_subdivision_error_says_what_to_send(
    api: Client, engine: Engine, people: dict[str, Any]
) -> None:
    url = f"/v1/parties/{people['party']['id']}"
    for bad in (" NY", "", "x" * 11):
        with counting_rows(engine):
            err = error_of(api.patch(url, json={"holiday_subdivision": bad}), 422)
        assert "subdivision code" in err["detail"] and "e.g. NY" in err["detail"], err


def test_workspace_slack_team_id_error_is_a_sentence(api: Client) -> None:
    err = error_of(api.patch("/v1/workspace", json={"slack_team_id": "acme team"}), 422)
    assert "is not a Slack id" in err["detail"] and "T0001" in err["detail"], err


def test_other_constraint_errors_carry_their_numbers_in_words(api: Client) -> None:
    err = error_of(api.post("/v1/slots/search", json={"participant_ids": [], "limit": 900}), 422)
    messages = {tuple(f["loc"]): f["msg"] for f in err["fields"]}
    assert messages[("body", "participant_ids")] == "List at least 1 item."
    assert messages[("body", "limit")] == "Give at most 200."
    assert messages[("body", "duration_minutes")] == "This field is required; give a value."
    err = error_of(api.get("/v1/parties/not-an-id"), 422)
    assert "UUID, e.g. 3fa85f64" in err["detail"], err


# --- one rule for every date -----------------------------------------------------------

HORIZON = "more than 10 years from today (2026-12-03); give a date from 2016-12-03 to 2036-12-03"


@pytest.mark.parametrize(
    ("overrides", "field", "needle"),
    [
        ({"start_date": "2999-12-31", "count": 100}, "start_date", HORIZON),
        ({"start_date": "2016-12-02"}, "start_date", HORIZON),
        ({"count": None, "until": "2036-12-04"}, "until", HORIZON),
        # count may not carry the series past the horizon either (26 Tuesdays fit).
        (
            {"start_date": "2036-06-01", "count": 100},
            "count",
            "Only 27 dates of this rule fall by 2036-12-03, 10 years from today; "
            "lower count to at most 27",
        ),
    ],
)
def test_series_dates_share_one_horizon(
    api: Client,
    engine: Engine,
    frozen: datetime,
    people: dict[str, Any],
    overrides: dict[str, Any],
    field: str,
    needle: str,
) -> None:
    with counting_rows(engine):
        err = error_of(
            api.post("/v1/series", json=_series_body(people["person"]["id"], **overrides)), 422
        )
    assert locs(err) == [["body", field]], err
    assert needle in err["detail"], err


def test_a_series_up_to_the_horizon_is_accepted_and_planned(
    api: Client, frozen: datetime, people: dict[str, Any]
) -> None:
    body = _series_body(people["person"]["id"], start_date="2036-06-01", count=27)
    r = api.post("/v1/series", json=body)
    assert r.status_code == 201, r.text
    plan = api.post(f"/v1/series/{r.json()['id']}/plan").json()
    dates = [o["date"] for o in plan["occurrences"]] + [u["date"] for u in plan["unschedulable"]]
    assert len(dates) == 27 and max(dates) == "2036-12-02"
    r = api.patch(f"/v1/series/{r.json()['id']}", json={"count": 28})
    assert "Only 27 dates" in error_of(r, 422)["detail"]


def test_every_other_date_input_takes_the_same_horizon(
    api: Client, engine: Engine, frozen: datetime, people: dict[str, Any]
) -> None:
    person = people["person"]["id"]
    series = api.post("/v1/series", json=_series_body(person)).json()
    far, near = "2037-01-05", "2027-01-05"
    attempts: list[tuple[str, str, dict[str, Any], list[str]]] = [
        (
            "post",
            f"/v1/participants/{person}/time-off",
            {"json": {"start_date": near, "end_date": far}},
            ["body", "end_date"],
        ),
        (
            "post",
            "/v1/slots/search",
            {
                "json": {
                    "participant_ids": [person],
                    "duration_minutes": 60,
                    "start": "2016-12-02T23:00:00Z",
                    "end": "2016-12-05T00:00:00Z",
                }
            },
            ["body", "start"],
        ),
        (
            "get",
            f"/v1/overlap?participant_ids={person}&start={far}T00:00:00Z&end={far}T12:00:00Z",
            {},
            ["query", "start"],
        ),
        (
            "get",
            f"/v1/series/{series['id']}/occurrences?to={far}T00:00:00Z",
            {},
            ["query", "to"],
        ),
        (
            "patch",
            f"/v1/occurrences/{uuid.uuid4()}",
            {"json": {"start": f"{far}T14:00:00Z"}},
            ["body", "start"],
        ),
    ]
    for method, url, kwargs, loc in attempts:
        with counting_rows(engine):
            err = error_of(api.request(method, url, **kwargs), 422)
        assert loc in locs(err), (url, err)
        assert "10 years from today (2026-12-03)" in err["detail"], (url, err)
    # The ends of the horizon are inside.
    r = api.post(
        f"/v1/participants/{person}/time-off",
        json={"start_date": "2016-12-03", "end_date": "2016-12-03"},
    )
    assert r.status_code == 201, r.text


def test_the_horizon_follows_the_request_clock(
    app: FastAPI, api: Client, people: dict[str, Any]
) -> None:
    person = people["person"]["id"]
    body = _series_body(person, start_date="2039-01-04", count=3)
    with clock_at(app, NOW):
        assert (
            "2039-01-04 is more than 10 years"
            in error_of(api.post("/v1/series", json=body), 422)["detail"]
        )
    with clock_at(app, datetime(2030, 1, 1, tzinfo=UTC)):
        assert api.post("/v1/series", json=body).status_code == 201
    # Stored dates are not judged again: eleven years on, an old series can still be edited.
    with clock_at(app, NOW):
        old = api.post("/v1/series", json=_series_body(person, start_date="2027-01-05")).json()
    with clock_at(app, datetime(2038, 6, 1, tzinfo=UTC)):
        r = api.patch(f"/v1/series/{old['id']}", json={"title": "Renamed"})
        assert r.status_code == 200, r.text


# --- a plan that starts in the past ----------------------------------------------------


def test_a_plan_says_which_past_dates_it_skipped(
    app: FastAPI, api: Client, people: dict[str, Any]
) -> None:
    body = _series_body(people["person"]["id"], start_date="2026-12-01", count=6)
    series = api.post("/v1/series", json=body).json()
    with clock_at(app, datetime(2026, 12, 16, 12, 0, tzinfo=UTC)):
        plan = api.post(f"/v1/series/{series['id']}/plan").json()
        assert plan["skipped_past"] == {
            "count": 3,
            "first_kept": "2026-12-22",
            "detail": "3 dates of this series have passed and are not planned; "
            "the plan starts on 2026-12-22.",
        }
        assert plan["occurrences"][0]["date"] == "2026-12-22"
        stored = api.post(f"/v1/series/{series['id']}/schedule").json()
        assert stored["skipped_past"] == plan["skipped_past"]
    # A week later, the occurrence of 22 December is held: nothing more was skipped.
    with clock_at(app, datetime(2026, 12, 23, 12, 0, tzinfo=UTC)):
        later = api.post(f"/v1/series/{series['id']}/plan").json()
    assert later["skipped_past"]["count"] == 3
    assert later["skipped_past"]["first_kept"] == "2026-12-29"


def test_a_plan_from_today_skips_nothing(app: FastAPI, api: Client, people: dict[str, Any]) -> None:
    series = api.post("/v1/series", json=_series_body(people["person"]["id"])).json()
    with clock_at(app, NOW):
        plan = api.post(f"/v1/series/{series['id']}/plan").json()
    assert plan["skipped_past"] == {"count": 0, "first_kept": "2027-01-05", "detail": None}

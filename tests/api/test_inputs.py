"""Inputs that look valid but are not: each is refused with a sentence a person can act on,
and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from tests.api.conftest import error_of, locs
from tests.conftest import Client, counting_rows, make_participant, make_party


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
    attempts = [
        ("post", "/v1/parties", {**_party_body(), "timezone": zone}, "timezone"),
        ("patch", f"/v1/parties/{party['id']}", {"timezone": zone}, "timezone"),
        ("post", "/v1/participants", {"name": "N", "party_id": party["id"], "timezone": zone}),
        ("patch", f"/v1/participants/{person['id']}", {"timezone": zone}, "timezone"),
        ("post", "/v1/series", _series_body(person["id"], anchor_timezone=zone)),
    ]
    for method, url, body, *_ in attempts:
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

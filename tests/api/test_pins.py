"""Pinned, forced and swapped occurrences (docs/api.md, "PATCH /v1/occurrences"; docs/rules.md,
"Pins, forced turns and swaps"), through the API on both databases.

Ana works 09:00–17:00 in New York, Maria 21:00–06:00 in Manila (Sunday to Thursday nights):
every Tuesday has starts inside both days, so the plan's burden is zero and any burden seen
here comes from a hand move.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

import icalendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.scheduling.model import Person, parse_working_hours
from tests.api.review import NIGHTS, two_parties, weekly_review
from tests.conftest import NY_HOURS, PUBLIC_BASE, Client, make_participant
from tests.scheduling import reference


@pytest.fixture
def setup(api: Client) -> dict[str, Any]:
    ny, mnl = two_parties(api)
    ana = make_participant(api, ny["id"], name="Ana")
    maria = make_participant(api, mnl["id"], name="Maria")
    series = weekly_review(api, [{"participant_id": p["id"]} for p in (ana, maria)])
    return {"series": series, "ana": ana, "maria": maria, "ny": ny, "mnl": mnl}


def _occurrences(api: Client, series: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/v1/series/{series['id']}/occurrences").json()["items"]
    return items


# The reference's view of the two (a forced turn reaches a week past the working day).
PEOPLE = {
    "Ana": Person("ana", "America/New_York", parse_working_hours(NY_HOURS), "US"),
    "Maria": Person("maria", "Asia/Manila", parse_working_hours(NIGHTS)),
}


def _forced_burden(name: str, start: str) -> int:
    """The naive reference's burden of a 60-minute meeting past the max stretch."""
    person = replace(PEOPLE[name], max_stretch_minutes=7 * 1440)
    minutes, _ = reference.burden(person, reference.to_minute(datetime.fromisoformat(start)), 60)
    assert minutes is not None
    return minutes


def test_a_hand_move_pins_and_schedule_keeps_it(api: Client, setup: dict[str, Any]) -> None:
    series = setup["series"]
    first, second, *_ = _occurrences(api, series)
    # 18:00 in New York is 07:00 in Manila: an hour past each working day.
    r = api.patch(f"/v1/occurrences/{second['id']}", json={"start": "2027-01-12T23:00:00Z"})
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["pinned"] is True and moved["sequence"] == second["sequence"] + 1
    assert "moved by hand" in moved["notices"]
    assert "pinned: schedule keeps this time" in moved["notices"]
    paid = sum(p["burden_minutes"] for p in moved["participants"])
    assert paid > 0

    plan = api.post(f"/v1/series/{series['id']}/schedule").json()
    assert second["id"] not in [o["id"] for o in plan["occurrences"]]  # left alone
    prior = {b["participant_id"]: b["prior_minutes"] for b in plan["burden"]}
    assert sum(prior.values()) == paid  # its burden counts as already planned
    [after] = [o for o in _occurrences(api, series) if o["id"] == second["id"]]
    assert (after["start"], after["sequence"]) == (moved["start"], moved["sequence"])
    assert _occurrences(api, series)[0]["start"] == first["start"]

    # Unpinned, the next schedule puts it back where the plan wants it (sequence + 1).
    r = api.patch(f"/v1/occurrences/{second['id']}", json={"pinned": False})
    assert r.status_code == 200 and r.json()["pinned"] is False
    assert "pinned: schedule keeps this time" not in r.json()["notices"]
    unpinned = r.json()["sequence"]
    api.post(f"/v1/series/{series['id']}/schedule")
    [back] = [o for o in _occurrences(api, series) if o["id"] == second["id"]]
    assert back["start"] == second["start"] and back["sequence"] == unpinned + 1
    assert back["pinned"] is False


def test_a_forced_turn_accepts_a_time_past_the_stretch_for_who_agreed(
    api: Client, client: Client, setup: dict[str, Any]
) -> None:
    series, maria, ana = setup["series"], setup["maria"], setup["ana"]
    occ = _occurrences(api, series)[1]
    url = f"/v1/occurrences/{occ['id']}"
    # 22:00 Monday in New York is 11:00 Tuesday in Manila: five hours past both days.
    late = "2027-01-12T03:00:00Z"
    r = api.patch(url, json={"start": late})
    assert r.status_code == 422
    assert "max stretch" in r.json()["detail"] and "force it if they agreed" in r.json()["detail"]

    r = api.patch(url, json={"start": late, "force": True})
    assert r.status_code == 200, r.text
    forced = r.json()
    assert sorted(forced["forced_for"]) == sorted([ana["id"], maria["id"]])
    assert "Ana agreed to 22:00" in forced["notices"]
    assert "Maria agreed to 11:00" in forced["notices"]
    burden = {p["participant_id"]: p["burden_minutes"] for p in forced["participants"]}
    assert burden == {
        ana["id"]: _forced_burden("Ana", late),
        maria["id"]: _forced_burden("Maria", late),
    }
    assert forced["pinned"] is True

    # Moved again without force, the earlier agreement is gone.
    r = api.patch(url, json={"start": "2027-01-12T15:00:00Z"})
    assert r.status_code == 200, r.text
    assert r.json()["forced_for"] == [] and not any("agreed" in n for n in r.json()["notices"])
    sequence = r.json()["sequence"]

    # Forced again: the feed keeps the UID, its SEQUENCE grows, the description names it.
    r = api.patch(url, json={"start": late, "force": True})
    assert r.json()["sequence"] == sequence + 1
    feed = api.post("/v1/feeds", json={"scope": "series", "target_id": series["id"]})
    ics = client.get(feed.json()["url"].removeprefix(PUBLIC_BASE)).content
    [event] = [
        e
        for e in icalendar.Calendar.from_ical(ics).walk("VEVENT")
        if str(e["UID"]) == f"{occ['id']}@meeting-scheduler"
    ]
    assert event.decoded("SEQUENCE") == sequence + 1
    assert "Maria agreed to 11:00" in str(event["DESCRIPTION"])


def test_time_off_is_never_forced(api: Client, setup: dict[str, Any]) -> None:
    series, maria = setup["series"], setup["maria"]
    r = api.post(
        f"/v1/participants/{maria['id']}/time-off",
        json={"start_date": "2027-01-19", "end_date": "2027-01-20"},
    )
    assert r.status_code == 201
    occ = _occurrences(api, series)[2]
    r = api.patch(
        f"/v1/occurrences/{occ['id']}", json={"start": "2027-01-19T15:00:00Z", "force": True}
    )
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "start: Maria cannot attend then: time off. Holidays and time off cannot be forced; "
        "pick another time."
    )
    [same] = [o for o in _occurrences(api, series) if o["id"] == occ["id"]]
    assert same["sequence"] == occ["sequence"] and same["pinned"] is False
    r = api.patch(f"/v1/occurrences/{occ['id']}", json={"force": True})
    assert r.status_code == 422 and "force applies to a move" in r.text


def test_a_swap_exchanges_times_of_day_and_shows_the_balances(
    api: Client, setup: dict[str, Any]
) -> None:
    series, ana, maria = setup["series"], setup["ana"], setup["maria"]
    occs = _occurrences(api, series)
    a, b = occs[1], occs[2]
    # Make b a hard turn for Ana: 06:30 New York (19:30 Manila), 2.5 h before her day.
    r = api.patch(f"/v1/occurrences/{b['id']}", json={"start": "2027-01-19T11:30:00Z"})
    assert r.status_code == 200, r.text
    b = r.json()
    ledger = {
        p["participant_id"]: p["total_minutes"]
        for p in api.get(f"/v1/series/{series['id']}/balance").json()["participants"]
    }

    r = api.post(f"/v1/occurrences/{a['id']}/swap", json={"with": b["id"]})
    assert r.status_code == 200, r.text
    answer = r.json()
    first, second = answer["occurrences"]
    assert (
        first["start"] == "2027-01-12T11:30:00Z"
        and second["start"] == a["start"][:10].replace("01-12", "01-19") + a["start"][10:]
    )
    assert first["pinned"] and second["pinned"]
    assert f"swapped with the occurrence of {b['date']}" in first["notices"]
    assert first["sequence"] == a["sequence"] + 1 and second["sequence"] == b["sequence"] + 1
    change = {c["participant_id"]: c for c in answer["balance"]}
    assert {c["name"] for c in answer["balance"]} == {"Ana", "Maria"}
    for pid in (ana["id"], maria["id"]):
        assert change[pid]["before_minutes"] == ledger[pid]
    after = {
        p["participant_id"]: p["total_minutes"]
        for p in api.get(f"/v1/series/{series['id']}/balance").json()["participants"]
    }
    assert {pid: c["after_minutes"] for pid, c in change.items()} == after
    # The same two times of day in other weeks: the same burden moved between dates.
    assert sum(after.values()) == sum(ledger.values())


@pytest.mark.parametrize(
    ("other", "status", "words"),
    [
        ("self", 422, "another occurrence"),
        ("foreign", 422, "same series"),
        ("cancelled", 422, "is cancelled"),
        ("missing", 404, "occurrence"),
    ],
)
def test_swap_refusals_change_nothing(
    api: Client, setup: dict[str, Any], other: str, status: int, words: str
) -> None:
    series = setup["series"]
    occs = _occurrences(api, series)
    target = occs[1]["id"]
    if other == "self":
        with_ = target
    elif other == "foreign":
        body = api.get(f"/v1/series/{series['id']}").json()
        body = {k: body[k] for k in ("duration_minutes", "recurrence", "anchor_timezone")} | {
            "title": "Another",
            "start_date": "2027-02-02",
            "count": 2,
            "participants": [{"participant_id": setup["ana"]["id"]}],
        }
        another = api.post("/v1/series", json=body).json()
        api.post(f"/v1/series/{another['id']}/schedule")
        with_ = _occurrences(api, another)[0]["id"]
    elif other == "cancelled":
        with_ = occs[2]["id"]
        assert (
            api.patch(f"/v1/occurrences/{with_}", json={"status": "cancelled"}).status_code == 200
        )
    else:
        with_ = "00000000-0000-4000-8000-000000000000"
    before = _occurrences(api, series)
    r = api.post(f"/v1/occurrences/{target}/swap", json={"with": with_})
    assert r.status_code == status, r.text
    assert words in r.text
    assert _occurrences(api, series) == before


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    pins=st.lists(st.booleans(), min_size=4, max_size=4),
    hours=st.lists(st.integers(min_value=11, max_value=22), min_size=4, max_size=4),
)
def test_a_pinned_occurrence_never_moves(
    api: Client, setup: dict[str, Any], pins: list[bool], hours: list[int]
) -> None:
    """Whatever is pinned where, and whatever else changes (Maria's hours here), schedule
    leaves every pinned occurrence exactly as it was."""
    series = setup["series"]
    occs = _occurrences(api, series)
    for occ, pin, hour in zip(occs, pins, hours, strict=True):
        day = date.fromisoformat(occ["date"])
        if pin:
            start = f"{day.isoformat()}T{hour:02d}:00:00Z"
            r = api.patch(f"/v1/occurrences/{occ['id']}", json={"start": start, "force": True})
            assert r.status_code in (200, 422), r.text
            if r.status_code == 422:  # no hour forced for nobody: pin where it is
                r = api.patch(f"/v1/occurrences/{occ['id']}", json={"pinned": True})
        else:
            r = api.patch(f"/v1/occurrences/{occ['id']}", json={"pinned": False})
        assert r.status_code == 200, r.text
    api.patch(f"/v1/participants/{setup['maria']['id']}", json={"max_stretch_minutes": 60})
    before = {o["id"]: o for o in _occurrences(api, series)}
    assert api.post(f"/v1/series/{series['id']}/schedule").status_code == 200
    after = {o["id"]: o for o in _occurrences(api, series)}
    for oid, occ in before.items():
        if occ["pinned"]:
            assert after[oid] == occ
    api.patch(f"/v1/participants/{setup['maria']['id']}", json={"max_stretch_minutes": 180})

"""Stale occurrences are seen, explained and fixed (docs/rules.md, "Stale occurrences"),
through the API on both databases: stored future occurrences read against today's data.

Ana works 09:00–17:00 in New York and Maria 21:00–06:00 in Manila: every Tuesday has starts
inside both days, so the plan's burden is zero and a change of hours shows at once.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.review import two_parties, weekly_review
from tests.conftest import Client, make_participant
from tests.slack.conftest import TEAM, mrkdwn, reply_of, slash
from tests.slack.fake_api import bind_team


@pytest.fixture
def setup(api: Client) -> dict[str, Any]:
    ny, mnl = two_parties(api)
    ana = make_participant(api, ny["id"], name="Ana", slack_user_id="UANA")
    bob = make_participant(api, mnl["id"], name="Bob Martinez")
    series = weekly_review(api, [{"participant_id": p["id"]} for p in (ana, bob)])
    return {"series": series, "ana": ana, "bob": bob}


def _occurrences(api: Client, series: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/v1/series/{series['id']}/occurrences").json()["items"]
    return items


def test_time_off_after_scheduling_is_seen_said_and_fixed(
    api: Client, client: Client, setup: dict[str, Any]
) -> None:
    series, bob = setup["series"], setup["bob"]
    url = f"/v1/series/{series['id']}"
    assert api.get(url).json()["stale"] is False
    assert all(not o["stale"] for o in _occurrences(api, series))

    r = api.post(
        f"/v1/participants/{bob['id']}/time-off",
        json={"start_date": "2027-01-12", "end_date": "2027-01-13"},
    )
    assert r.status_code == 201, r.text
    # The write that caused it says so.
    assert r.json()["warnings"] == [
        "Weekly review, Tue 12 Jan: Bob Martinez cannot attend: time off."
    ]

    # The series and the occurrence say so too, with today's figures.
    seen = api.get(url).json()
    assert seen["stale"] is True
    [stale] = seen["stale_occurrences"]
    assert stale["changes"] == ["Tue 12 Jan: Bob Martinez cannot attend: time off."]
    [occ] = [o for o in _occurrences(api, series) if o["id"] == stale["occurrence_id"]]
    assert occ["stale"] and bob["id"] not in [p["participant_id"] for p in occ["participants"]]
    # Slack's next meetings show it out of date.
    bind_team(api, TEAM)
    text = mrkdwn(reply_of(slash(client, "next 4", user_id="UANA")))
    assert "out of date: Tue 12 Jan: Bob Martinez cannot attend: time off." in text

    # schedule fixes it; the occurrence it cancels says why.
    assert api.post(f"{url}/schedule").status_code == 200
    assert api.get(url).json()["stale"] is False
    [cancelled] = [o for o in _occurrences(api, series) if o["id"] == stale["occurrence_id"]]
    assert cancelled["status"] == "cancelled"
    assert any(
        n.startswith("Cancelled by schedule: Bob Martinez (Asia/Manila) is unavailable: time off")
        for n in cancelled["notices"]
    ), cancelled["notices"]


def test_changed_hours_show_the_current_burden(api: Client, setup: dict[str, Any]) -> None:
    series, ana = setup["series"], setup["ana"]
    before = _occurrences(api, series)
    assert all(p["burden_minutes"] == 0 for o in before for p in o["participants"])
    # Ana now starts at 10:00: a meeting stored at 09:00 costs her an hour at weight 1.
    first_start = before[0]["start"]
    hours = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "10:00", "end": "17:00"}]
    r = api.patch(f"/v1/participants/{ana['id']}", json={"working_hours": hours})
    assert r.status_code == 200, r.text
    after = {o["id"]: o for o in _occurrences(api, series)}
    for occ in before:
        now = after[occ["id"]]
        local = next(p for p in now["participants"] if p["participant_id"] == ana["id"])
        expected = 60 if local["local_start"][11:16] == "09:00" else 0
        assert local["burden_minutes"] == expected, (first_start, local)
        if expected:
            assert now["stale"] and now["changes"][0].endswith("Ana's burden is now 1 h (was 0 h).")
        else:
            assert not now["stale"]


def test_replan_auto_reschedules_in_the_same_write_and_says_why(
    api: Client, setup: dict[str, Any]
) -> None:
    series, bob, ana = setup["series"], setup["bob"], setup["ana"]
    url = f"/v1/series/{series['id']}"
    assert api.get(url).json()["replan"] == "manual"
    r = api.patch(url, json={"replan": "auto"})
    assert r.status_code == 200 and r.json()["replan"] == "auto"
    assert api.post(f"{url}/schedule").status_code == 200
    before = {o["id"]: o for o in _occurrences(api, series)}

    r = api.post(
        f"/v1/participants/{bob['id']}/time-off",
        json={"start_date": "2027-01-12", "end_date": "2027-01-13"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["warnings"] == [
        "Weekly review, Tue 12 Jan: Bob Martinez cannot attend: time off.",
        "Weekly review was re-planned at once (replan: auto): 1 occurrence changed.",
    ]
    after = {o["id"]: o for o in _occurrences(api, series)}
    [gone] = [o for o in after.values() if o["status"] == "cancelled"]
    assert gone["date"] == "2027-01-12"
    assert gone["sequence"] == before[gone["id"]]["sequence"] + 1
    assert "Re-planned: Bob Martinez has time off from 2027-01-12 to 2027-01-13." in gone["notices"]
    assert api.get(url).json()["stale"] is False
    for oid, occ in after.items():  # the others did not move and say nothing new
        if oid != gone["id"]:
            assert (occ["start"], occ["sequence"]) == (
                before[oid]["start"],
                before[oid]["sequence"],
            )

    # Ana now starts at 11:00 with a one-hour stretch: 09:00 is out of reach, re-planned at once.
    stored = {o["id"]: o["start"] for o in _occurrences(api, series) if o["status"] == "scheduled"}
    assert set(stored.values()) == {
        f"{d}T14:00:00Z" for d in ("2027-01-05", "2027-01-19", "2027-01-26")
    }
    hours = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "11:00", "end": "17:00"}]
    r = api.patch(
        f"/v1/participants/{ana['id']}", json={"working_hours": hours, "max_stretch_minutes": 60}
    )
    assert r.status_code == 200, r.text
    assert api.get(url).json()["stale"] is False
    for occ in _occurrences(api, series):
        if occ["id"] in stored:
            assert occ["start"] == occ["date"] + "T16:00:00Z"  # 11:00 in New York
            assert "Re-planned: Ana's availability changed." in occ["notices"]


def test_replan_auto_follows_a_change_to_the_series_itself(
    api: Client, setup: dict[str, Any]
) -> None:
    series = setup["series"]
    url = f"/v1/series/{series['id']}"
    assert api.patch(url, json={"replan": "auto"}).status_code == 200
    before = {o["id"]: o for o in _occurrences(api, series)}
    # Twelve hours from 09:00 New York run four hours past Ana's day: every stored
    # occurrence is now infeasible, and the series is re-planned in the same request.
    r = api.patch(url, json={"duration_minutes": 720})
    assert r.status_code == 200, r.text
    assert api.get(url).json()["stale"] is False
    for occ in _occurrences(api, series):
        assert (occ["start"], occ["status"]) != (before[occ["id"]]["start"], "scheduled")
        assert "Re-planned: the series changed." in occ["notices"]
        assert occ["sequence"] == before[occ["id"]]["sequence"] + 1

"""Quorum through the API (docs/api.md, "Series"; docs/rules.md, "Quorum"), on both databases:
members' ``attendance``, the series' ``quorum`` rules, absent quorum members in plans,
stored occurrences, hand moves and feeds. Every refusal is a 422 that changes nothing."""

from __future__ import annotations

from typing import Any

import icalendar
import pytest

from tests.api.review import two_parties
from tests.conftest import PUBLIC_BASE, Client, make_participant
from tests.slack.conftest import TEAM, mrkdwn, reply_of, slash
from tests.slack.fake_api import bind_team

MANILA = "Asia/Manila"


@pytest.fixture
def people(api: Client) -> dict[str, Any]:
    ny, mnl = two_parties(api)
    found: dict[str, Any] = {"ny": ny, "mnl": mnl}
    found["ana"] = make_participant(api, ny["id"], name="Ana")
    for name in ("Maria", "Jun", "Lea"):
        found[name.lower()] = make_participant(api, mnl["id"], name=name)
    return found


def _body(people: dict[str, Any], k: int = 2, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Weekly review",
        "duration_minutes": 60,
        "recurrence": "FREQ=WEEKLY;BYDAY=TU",
        "start_date": "2027-01-05",
        "count": 4,
        "anchor_timezone": "America/New_York",
        "step_minutes": 30,
        "participants": [
            {"participant_id": people["ana"]["id"], "attendance": "required"},
            *(
                {"participant_id": people[n]["id"], "attendance": "quorum"}
                for n in ("maria", "jun", "lea")
            ),
        ],
        "quorum": [{"party_id": people["mnl"]["id"], "min_attendees": k}],
    }
    body.update(overrides)
    return body


def _series_count(api: Client) -> int:
    return len(api.get("/v1/series", params={"limit": 200}).json()["items"])


def test_members_carry_attendance_and_the_series_its_quorum(
    api: Client, people: dict[str, Any]
) -> None:
    r = api.post("/v1/series", json=_body(people))
    assert r.status_code == 201, r.text
    series = r.json()
    attendance = {
        m["participant_id"]: (m["attendance"], m["required"]) for m in series["participants"]
    }
    assert attendance[people["ana"]["id"]] == ("required", True)
    assert attendance[people["jun"]["id"]] == ("quorum", False)
    assert series["quorum"] == [{"party_id": people["mnl"]["id"], "min_attendees": 2}]
    assert api.get(f"/v1/series/{series['id']}").json()["quorum"] == series["quorum"]

    # The older boolean is still read, and both spellings agree.
    body = _body(people, quorum=[])
    body["participants"] = [
        {"participant_id": people["ana"]["id"]},
        {"participant_id": people["maria"]["id"], "required": False},
        {"participant_id": people["jun"]["id"], "required": True, "attendance": "required"},
    ]
    r = api.post("/v1/series", json=body)
    assert r.status_code == 201, r.text
    got = {m["participant_id"]: m["attendance"] for m in r.json()["participants"]}
    assert got == {
        people["ana"]["id"]: "required",
        people["maria"]["id"]: "optional",
        people["jun"]["id"]: "required",
    }

    # PATCH changes the rule; a rule the members cannot meet is refused and changes nothing.
    url = f"/v1/series/{series['id']}"
    r = api.patch(url, json={"quorum": [{"party_id": people["mnl"]["id"], "min_attendees": 3}]})
    assert r.status_code == 200, r.text
    assert r.json()["quorum"][0]["min_attendees"] == 3
    r = api.patch(url, json={"quorum": [{"party_id": people["mnl"]["id"], "min_attendees": 4}]})
    assert r.status_code == 422
    assert "min_attendees from 1 to 3" in r.json()["detail"]
    assert api.get(url).json()["quorum"][0]["min_attendees"] == 3


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        pytest.param(
            {"min_attendees": 4}, 422, "min_attendees from 1 to 3", id="more-than-members"
        ),
        pytest.param({"min_attendees": 0}, 422, "Give at least 1.", id="zero"),
        pytest.param({"min_attendees": 1.5}, 422, "whole number", id="fraction"),
        pytest.param({"party": "ny"}, 422, "has no quorum members", id="party-without-members"),
        pytest.param({"party": "nowhere"}, 422, "does not name a party", id="unknown-party"),
        pytest.param({"rules": []}, 422, "which has no quorum rule", id="members-without-rule"),
        pytest.param({"twice": True}, 422, "two quorum rules", id="rule-twice"),
        pytest.param(
            {"contradiction": True}, 422, "contradicts attendance", id="flag-vs-attendance"
        ),
    ],
)
def test_quorum_refusals_name_the_fix_and_change_nothing(
    api: Client, people: dict[str, Any], change: dict[str, Any], status: int, words: str
) -> None:
    body = _body(people)
    rule = body["quorum"][0]
    if "min_attendees" in change:
        rule["min_attendees"] = change["min_attendees"]
    if change.get("party") == "ny":
        rule["party_id"] = people["ny"]["id"]
    if change.get("party") == "nowhere":
        rule["party_id"] = "00000000-0000-4000-8000-000000000000"
    if "rules" in change:
        body["quorum"] = change["rules"]
    if change.get("twice"):
        body["quorum"] = [rule, dict(rule)]
    if change.get("contradiction"):
        body["participants"][1]["required"] = True
    before = _series_count(api)
    r = api.post("/v1/series", json=body)
    assert r.status_code == status, r.text
    assert words in r.text
    assert _series_count(api) == before


def test_a_quorum_member_on_time_off_is_absent_and_the_meeting_is_held(
    api: Client, client: Client, people: dict[str, Any]
) -> None:
    jun = people["jun"]
    r = api.post(
        f"/v1/participants/{jun['id']}/time-off",
        json={"start_date": "2027-01-12", "end_date": "2027-01-13"},
    )
    assert r.status_code == 201, r.text
    series = api.post("/v1/series", json=_body(people)).json()
    plan = api.post(f"/v1/series/{series['id']}/plan").json()
    assert plan["unschedulable"] == []
    by_date = {o["date"]: o for o in plan["occurrences"]}
    held = by_date["2027-01-12"]
    assert held["absent"] == [{"participant_id": jun["id"], "reason": "time off"}]
    assert jun["id"] not in [p["participant_id"] for p in held["participants"]]
    assert "Jun (quorum) is absent: time off." in held["notices"]
    assert all(o["absent"] == [] for d, o in by_date.items() if d != "2027-01-12")
    attendance = {b["participant_id"]: b["attendance"] for b in plan["burden"]}
    assert attendance[jun["id"]] == "quorum" and attendance[people["ana"]["id"]] == "required"

    # Stored, the occurrence says the same.
    assert api.post(f"/v1/series/{series['id']}/schedule").status_code == 200
    stored = api.get(f"/v1/series/{series['id']}/occurrences").json()["items"]
    [row] = [o for o in stored if o["date"] == "2027-01-12"]
    assert row["absent"] == [{"participant_id": jun["id"], "reason": "time off"}]

    # The feed names who is absent and why.
    r = api.post("/v1/feeds", json={"scope": "series", "target_id": series["id"]})
    ics = client.get(r.json()["url"].removeprefix(PUBLIC_BASE)).content
    [event] = [
        e
        for e in icalendar.Calendar.from_ical(ics).walk("VEVENT")
        if str(e["UID"]) == f"{row['id']}@meeting-scheduler"
    ]
    assert "- Jun (quorum), Manila team: " in str(event["DESCRIPTION"])
    assert "absent: time off" in str(event["DESCRIPTION"])

    # Slack's /meet next names who is absent and why.
    bind_team(api, TEAM)
    ana = people["ana"]["id"]
    assert api.patch(f"/v1/participants/{ana}", json={"slack_user_id": "UANA"}).status_code == 200
    text = mrkdwn(reply_of(slash(client, "next 2", user_id="UANA")))
    assert text.count("absent: Jun (time off)") == 1, text

    # The share page shows Jun absent that week, with the reason.
    token = api.post(f"/v1/series/{series['id']}/share").json()["url"].rsplit("/", 1)[-1]
    page = client.get(f"/share/{token}", params={"week": "2027-01-11"}).text
    assert "Meeting: " in page and "absent (time off)" in page
    assert "Jun (quorum) is absent: time off." in page

    # Two of three away on one date: the quorum of two cannot be met.
    lea = people["lea"]
    r = api.post(
        f"/v1/participants/{lea['id']}/time-off",
        json={"start_date": "2027-01-12", "end_date": "2027-01-13"},
    )
    assert r.status_code == 201
    plan = api.post(f"/v1/series/{series['id']}/plan").json()
    [gone] = plan["unschedulable"]
    assert gone["date"] == "2027-01-12"
    assert gone["reason"].startswith(
        "Manila team's quorum of 2 cannot be met: at most 1 of its 3 quorum members can attend."
    )


def test_moving_an_occurrence_keeps_the_quorum(api: Client, people: dict[str, Any]) -> None:
    series = api.post("/v1/series", json=_body(people)).json()
    assert api.post(f"/v1/series/{series['id']}/schedule").status_code == 200
    occ = api.get(f"/v1/series/{series['id']}/occurrences").json()["items"][0]
    url = f"/v1/occurrences/{occ['id']}"
    lea = people["lea"]
    assert (
        api.post(
            f"/v1/participants/{lea['id']}/time-off",
            json={"start_date": "2027-01-05", "end_date": "2027-01-06"},
        ).status_code
        == 201
    )
    # 10:00 New York is 23:00 in Manila: Lea is off, Maria and Jun make the quorum of two.
    assert occ["start"] != "2027-01-05T15:00:00Z"
    r = api.patch(url, json={"start": "2027-01-05T15:00:00Z"})
    assert r.status_code == 200, r.text
    assert r.json()["absent"] == [{"participant_id": lea["id"], "reason": "time off"}]
    etag = r.headers["ETag"]

    # With a quorum of three, the same move is refused and names who cannot come.
    r = api.patch(
        f"/v1/series/{series['id']}",
        json={"quorum": [{"party_id": people["mnl"]["id"], "min_attendees": 3}]},
    )
    assert r.status_code == 200, r.text
    r = api.patch(url, json={"start": "2027-01-05T15:30:00Z"}, headers={"If-Match": etag})
    assert r.status_code == 422
    message = r.json()["detail"]
    assert message == (
        "start: Manila team's quorum of 3 cannot be met then: 2 of its 3 quorum members can attend "
        "(Lea: time off). Pick another time."
    )
    stored = api.get(f"/v1/series/{series['id']}/occurrences").json()["items"]
    assert [o["start"] for o in stored if o["id"] == occ["id"]] == ["2027-01-05T15:00:00Z"]

"""One occurrence on every surface says the same thing the same way: its burden in hours, the
places, the hard turn and the clock change (docs/rules.md, "How times and burden are worded").

New York and Manila, 45-minute Tuesdays across New York's return to standard time on
1 November 2026: the API's JSON, the feed read by a real iCalendar parser, the share page's
HTML and Slack's replies are each asked, and each must word what it shows as the vocabulary
does.
"""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from app.scheduling import wording
from app.slack.commands import PlanJob
from tests.conftest import PUBLIC_BASE, Client, make_participant, make_party
from tests.slack.conftest import TEAM, mrkdwn, reply_of, slash
from tests.slack.fake_api import bind_team

NOW = datetime(2026, 10, 19, 12, tzinfo=UTC)
DAYS = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]
NEW_YORK, MANILA = "America/New_York", "Asia/Manila"


@pytest.fixture
def pinned_now() -> datetime:
    return NOW


def _text(page: str) -> str:
    no_tags = re.sub(r"<(script|style)\b.*?</\1>|<[^>]+>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(no_tags))


def _setup(api: Client) -> tuple[dict[str, Any], dict[str, str], list[dict[str, Any]]]:
    bind_team(api, TEAM)
    people = {}
    for name, tz, user in (("Ana", NEW_YORK, "UANA"), ("Maria", MANILA, "UMARIA")):
        party = make_party(api, timezone=tz, working_hours=DAYS, holiday_country=None)
        people[name] = make_participant(api, party["id"], name=name, slack_user_id=user)
    r = api.post(
        "/v1/series",
        json={
            "title": "Review",
            "duration_minutes": 45,
            "recurrence": "FREQ=WEEKLY;BYDAY=TU",
            "start_date": "2026-10-20",
            "count": 4,
            "anchor_timezone": NEW_YORK,
            "policy": "rotate",
            "step_minutes": 15,
            "participants": [{"participant_id": p["id"]} for p in people.values()],
        },
    )
    assert r.status_code == 201, r.text
    series = r.json()
    assert api.post(f"/v1/series/{series['id']}/schedule").status_code == 200
    r = api.get(f"/v1/series/{series['id']}/occurrences")
    names = {p["id"]: name for name, p in people.items()}
    return series, names, r.json()["items"]


def test_one_occurrence_is_worded_alike_on_every_surface(
    api: Client, client: Client, engine: Engine
) -> None:
    series, names, occurrences = _setup(api)
    # The first meeting after New York's clocks went back: its notice names the change.
    occ = next(o for o in occurrences if any("changed clocks" in n for n in o["notices"]))
    start = datetime.fromisoformat(occ["start"])
    burden = {names[p["participant_id"]]: p["burden_minutes"] for p in occ["participants"]}
    [shift] = wording.clock_changes([NEW_YORK, MANILA], NOW, start)
    change = wording.clock_change(NEW_YORK, shift.before, shift.after)
    assert change == "New York changed clocks (EDT→EST)"
    turn = wording.hard_turn(burden.items())
    assert turn is not None
    ledger = {
        line["name"]: line["total_minutes"]
        for line in api.get(f"/v1/series/{series['id']}/balance").json()["participants"]
    }
    # Some figures are x.x5 hours (105 minutes is 1.75 h), where the rounding rule decides.
    assert any(m % 6 == 3 for m in [*burden.values(), *ledger.values()]), (burden, ledger)
    manila_place = wording.place(MANILA, start)
    assert manila_place == "Manila, UTC+8"

    # The API: the planner's notice names the city and the clock change.
    [notice] = [n for n in occ["notices"] if f"Maria ({wording.city(MANILA)})" in n]
    assert change in notice

    # The feed, read by icalendar.
    r = api.post("/v1/feeds", json={"scope": "series", "target_id": series["id"]})
    ics = client.get(r.json()["url"].removeprefix(PUBLIC_BASE)).content
    [event] = [
        e
        for e in icalendar.Calendar.from_ical(ics).walk("VEVENT")
        if str(e["UID"]) == f"{occ['id']}@meeting-scheduler"
    ]
    feed = str(event["DESCRIPTION"])
    for name, minutes in burden.items():
        assert f"burden {wording.hours(minutes)}" in feed, name
    assert manila_place in feed and f"Hard turn: {turn}" in feed and notice in feed

    # The share page: the week of the clock change, then the week of the occurrence.
    token = api.post(f"/v1/series/{series['id']}/share").json()["url"].rsplit("/", 1)[-1]
    week_before = _text(client.get(f"/share/{token}", params={"week": "2026-10-27"}).text)
    assert "Clocks in New York go back 1 hour on Sun 1 Nov 2026 (EDT→EST)" in week_before
    page = _text(client.get(f"/share/{token}", params={"week": start.date().isoformat()}).text)
    for name, minutes in burden.items():
        assert minutes == 0 or f"burden {wording.hours(minutes)}" in page, name
    for name, minutes in ledger.items():
        assert f"{name}: {wording.hours(minutes)}" in page, name
    assert manila_place in page and turn in page and notice in page

    # Slack: the plan names the hard turn, the ledger is in the same hours.
    ids = {name: pid for pid, name in names.items()}
    workspace_id = uuid.UUID(api.get("/v1/workspace").json()["id"])
    job = PlanJob(workspace_id, uuid.UUID(series["id"]), uuid.UUID(ids["Ana"]), NOW, False)
    with Session(engine) as session:
        plan = job(session).text.replace("*", "")  # Slack's bold
    assert f"hard turn: {turn}" in plan
    assert f"{start.astimezone(ZoneInfo(MANILA)):%a %H:%M} {wording.city(MANILA)}" in plan
    balance = mrkdwn(reply_of(slash(client, "balance Review", user_id="UANA")))
    for name, minutes in ledger.items():
        assert f"{name}: {wording.hours(minutes)}" in balance, name

    # The meeting's length, in the same words on the page and in Slack.
    assert wording.length(45) == "45 min" and wording.length(90) == "1 h 30 min"
    assert f"Length {wording.length(series['duration_minutes'])}" in page
    assert f"· {wording.length(series['duration_minutes'])}" in plan

    # Manila's "PST" is shown nowhere.
    for text in (notice, feed, week_before, page, plan, balance):
        assert "PST" not in text

"""Reminders and announcements in a series' Slack channel (app.slack.posts), posted through
the real slack_sdk to the local stand-in for Slack's Web API (tests/slack/fake_api.py).

The story: a weekly review on four Tuesdays from 2026-11-24 between Dana in New York and
Maria in Manila, in channel C0OPSREVIEW; the app's clock stands at Monday 2026-11-23 12:00
UTC, and the dispatcher is given the times it runs at. Expected times come from the stored
occurrences and zoneinfo, not from the app's formatting code."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.engine import session_scope
from app.db.models import Occurrence, Series, SlackPost, Workspace
from app.db.outbox import LEASE, backoff
from app.scheduling.wording import hours
from app.secret_box import secret_box
from app.settings import Settings
from app.slack import posts
from app.slack.posts import PostDispatcher, claim, dispatch_once, series_changed
from tests.conftest import Client, clock_at, make_participant, make_party, make_settings
from tests.slack.conftest import MANILA_DAYS, NOW, NY_HOURS, TEAM
from tests.slack.fake_api import Call, SlackApi, slack_api_fixture  # noqa: F401

CHANNEL = "C0OPSREVIEW"
TOKEN = "xoxb-test"
HOUR, MINUTE = timedelta(hours=1), timedelta(minutes=1)


@pytest.fixture
def settings(database_url: str, slack_api: SlackApi) -> Settings:
    return make_settings(database_url, slack_api_url=slack_api.url)


@pytest.fixture
def workspace_id(api: Client, engine: Engine, settings: Settings) -> uuid.UUID:
    """The workspace of ``api`` with the Slack app installed (a sealed bot token)."""
    r = api.get("/v1/workspace")
    assert r.status_code == 200, r.text
    found = uuid.UUID(r.json()["id"])
    with session_scope(engine) as session:
        workspace = session.get(Workspace, found)
        assert workspace is not None
        workspace.slack_team_id = TEAM
        workspace.slack_bot_token_sealed = secret_box(settings).seal(TOKEN)
        session.add(workspace)
    return found


def make_people(api: Client) -> list[str]:
    """Dana (New York, 09–17) and Maria (Manila, 08–17): their weekly review rotates
    between 17:00 and 18:00 New York, which is 06:00 and 07:00 in Manila."""
    ny = make_party(
        api, name="Acme Retail (New York)", timezone="America/New_York", working_hours=NY_HOURS
    )
    mnl = make_party(
        api,
        name="OABPO Manila",
        role="vendor",
        timezone="Asia/Manila",
        working_hours=MANILA_DAYS,
        holiday_country="PH",
    )
    dana = make_participant(api, ny["id"], name="Dana Whitfield")
    maria = make_participant(api, mnl["id"], name="Maria Santos")
    return [dana["id"], maria["id"]]


def make_review(api: Client, members: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """Four Tuesdays from 2026-11-24 with the channel, scheduled."""
    body: dict[str, Any] = {
        "title": "Weekly operations review",
        "duration_minutes": 60,
        "recurrence": "FREQ=WEEKLY;BYDAY=TU",
        "start_date": "2026-11-24",
        "count": 4,
        "anchor_timezone": "America/New_York",
        "policy": "rotate",
        "step_minutes": 60,
        "location": "https://meet.example.com/ops-review",
        "participants": [{"participant_id": p} for p in members or make_people(api)],
        "slack_channel_id": CHANNEL,
    }
    body.update(extra)
    r = api.post("/v1/series", json=body)
    assert r.status_code == 201, r.text
    series: dict[str, Any] = r.json()
    r = api.post(f"/v1/series/{series['id']}/schedule")
    assert r.status_code == 200, r.text
    return series


def set_series(engine: Engine, series_id: str, **values: Any) -> None:
    with session_scope(engine) as session:
        series = session.get(Series, uuid.UUID(series_id))
        assert series is not None
        for name, value in values.items():
            setattr(series, name, value)
        session.add(series)


def member_named(api: Client, series: dict[str, Any], name: str) -> str:
    for member in series["participants"]:
        r = api.get(f"/v1/participants/{member['participant_id']}")
        assert r.status_code == 200, r.text
        if r.json()["name"] == name:
            return str(member["participant_id"])
    raise AssertionError(f"no member named {name}")


def occurrences(api: Client, series_id: str) -> list[dict[str, Any]]:
    r = api.get(f"/v1/series/{series_id}/occurrences")
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["items"]
    return found


def start_of(occ: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(occ["start"])


def move(api: Client, occ: dict[str, Any], start: datetime) -> None:
    r = api.patch(f"/v1/occurrences/{occ['id']}", json={"start": start.isoformat()})
    assert r.status_code == 200, r.text


def cancel(api: Client, occ: dict[str, Any]) -> None:
    r = api.patch(f"/v1/occurrences/{occ['id']}", json={"status": "cancelled"})
    assert r.status_code == 200, r.text


def changed(
    engine: Engine, settings: Settings, series_id: str, now: datetime, cause: str | None = None
) -> None:
    """What the API's writes call in their own transaction."""
    with session_scope(engine) as session:
        series = session.get(Series, uuid.UUID(series_id))
        assert series is not None
        workspace = session.get(Workspace, series.workspace_id)
        assert workspace is not None
        series_changed(session, workspace, series, now, settings, cause)


def dispatch(
    engine: Engine, settings: Settings, at: datetime, owner: str = "worker-a", limit: int = 50
) -> int:
    return asyncio.run(dispatch_once(engine, settings, lambda: at, owner, limit))


def rows(engine: Engine, kind: str | None = None) -> list[SlackPost]:
    with Session(engine) as session:
        query = select(SlackPost).order_by(col(SlackPost.due_at), col(SlackPost.key))
        if kind is not None:
            query = query.where(SlackPost.kind == kind)
        return list(session.exec(query))


def reminder_of(engine: Engine, occ: dict[str, Any]) -> SlackPost:
    with Session(engine) as session:
        row = session.exec(select(SlackPost).where(SlackPost.key == f"reminder:{occ['id']}")).one()
        return row


def blocks_of(call: Call) -> list[dict[str, Any]]:
    blocks = call.params["blocks"]
    found: list[dict[str, Any]] = json.loads(blocks) if isinstance(blocks, str) else blocks
    return found


def mrkdwn_of(call: Call) -> str:
    """Every text of the call's blocks, one per line."""
    out = []
    for block in blocks_of(call):
        if "text" in block:
            out.append(str(block["text"]["text"]))
        out.extend(str(e["text"]) for e in block.get("elements", []))
    return "\n".join(out)


def date_token(at: datetime) -> str:
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|"


def wall(at: datetime, zone: str, fmt: str = "%a %H:%M") -> str:
    return at.astimezone(ZoneInfo(zone)).strftime(fmt)


def posted(slack_api: SlackApi, prefix: str) -> list[Call]:
    """The chat.postMessage calls Slack took whose text starts with ``prefix``."""
    return [
        c
        for c in slack_api.calls("chat.postMessage")
        if c.status == 200
        and c.response is not None
        and c.response["ok"]
        and str(c.params["text"]).startswith(prefix)
    ]


# --- reminders ---------------------------------------------------------------------------


def test_each_occurrence_gets_one_reminder_posted_once_at_its_time(
    api: Client, engine: Engine, settings: Settings, workspace_id: uuid.UUID, slack_api: SlackApi
) -> None:
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    occs = occurrences(api, series["id"])
    assert [(r.key, r.due_at, r.channel, r.status) for r in rows(engine, "reminder")] == [
        (f"reminder:{o['id']}", start_of(o) - HOUR, CHANNEL, "pending") for o in occs
    ]

    assert dispatch(engine, settings, NOW) == 0  # the announcement gathers changes for 30 s
    assert dispatch(engine, settings, NOW + MINUTE) == 1
    for occ in occs:
        due = start_of(occ) - HOUR
        assert dispatch(engine, settings, due - timedelta(seconds=1)) == 0
        assert dispatch(engine, settings, due) == 1
        assert dispatch(engine, settings, due + 10 * MINUTE) == 0

    calls = posted(slack_api, "Reminder: Weekly operations review")
    assert len(calls) == len(occs) == 4
    assert len(slack_api.calls("chat.postMessage")) == 5  # and the announcement
    by_ts = {row.ts: row for row in rows(engine, "reminder")}
    for call, occ in zip(calls, occs, strict=True):
        start = start_of(occ)
        assert (call.params["channel"], call.token) == (CHANNEL, TOKEN)
        text = mrkdwn_of(call)
        # Each reader sees their own time; the fallback and the zones line are wall times.
        assert date_token(start) + wall(start, "America/New_York", "%a %d %b %H:%M") in text
        ny, mnl = wall(start, "America/New_York"), wall(start, "Asia/Manila")
        assert f"{mnl}–" in text and " Manila · " in text and f"{ny}–" in text
        assert "hard turn: *" in text and "https://meet.example.com/ops-review" in text
        assert wall(start, "Asia/Manila") in str(call.params["text"])  # the fallback
        row = by_ts[call.response["ts"] if call.response else None]
        assert (row.key, row.status, row.attempts) == (f"reminder:{occ['id']}", "sent", 1)
        assert row.sent_at == start - HOUR and row.last_error is None and row.lease_owner is None


def test_a_move_before_the_reminder_is_posted_updates_it(
    api: Client, engine: Engine, settings: Settings, workspace_id: uuid.UUID, slack_api: SlackApi
) -> None:
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    first = occurrences(api, series["id"])[0]
    before = reminder_of(engine, first)
    old, new = start_of(first), start_of(first) + HOUR

    move(api, first, new)
    changed(engine, settings, series["id"], NOW, "Moved by hand.")

    after = reminder_of(engine, first)
    assert (after.id, after.status, after.due_at) == (before.id, "pending", new - HOUR)
    assert date_token(new) in json.dumps(after.blocks) and date_token(old) not in after.text
    assert len(rows(engine, "reminder")) == 4
    assert dispatch(engine, settings, old - HOUR) == 1  # the announcement only
    assert posted(slack_api, "Reminder") == []
    assert dispatch(engine, settings, new - HOUR) == 1
    [call] = posted(slack_api, "Reminder")
    assert date_token(new) in mrkdwn_of(call) and date_token(old) not in mrkdwn_of(call)


def test_a_posted_reminder_is_edited_when_its_meeting_moves(
    app: FastAPI,
    api: Client,
    engine: Engine,
    settings: Settings,
    workspace_id: uuid.UUID,
    slack_api: SlackApi,
) -> None:
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    first = occurrences(api, series["id"])[0]
    due, new = start_of(first) - HOUR, start_of(first) + HOUR
    assert dispatch(engine, settings, due) == 2  # the announcement and the reminder
    ts = reminder_of(engine, first).ts
    assert ts is not None

    with clock_at(app, due + MINUTE):
        move(api, first, new)
    changed(engine, settings, series["id"], due + MINUTE, "Moved by hand.")
    waiting = reminder_of(engine, first)
    assert (waiting.status, waiting.ts, waiting.due_at) == ("pending", ts, due + MINUTE)

    # The edit goes at once (and the move is announced, after its 30 s).
    assert dispatch(engine, settings, due + 2 * MINUTE) == 2
    [edit] = slack_api.calls("chat.update")
    assert (edit.params["channel"], edit.params["ts"]) == (CHANNEL, ts)
    assert date_token(new) in mrkdwn_of(edit)
    shown = slack_api.message(CHANNEL, ts)
    assert shown is not None and date_token(new) in json.dumps(shown["blocks"])
    assert reminder_of(engine, first).status == "sent"
    # One reminder per occurrence: none again before the new time.
    assert dispatch(engine, settings, new - HOUR) == 0
    assert len(posted(slack_api, "Reminder")) == 1


def test_a_cancelled_occurrence_withdraws_its_reminder_or_edits_the_posted_one(
    app: FastAPI,
    api: Client,
    engine: Engine,
    settings: Settings,
    workspace_id: uuid.UUID,
    slack_api: SlackApi,
) -> None:
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    first, second = occurrences(api, series["id"])[:2]

    cancel(api, second)
    changed(engine, settings, series["id"], NOW)
    assert f"reminder:{second['id']}" not in {r.key for r in rows(engine, "reminder")}
    assert dispatch(engine, settings, start_of(first) - HOUR) == 2  # announcement, first

    # Restored: its reminder comes back (and so does an announcement).
    r = api.patch(f"/v1/occurrences/{second['id']}", json={"status": "scheduled"})
    assert r.status_code == 200, r.text
    changed(engine, settings, series["id"], NOW)
    assert reminder_of(engine, second).status == "pending"
    assert dispatch(engine, settings, start_of(second) - HOUR) == 2
    assert len(posted(slack_api, "Reminder")) == 2

    # Cancelled after its reminder was posted: the message is edited to say so.
    ts = reminder_of(engine, second).ts
    at = start_of(second) - 30 * MINUTE
    with clock_at(app, at):
        cancel(api, second)
    changed(engine, settings, series["id"], at)
    assert dispatch(engine, settings, at) == 1  # the edit; the announcement in 30 s
    [edit] = slack_api.calls("chat.update")
    assert (edit.params["channel"], edit.params["ts"]) == (CHANNEL, ts)
    assert str(edit.params["text"]).startswith("Cancelled: Weekly operations review")
    assert date_token(start_of(second)) in mrkdwn_of(edit) and "is cancelled" in mrkdwn_of(edit)
    assert reminder_of(engine, second).status == "sent"
    assert len(posted(slack_api, "Reminder")) == 2


def test_no_reminders_when_turned_off_and_none_without_a_channel(
    api: Client, engine: Engine, settings: Settings, workspace_id: uuid.UUID, slack_api: SlackApi
) -> None:
    series = make_review(api)
    # Set on the row: POST /v1/series takes "slack_reminder_minutes": null for the default.
    set_series(engine, series["id"], slack_reminder_minutes=None)
    changed(engine, settings, series["id"], NOW)
    assert [r.kind for r in rows(engine)] == ["announcement"]

    r = api.patch(f"/v1/series/{series['id']}", json={"slack_reminder_minutes": 15})
    assert r.status_code == 200, r.text
    changed(engine, settings, series["id"], NOW)
    occs = occurrences(api, series["id"])
    assert [r.due_at for r in rows(engine, "reminder")] == [start_of(o) - 15 * MINUTE for o in occs]

    set_series(engine, series["id"], slack_reminder_minutes=None)  # off again: withdrawn
    changed(engine, settings, series["id"], NOW)
    assert rows(engine, "reminder") == []
    set_series(engine, series["id"], slack_reminder_minutes=15)
    changed(engine, settings, series["id"], NOW)
    assert len(rows(engine, "reminder")) == 4

    set_series(engine, series["id"], slack_channel_id=None)  # the channel taken away
    changed(engine, settings, series["id"], NOW)
    assert rows(engine) == []  # nothing was posted: nothing is left to say
    assert dispatch(engine, settings, start_of(occs[0])) == 0
    assert slack_api.calls() == []


def test_twice_in_one_transaction_is_the_same_as_once(
    api: Client, engine: Engine, settings: Settings, workspace_id: uuid.UUID, slack_api: SlackApi
) -> None:
    """A write may call it for each occurrence it touches (a swap): what it read the first
    time is read again, not taken from the session."""
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    first = occurrences(api, series["id"])[0]
    move(api, first, start_of(first) + HOUR)
    with session_scope(engine) as session:
        row = session.get(Series, uuid.UUID(series["id"]))
        assert row is not None
        workspace = session.get(Workspace, row.workspace_id)
        assert workspace is not None
        series_changed(session, workspace, row, NOW, settings, "Swapped.")
        series_changed(session, workspace, row, NOW, settings, "Swapped.")
    assert len(rows(engine, "reminder")) == 4
    assert reminder_of(engine, first).due_at == start_of(first)
    [pending] = [r for r in rows(engine, "announcement") if r.key.endswith(":1")]
    assert "Swapped." in json.dumps(pending.blocks)
    assert len(rows(engine, "announcement")) == 1


def test_a_reminder_due_long_ago_is_not_posted(
    api: Client, engine: Engine, settings: Settings, workspace_id: uuid.UUID, slack_api: SlackApi
) -> None:
    """The service was down past the meeting's start: a reminder then would mislead."""
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    first, second = occurrences(api, series["id"])[:2]

    dispatch(engine, settings, start_of(first) + 10 * MINUTE)
    late = reminder_of(engine, first)
    assert (late.status, late.attempts, late.ts) == ("failed", 0, None)
    assert late.last_error is not None and "The meeting had started" in late.last_error
    assert posted(slack_api, "Reminder") == []

    # A few minutes late is still worth it.
    dispatch(engine, settings, start_of(second) + 2 * MINUTE)
    assert reminder_of(engine, second).status == "sent"
    assert len(posted(slack_api, "Reminder")) == 1


# --- announcements -----------------------------------------------------------------------


def test_a_replan_is_announced_once_with_the_next_four_the_hard_turn_and_the_balance(
    api: Client, engine: Engine, settings: Settings, workspace_id: uuid.UUID, slack_api: SlackApi
) -> None:
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    assert dispatch(engine, settings, NOW + MINUTE) == 1
    [scheduled] = posted(slack_api, "Weekly operations review — scheduled")
    check_announcement(api, series["id"], scheduled)

    # A re-plan (Maria's hours change), then a move, before the announcement goes: one post.
    maria = member_named(api, series, "Maria Santos")
    early = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "05:00", "end": "09:00"}]
    r = api.patch(f"/v1/participants/{maria}", json={"working_hours": early})
    assert r.status_code == 200, r.text
    before = occurrences(api, series["id"])
    r = api.post(f"/v1/series/{series['id']}/schedule")
    assert r.status_code == 200, r.text
    changed(engine, settings, series["id"], NOW + 2 * MINUTE, "Re-planned: Maria's hours.")
    replanned = occurrences(api, series["id"])
    assert [o["start"] for o in replanned] != [o["start"] for o in before]
    move(api, replanned[0], start_of(replanned[0]) + HOUR)
    changed(engine, settings, series["id"], NOW + 3 * MINUTE, "Moved by hand.")
    [waiting] = [r for r in rows(engine, "announcement") if r.status == "pending"]
    assert waiting.key == f"announcement:{series['id']}:2"

    assert dispatch(engine, settings, NOW + 4 * MINUTE) == 1
    assert dispatch(engine, settings, NOW + 10 * MINUTE) == 0
    [update] = posted(slack_api, "Weekly operations review — schedule changed")
    text = check_announcement(api, series["id"], update)
    assert "Re-planned: Maria's hours." in text and "Moved by hand." in text
    assert len(slack_api.calls("chat.postMessage")) == 2
    assert {r.status for r in rows(engine, "announcement")} == {"sent"}

    # Nothing new about the upcoming meetings: nothing is said.
    changed(engine, settings, series["id"], NOW + 20 * MINUTE, "Nothing, really.")
    assert len(rows(engine, "announcement")) == 2


def check_announcement(api: Client, series_id: str, call: Call) -> str:
    """The post lists the next four occurrences as they now stand (each reader's own time,
    every zone's wall time, the hard turn) and each party's total burden."""
    text = mrkdwn_of(call)
    assert call.params["channel"] == CHANNEL and call.token == TOKEN
    occs = [o for o in occurrences(api, series_id) if o["status"] == "scheduled"][:4]
    listed = text.split("\n• ")[1:]  # each: the times, then the hard turn on its own line
    assert len(listed) == len(occs) == 4
    names = {"Dana Whitfield", "Maria Santos"}
    for item, occ in zip(listed, occs, strict=True):
        start = start_of(occ)
        times, turn = item.split("\n")[:2]
        assert times.startswith(date_token(start))
        assert wall(start, "Asia/Manila") + " Manila" in times
        assert wall(start, "America/New_York") + " New York" in times
        top = max(p["burden_minutes"] for p in occ["participants"])
        if top == 0:
            assert turn.strip() == "inside everyone's working hours"
            continue
        assert turn.strip().startswith("hard turn: *") and turn.split("*")[1] in names
        assert turn.endswith(f"({hours(top)})")
    r = api.get(f"/v1/series/{series_id}/balance")
    assert r.status_code == 200, r.text
    for party in r.json()["parties"]:
        assert f"{party['name']} {hours(party['total_minutes'])}" in text
    return text


def test_a_change_undone_before_the_announcement_goes_says_nothing(
    api: Client, engine: Engine, settings: Settings, workspace_id: uuid.UUID, slack_api: SlackApi
) -> None:
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    assert dispatch(engine, settings, NOW + MINUTE) == 1
    first = occurrences(api, series["id"])[0]

    move(api, first, start_of(first) + HOUR)
    changed(engine, settings, series["id"], NOW + 2 * MINUTE)
    assert len(rows(engine, "announcement")) == 2
    move(api, first, start_of(first))
    changed(engine, settings, series["id"], NOW + 2 * MINUTE)

    assert len(rows(engine, "announcement")) == 1
    assert dispatch(engine, settings, NOW + 5 * MINUTE) == 0
    assert len(slack_api.calls("chat.postMessage")) == 1


def test_time_passing_is_no_news(
    app: FastAPI,
    api: Client,
    engine: Engine,
    settings: Settings,
    workspace_id: uuid.UUID,
    slack_api: SlackApi,
) -> None:
    """After a meeting, the next four include one never announced: that alone says nothing;
    a change to a meeting still ahead does."""
    series = make_review(api, count=6)
    changed(engine, settings, series["id"], NOW)
    assert dispatch(engine, settings, NOW + MINUTE) == 1
    occs = occurrences(api, series["id"])
    later = start_of(occs[1]) + 2 * HOUR  # two meetings have passed

    changed(engine, settings, series["id"], later)
    assert len(rows(engine, "announcement")) == 1
    with clock_at(app, later):
        move(api, occs[3], start_of(occs[3]) + HOUR)
    changed(engine, settings, series["id"], later)
    assert len(rows(engine, "announcement")) == 2


# --- the dispatcher ----------------------------------------------------------------------


def test_reminders_go_out_once_across_two_workers(
    api: Client, engine: Engine, settings: Settings, workspace_id: uuid.UUID, slack_api: SlackApi
) -> None:
    """Two threads, each with its own event loop, started together on one outbox: eight
    series of the weekdays of Thanksgiving week (four: the Thursday is a New York holiday),
    reminded a week ahead, so all 32 reminders and the eight announcements are due at
    once."""
    members = make_people(api)
    for n in range(8):
        series = make_review(
            api,
            members,
            title=f"Daily stand-up {n}",
            recurrence="FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
            start_date="2026-11-23",
            count=5,
            slack_reminder_minutes=10080,
        )
        changed(engine, settings, series["id"], NOW)
    assert len(rows(engine, "reminder")) == 32 and len(rows(engine)) == 40
    start = threading.Barrier(2)
    settled: dict[str, int] = {}
    errors: list[BaseException] = []

    def worker(owner: str) -> None:
        try:
            start.wait(5)
            settled[owner] = 0
            while done := dispatch(engine, settings, NOW + MINUTE, owner=owner, limit=4):
                settled[owner] += done
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(owner,)) for owner in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sum(settled.values()) == 40 and min(settled.values()) > 0, settled
    calls = slack_api.calls("chat.postMessage")
    assert len(calls) == 40
    after = rows(engine)
    assert {r.status for r in after} == {"sent"}
    assert sorted(r.ts or "" for r in after) == sorted(
        str(c.response["ts"]) for c in calls if c.response
    )
    assert len({(c.params["text"]) for c in calls}) == 40


@pytest.mark.parametrize("outage", ["refused", "503"])
def test_an_outage_loses_nothing_and_recovery_posts_each_once(
    api: Client,
    engine: Engine,
    settings: Settings,
    workspace_id: uuid.UUID,
    slack_api: SlackApi,
    outage: str,
) -> None:
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    first = occurrences(api, series["id"])[0]
    assert dispatch(engine, settings, NOW + MINUTE) == 1
    slack_api.down(None if outage == "refused" else 503)

    at = start_of(first) - HOUR
    for attempt in (1, 2):
        assert dispatch(engine, settings, at) == 1
        row = reminder_of(engine, first)
        assert (row.status, row.attempts, row.ts) == ("pending", attempt, None)
        assert row.due_at == at + backoff(attempt, row.id)
        assert row.first_attempt_at == start_of(first) - HOUR and row.last_error
        assert ("503" in row.last_error) == (outage == "503")
        assert dispatch(engine, settings, row.due_at - timedelta(seconds=1)) == 0
        at = row.due_at

    slack_api.up()
    assert dispatch(engine, settings, at) == 1
    assert dispatch(engine, settings, at + 10 * MINUTE) == 0
    row = reminder_of(engine, first)
    assert (row.status, row.attempts, row.last_error, row.sent_at) == ("sent", 3, None, at)
    assert len(posted(slack_api, "Reminder")) == 1
    tried = [c for c in slack_api.calls("chat.postMessage") if c.status != 200]
    assert len(tried) == (0 if outage == "refused" else 2)  # refused ones never arrived


def test_a_rate_limit_is_waited_for(
    api: Client, engine: Engine, settings: Settings, workspace_id: uuid.UUID, slack_api: SlackApi
) -> None:
    """Slack's 429 says when to come back: that row, and the batch's other rows of the
    workspace, wait until then (without an attempt counted for the others)."""
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    first = occurrences(api, series["id"])[0]
    at = start_of(first) - HOUR  # the announcement and the first reminder are both due
    slack_api.rate_limit_next("chat.postMessage", 120)

    assert dispatch(engine, settings, at) == 1
    [announcement] = rows(engine, "announcement")
    reminder = reminder_of(engine, first)
    assert (announcement.status, announcement.attempts) == ("pending", 1)
    assert announcement.last_error == "Slack rate limit (HTTP 429, Retry-After 120 s)"
    assert announcement.due_at == reminder.due_at == at + timedelta(seconds=120)
    assert (reminder.attempts, reminder.lease_owner) == (0, None)
    assert len(slack_api.calls("chat.postMessage")) == 1

    assert dispatch(engine, settings, at + timedelta(seconds=119)) == 0
    assert dispatch(engine, settings, at + timedelta(seconds=120)) == 2
    assert {r.status for r in rows(engine) if r.due_at <= at + HOUR} == {"sent"}
    assert len(slack_api.calls("chat.postMessage")) == 3


@pytest.mark.parametrize(
    "error", ["channel_not_found", "not_in_channel", "is_archived", "invalid_auth"]
)
def test_a_permanent_error_fails_the_row(
    api: Client,
    engine: Engine,
    settings: Settings,
    workspace_id: uuid.UUID,
    slack_api: SlackApi,
    error: str,
) -> None:
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    slack_api.fail_next("chat.postMessage", error)

    assert dispatch(engine, settings, NOW + MINUTE) == 1
    [row] = rows(engine, "announcement")
    assert (row.status, row.attempts, row.ts) == ("failed", 1, None)
    assert row.last_error == f"Slack refused the post: {error}"
    assert dispatch(engine, settings, NOW + 2 * HOUR) == 0
    assert len(slack_api.calls("chat.postMessage")) == 1


def test_slacks_temporary_errors_are_tried_again(
    api: Client, engine: Engine, settings: Settings, workspace_id: uuid.UUID, slack_api: SlackApi
) -> None:
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    slack_api.fail_next("chat.postMessage", "service_unavailable")

    assert dispatch(engine, settings, NOW + MINUTE) == 1
    [row] = rows(engine, "announcement")
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == "Slack error: service_unavailable (HTTP 200)"
    assert dispatch(engine, settings, row.due_at) == 1
    assert rows(engine, "announcement")[0].status == "sent"


def test_after_24_hours_of_temporary_failures_a_post_fails(
    api: Client, engine: Engine, settings: Settings, workspace_id: uuid.UUID, slack_api: SlackApi
) -> None:
    series = make_review(api, start_date="2026-12-08", count=2)
    changed(engine, settings, series["id"], NOW)
    slack_api.down()

    assert dispatch(engine, settings, NOW + MINUTE) == 1
    dispatch(engine, settings, NOW + MINUTE + timedelta(hours=24, seconds=1))
    [row] = rows(engine, "announcement")
    assert (row.status, row.attempts) == ("failed", 2)
    assert row.last_error is not None
    assert row.last_error.startswith("gave up after 2 attempts since 2026-11-23 12:01 UTC: ")


def test_a_change_while_the_post_is_on_its_way_is_said_by_an_edit(
    api: Client, engine: Engine, settings: Settings, workspace_id: uuid.UUID, slack_api: SlackApi
) -> None:
    """The worker has read the announcement and is posting it when a move is written: the
    post is recorded (its ts) but the row stays pending, and the next round edits the
    message to the latest state. One post, saying what is true."""
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    at = NOW + MINUTE
    [post_id] = claim(engine, "worker-a", at)
    prepared = posts._prepare(engine, settings, "worker-a", post_id, at)
    assert prepared is not None
    row, ready = prepared
    assert isinstance(ready, posts._Post)

    first = occurrences(api, series["id"])[0]
    move(api, first, start_of(first) + HOUR)
    changed(engine, settings, series["id"], at, "Moved by hand.")
    outcome = posts._say(ready, row)
    assert isinstance(outcome, posts.Posted)
    assert posts._record(engine, "worker-a", row, outcome, at)

    [waiting] = rows(engine, "announcement")
    assert (waiting.status, waiting.ts, waiting.due_at) == ("pending", outcome.ts, at)
    assert dispatch(engine, settings, at) == 1
    [edit] = slack_api.calls("chat.update")
    assert edit.params["ts"] == outcome.ts and "Moved by hand." in mrkdwn_of(edit)
    assert date_token(start_of(first) + HOUR) in mrkdwn_of(edit)
    assert len(slack_api.calls("chat.postMessage")) == 1
    assert rows(engine, "announcement")[0].status == "sent"


def test_a_worker_whose_lease_ran_out_records_nothing(
    api: Client, engine: Engine, settings: Settings, workspace_id: uuid.UUID, slack_api: SlackApi
) -> None:
    """The slow worker's call outlived its lease; another took the row over and posted it.
    The slow one's late answer (a timeout here) changes nothing."""
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    at = NOW + MINUTE
    [post_id] = claim(engine, "slow", at)
    prepared = posts._prepare(engine, settings, "slow", post_id, at)
    assert prepared is not None
    row, _ = prepared

    later = at + LEASE + MINUTE
    assert dispatch(engine, settings, later, owner="next") == 1
    assert not posts._record(engine, "slow", row, posts.Failed("timed out", False), later)
    [after] = rows(engine, "announcement")
    assert (after.status, after.attempts, after.sent_at, after.last_error) == (
        "sent",
        1,
        later,
        None,
    )


def test_a_worker_near_the_end_of_its_lease_posts_nothing_more(
    api: Client, engine: Engine, settings: Settings, workspace_id: uuid.UUID, slack_api: SlackApi
) -> None:
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    at = NOW + MINUTE
    readings = iter([at])

    def clock() -> datetime:
        return next(readings, at + LEASE - timedelta(seconds=30))

    assert asyncio.run(dispatch_once(engine, settings, clock, "paused")) == 0
    [row] = rows(engine, "announcement")
    assert (row.status, row.attempts, row.lease_owner) == ("pending", 0, None)
    assert slack_api.calls() == []
    assert dispatch(engine, settings, at, owner="other") == 1


def test_a_message_deleted_in_slack_is_posted_again(
    app: FastAPI,
    api: Client,
    engine: Engine,
    settings: Settings,
    workspace_id: uuid.UUID,
    slack_api: SlackApi,
) -> None:
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    first = occurrences(api, series["id"])[0]
    due = start_of(first) - HOUR
    assert dispatch(engine, settings, due) == 2
    old_ts = reminder_of(engine, first).ts

    with clock_at(app, due):
        move(api, first, start_of(first) + HOUR)
    changed(engine, settings, series["id"], due)
    slack_api.fail_next("chat.update", "message_not_found")
    assert dispatch(engine, settings, due) == 1  # the reminder (the announcement waits 30 s)

    row = reminder_of(engine, first)
    assert row.status == "sent" and row.ts not in (None, old_ts)
    assert len(posted(slack_api, "Reminder")) == 2


def test_without_the_app_installed_nothing_is_posted(
    api: Client, engine: Engine, settings: Settings, workspace_id: uuid.UUID, slack_api: SlackApi
) -> None:
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    with session_scope(engine) as session:  # uninstalled after the rows were written
        workspace = session.get(Workspace, workspace_id)
        assert workspace is not None
        workspace.slack_bot_token_sealed = None
        session.add(workspace)

    assert dispatch(engine, settings, NOW + MINUTE) == 1
    [row] = rows(engine, "announcement")
    assert (row.status, row.attempts) == ("failed", 0)
    assert row.last_error is not None and "not installed" in row.last_error
    assert slack_api.calls() == []


@pytest.mark.parametrize(
    ("what", "reason"),
    [
        ("cancelled", "The occurrence was cancelled."),
        ("reminders off", "The series' reminders were turned off."),
        ("no channel", "The series has no Slack channel any more."),
        ("deleted", "The series was deleted."),
    ],
)
def test_what_cannot_be_said_any_more_fails_when_due(
    api: Client,
    engine: Engine,
    settings: Settings,
    workspace_id: uuid.UUID,
    slack_api: SlackApi,
    what: str,
    reason: str,
) -> None:
    """Checked again when due, whatever was written since without series_changed."""
    series = make_review(api)
    changed(engine, settings, series["id"], NOW)
    assert dispatch(engine, settings, NOW + MINUTE) == 1
    first = occurrences(api, series["id"])[0]
    if what == "cancelled":
        with session_scope(engine) as session:
            occ = session.get(Occurrence, uuid.UUID(first["id"]))
            assert occ is not None
            occ.status = "cancelled"
            session.add(occ)
    elif what == "deleted":
        assert api.delete(f"/v1/series/{series['id']}").status_code == 204
    else:
        field = "slack_reminder_minutes" if what == "reminders off" else "slack_channel_id"
        set_series(engine, series["id"], **{field: None})

    assert dispatch(engine, settings, start_of(first) - HOUR) == 1
    row = reminder_of(engine, first)
    assert (row.status, row.attempts, row.last_error) == ("failed", 0, reason)
    assert len(slack_api.calls("chat.postMessage")) == 1


def test_the_dispatcher_posts_when_woken(
    api: Client,
    engine: Engine,
    database_url: str,
    workspace_id: uuid.UUID,
    slack_api: SlackApi,
) -> None:
    hourly = make_settings(database_url, slack_api_url=slack_api.url, mail_poll_seconds=3600)
    series = make_review(api)
    changed(engine, hourly, series["id"], NOW)

    async def scenario() -> None:
        dispatcher = PostDispatcher(engine, hourly, lambda: NOW + MINUTE)
        dispatcher.start()
        dispatcher.wake()
        async with asyncio.timeout(5):
            while not slack_api.calls("chat.postMessage"):
                await asyncio.sleep(0.01)
        await dispatcher.stop()

    asyncio.run(scenario())
    assert [r.status for r in rows(engine, "announcement")] == ["sent"]
    assert len(slack_api.calls("chat.postMessage")) == 1


def test_retry_after_and_failures_are_read_as_slack_sends_them() -> None:
    assert posts.retry_after({"Retry-After": "7"}) == timedelta(seconds=7)
    assert posts.retry_after({"retry-after": ["86400"]}) == HOUR  # capped
    assert posts.retry_after({}) is None

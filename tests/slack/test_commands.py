"""Each ``/meet`` sub-command against a demo-like workspace: New York client 09–17, Manila
vendor on 21:00–06:00 Sun–Thu (Maria on day hours), London partner. Expected wall times are
computed here with zoneinfo, independently of the app's formatting code."""

from __future__ import annotations

import re
import uuid
from collections.abc import MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest
from anyio.from_thread import BlockingPortal
from sqlalchemy import Engine
from sqlmodel import Session

from app.db.links import find_link
from app.db.models import Feed
from app.scheduling.wording import hours
from app.services import services
from app.slack.blocks import Reply
from app.slack.commands import PlanJob
from app.slack.delivery import deliver
from tests.api.test_invitations import record_answer
from tests.conftest import PUBLIC_BASE, Client, counting_rows, table_counts
from tests.slack.conftest import (
    NOW,
    TEAM,
    Demo,
    ResponseCatcher,
    form_body,
    mrkdwn,
    reply_of,
    signed,
    slash,
)
from tests.slack.fake_api import bind_team

NY, MANILA, LONDON = (ZoneInfo(z) for z in ("America/New_York", "Asia/Manila", "Europe/London"))
CITY = {"America/New_York": "New York", "Asia/Manila": "Manila", "Europe/London": "London"}


def yours(at: datetime, tz: ZoneInfo = NY) -> str:
    """The Slack date token with the caller's wall time as fallback."""
    local = at.astimezone(tz)
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{local:%a %d %b %H:%M}>"


def theirs(at: datetime, zone_name: str) -> str:
    return f"{at.astimezone(ZoneInfo(zone_name)):%a %H:%M} {CITY[zone_name]}"


def upcoming(api: Client, series_id: str) -> list[dict[str, Any]]:
    r = api.get(f"/v1/series/{series_id}/occurrences", params={"status": "scheduled"})
    assert r.status_code == 200, r.text
    items = [o for o in r.json()["items"] if datetime.fromisoformat(o["start"]) >= NOW]
    assert items
    return sorted(items, key=lambda o: o["start"])


def expected_line(occ: dict[str, Any], me: str) -> str:
    start = datetime.fromisoformat(occ["start"])
    others = sorted(
        {p["timezone"] for p in occ["participants"] if p["participant_id"] != me}
        - {"America/New_York"},
        key=lambda z: CITY[z],
    )
    return " · ".join([f"{yours(start)} your time", *(theirs(start, z) for z in others)])


# --- help and the helpful refusals -------------------------------------------------------


def test_help(client: Client, demo: Demo) -> None:
    for text in ("", "help", "HELP me"):
        reply = reply_of(slash(client, text))
        assert reply["response_type"] == "ephemeral"
        for sub in ("next", "series", "plan", "balance", "overlap", "feed"):
            assert f"/meet {sub}" in reply["text"]


def test_help_needs_no_connected_workspace(client: Client, demo: Demo) -> None:
    assert "/meet next" in reply_of(slash(client, "help", team_id="TNOBODY"))["text"]


def test_unknown_team_says_how_to_connect(client: Client, demo: Demo) -> None:
    reply = reply_of(slash(client, "next", team_id="TNOBODY"))
    assert reply["response_type"] == "ephemeral"
    assert "TNOBODY" in reply["text"]
    assert "POST /v1/workspace/slack/install-link" in reply["text"]
    assert "PATCH /v1/workspace " not in reply["text"]  # the team is bound by the install


def test_unlinked_user_says_how_to_link(client: Client, demo: Demo) -> None:
    for text in ("next", "plan weekly o", "overlap <@UMARIA>", "feed"):
        reply = reply_of(slash(client, text, user_id="UNOBODY"))
        assert reply["response_type"] == "ephemeral"
        assert "PATCH /v1/participants/{id}" in reply["text"], text
        assert '"slack_user_id": "UNOBODY"' in reply["text"], text


def test_unknown_subcommand(client: Client, demo: Demo) -> None:
    reply = reply_of(slash(client, "schedule everything"))
    assert "`schedule` is not a /meet command" in mrkdwn(reply)
    assert "/meet help" in reply["text"]


def test_user_input_is_escaped(client: Client, demo: Demo) -> None:
    reply = reply_of(slash(client, "plan <!channel> & <https://evil.example|x>"))
    text = mrkdwn(reply)
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt; &amp;" in text


# --- next ------------------------------------------------------------------------------


def test_next_shows_your_time_and_the_other_sides(client: Client, demo: Demo) -> None:
    reply = reply_of(slash(client, "next"))
    assert reply["response_type"] == "ephemeral"
    expected = upcoming(demo.api, demo.ops["id"])[:3]
    sections = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"]
    assert len(sections) == 3
    for occ, section in zip(expected, sections, strict=True):
        assert section.startswith("*Weekly operations review* · 1 h\n")
        assert expected_line(occ, demo.people["dana"]["id"]) in section
        assert "https://meet.example.com/ops-review" in section
        start = datetime.fromisoformat(occ["start"])
        # The plain fallback shows the same wall times without Slack's date token.
        assert f"{start.astimezone(NY):%a %d %b %H:%M} your time · " in reply["text"]
        assert theirs(start, "Asia/Manila") in reply["text"]
    assert "<!date" not in reply["text"]


def test_next_from_manila_shows_new_york(client: Client, demo: Demo) -> None:
    reply = reply_of(slash(client, "next 1", user_id="UMARIA"))
    occ = upcoming(demo.api, demo.ops["id"])[0]
    start = datetime.fromisoformat(occ["start"])
    section = next(b["text"]["text"] for b in reply["blocks"] if b["type"] == "section")
    assert f"{yours(start, MANILA)} your time · " in section
    assert theirs(start, "America/New_York") in section


def test_next_n_and_public(client: Client, demo: Demo) -> None:
    reply = reply_of(slash(client, "next 2 public"))
    assert reply["response_type"] == "in_channel"
    assert sum(b["type"] == "section" for b in reply["blocks"]) == 2
    ten = reply_of(slash(client, "next 10"))
    assert sum(b["type"] == "section" for b in ten["blocks"]) == len(
        upcoming(demo.api, demo.ops["id"])
    )


@pytest.mark.parametrize("args", ["0", "11", "-1", "two", "3 4", "1.5", "３"])
def test_next_bad_arguments(client: Client, demo: Demo, args: str) -> None:
    reply = reply_of(slash(client, f"next {args}"))
    assert reply["response_type"] == "ephemeral"
    assert "/meet next [n] [public]" in reply["text"]


def test_next_with_no_meetings(client: Client, demo: Demo) -> None:
    reply = reply_of(slash(client, "next", user_id="USAM"))
    assert "no upcoming meetings" in reply["text"]
    assert "/meet series" in reply["text"]


# --- series ----------------------------------------------------------------------------


def test_series_lists_with_next_date(client: Client, demo: Demo) -> None:
    reply = reply_of(slash(client, "series"))
    text = mrkdwn(reply)
    first = datetime.fromisoformat(upcoming(demo.api, demo.ops["id"])[0]["start"])
    assert "*Weekly operations review*" in text and demo.ops["id"] in text
    assert f"next {yours(first)}" in text
    assert "*Weekly staffing sync*" in text and "not scheduled" in text
    assert "you take part" in text


@pytest.mark.parametrize(
    "text", ["series", "balance weekly op", "balance Weekly operations review", "feed", "next"]
)
def test_an_unlinked_user_sees_nothing_of_the_workspace(
    client: Client, demo: Demo, text: str
) -> None:
    reply = reply_of(slash(client, text, user_id="UNOBODY"))
    shown = mrkdwn(reply) + reply["text"]
    assert '"slack_user_id": "UNOBODY"' in shown and "PATCH /v1/participants/{id}" in shown
    workspace = demo.api.get("/v1/workspace").json()["name"]
    for secret in (workspace, "Weekly", demo.ops["id"], "Dana", "Acme", "h ("):
        assert secret not in shown, secret


# --- balance ---------------------------------------------------------------------------


def test_balance_per_person_and_party_in_hours(client: Client, demo: Demo, app: Any) -> None:
    reply = reply_of(slash(client, "balance WEEKLY OP"))
    text = mrkdwn(reply)
    ledger = demo.api.get(f"/v1/series/{demo.ops['id']}/balance").json()
    names = {p["id"]: p["name"] for p in demo.people.values()}
    parties = {p["id"]: p["name"] for p in demo.parties.values()}
    assert any(p["total_minutes"] > 0 for p in ledger["participants"])
    for line in ledger["participants"]:
        optional = "" if line["required"] else " (optional)"
        assert (
            f"• {names[line['participant_id']]}{optional}: {hours(line['total_minutes'])} "
            f"(past {hours(line['past_minutes'])} · scheduled {hours(line['scheduled_minutes'])})"
        ) in text
    for line in ledger["parties"]:
        assert f"*{parties[line['party_id']]}* — {hours(line['total_minutes'])} " in text


def test_balance_by_id_counts_past_meetings(client: Client, demo: Demo, app: Any) -> None:
    first = upcoming(demo.api, demo.ops["id"])[0]
    services(app).clock = lambda: datetime.fromisoformat(first["end"]) + timedelta(minutes=1)
    text = mrkdwn(reply_of(slash(client, f"balance {demo.ops['id']}")))
    dana = next(
        p for p in first["participants"] if p["participant_id"] == demo.people["dana"]["id"]
    )
    assert "• Dana Whitfield: " in text
    assert f"(past {hours(dana['burden_minutes'])} · " in text


def test_series_names_ambiguous_and_unknown(client: Client, demo: Demo) -> None:
    ambiguous = mrkdwn(reply_of(slash(client, "balance weekly")))
    assert "matches 2 series" in ambiguous
    assert demo.ops["id"] in ambiguous and demo.staffing["id"] in ambiguous
    unknown = mrkdwn(reply_of(slash(client, "balance quarterly")))
    assert "No series matches `quarterly`" in unknown and "*Weekly staffing sync*" in unknown
    missing = reply_of(slash(client, "balance"))
    assert "/meet balance &lt;series&gt;" in mrkdwn(missing)
    other_id = str(uuid.uuid4())
    assert f"No series matches `{other_id}`" in mrkdwn(
        reply_of(slash(client, f"balance {other_id}"))
    )


def test_series_exact_title_wins_and_slack_escaping_is_undone(client: Client, demo: Demo) -> None:
    same = (
        "duration_minutes",
        "recurrence",
        "start_date",
        "count",
        "anchor_timezone",
        "participants",
    )
    for title in ("Weekly operations review (EMEA)", "R&D <sync>"):
        r = demo.api.post("/v1/series", json={**{k: demo.ops[k] for k in same}, "title": title})
        assert r.status_code == 201, r.text
    reply = reply_of(slash(client, "balance “weekly operations review”"))
    assert reply["text"].startswith("Burden ledger — Weekly operations review\n")
    # Slack sends typed &, < and > as entities.
    reply = reply_of(slash(client, "balance r&amp;d &lt;s"))
    assert reply["text"].startswith("Burden ledger — R&D <sync>\n")
    assert "*R&amp;D &lt;sync&gt;*" in mrkdwn(reply_of(slash(client, "series")))


# --- plan (delayed) --------------------------------------------------------------------


def test_plan_of_a_scheduled_series(
    client: Client, demo: Demo, response_url: ResponseCatcher
) -> None:
    ack = reply_of(slash(client, "plan weekly op", response_url=response_url.url))
    assert ack["response_type"] == "ephemeral"
    assert "Working out the rotation of *Weekly operations review*" in mrkdwn(ack)
    [posted] = response_url.wait_for(1)
    assert posted["response_type"] == "ephemeral"
    text = mrkdwn(posted)
    assert "Scheduled occurrences" in text
    required = {
        demo.people["dana"]["id"]: "Dana Whitfield",
        demo.people["maria"]["id"]: "Maria Santos",
    }
    turns: set[str] = set()
    for occ in upcoming(demo.api, demo.ops["id"]):
        line = expected_line(occ, demo.people["dana"]["id"])
        paying = {
            p["participant_id"]: p["burden_minutes"]
            for p in occ["participants"]
            if p["participant_id"] in required and p["burden_minutes"] > 0
        }
        if paying:
            top = max(paying.values())
            who = " and ".join(sorted(required[p] for p, m in paying.items() if m == top))
            turn = f"hard turn: *{who}* ({hours(top)})"
            turns.add(who)
        else:
            turn = "inside everyone's working hours"
        assert f"{line}\n      {turn}" in text
    # New York and Manila's early desk never both stay inside their hours: they take turns.
    assert turns == {"Dana Whitfield", "Maria Santos"}


def test_plan_public_preview_of_an_unscheduled_series(
    client: Client, demo: Demo, response_url: ResponseCatcher, engine: Engine
) -> None:
    with counting_rows(engine):
        ack = reply_of(slash(client, "plan Weekly staffing public", response_url=response_url.url))
        assert ack["response_type"] == "ephemeral"
        [posted] = response_url.wait_for(1)
    assert posted["response_type"] == "in_channel"
    text = mrkdwn(posted)
    assert "Preview — not scheduled yet" in text
    preview = demo.api.post(f"/v1/series/{demo.staffing['id']}/plan").json()
    for occ in preview["occurrences"]:
        assert expected_line(occ, demo.people["dana"]["id"]) in text
    for skipped in preview["unschedulable"]:
        day = datetime.fromisoformat(skipped["date"])
        assert f"{day:%a %d %b %Y}: " in text
    # Thanksgiving (Thursday 26 November) is a New York holiday.
    assert "Thu 26 Nov 2026" in text


def test_plan_acknowledges_before_the_work_starts(
    client: Client, demo: Demo, response_url: ResponseCatcher, portal: BlockingPortal
) -> None:
    """Driven as raw ASGI: the response is complete before the background POST is made."""
    body = form_body("plan weekly op", response_url=response_url.url)
    headers = [(k.lower().encode(), v.encode()) for k, v in signed(body).items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/slack/commands",
        "raw_path": b"/slack/commands",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
    }
    events: list[tuple[str, int]] = []

    async def run() -> None:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                events.append(("status", message["status"]))
            if message["type"] == "http.response.body" and not message.get("more_body"):
                events.append(("answered, posts so far", len(response_url.received)))

        with anyio.fail_after(20):
            await client.app(scope, receive, send)
        events.append(("finished, posts so far", len(response_url.received)))

    portal.call(run)
    assert events == [("status", 200), ("answered, posts so far", 0), ("finished, posts so far", 1)]


def test_plan_retries_once_after_a_5xx(
    client: Client, demo: Demo, response_url: ResponseCatcher
) -> None:
    response_url.statuses = [502]
    reply_of(slash(client, "plan weekly op", response_url=response_url.url))
    first, second = response_url.wait_for(2)
    assert first == second and "upcoming rotation" in second["text"]


def test_plan_gives_up_after_two_5xx(
    client: Client, demo: Demo, response_url: ResponseCatcher
) -> None:
    response_url.statuses = [500, 503, 500]
    reply_of(slash(client, "plan weekly op", response_url=response_url.url))
    response_url.wait_for(2)
    reply_of(slash(client, "help"))  # the app is still fine
    assert len(response_url.received) == 2


def test_plan_never_posts_outside_allowed_prefixes(
    client: Client, demo: Demo, response_url: ResponseCatcher
) -> None:
    for url in (
        "https://evil.example/commands/1",
        "http://169.254.169.254/latest/meta-data",
        response_url.url.replace("127.0.0.1", "localhost"),
        response_url.url.replace("http://", "http://user@"),
        "",
    ):
        reply = reply_of(slash(client, "plan weekly op", response_url=url))
        assert "not one this server posts to" in reply["text"], url
    reply_of(slash(client, "next"))  # inline commands never touch response_url
    assert response_url.received == []


def test_background_failures_are_explained(
    engine: Engine, demo: Demo, response_url: ResponseCatcher
) -> None:
    deleted = PlanJob(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), NOW, public=True)
    deliver(engine, response_url.url, deleted)

    def broken(session: Session) -> Reply:
        raise RuntimeError("a bug")

    deliver(engine, response_url.url, broken)
    first, second = response_url.wait_for(2)
    assert "deleted" in first["text"] and first["response_type"] == "ephemeral"
    assert "Something went wrong" in second["text"] and "a bug" not in second["text"]


# --- overlap ---------------------------------------------------------------------------


def test_overlap_this_week_in_your_time(client: Client, demo: Demo) -> None:
    reply = reply_of(slash(client, "overlap <@UPRIYA|priya> <@UDANA>"))
    text = mrkdwn(reply)
    # Dana 09:00–17:00 New York (14:00–22:00Z), Priya 08:00–16:30 London (08:00–16:30Z):
    # 14:00–16:30Z on weekdays; Thursday 26 November is Thanksgiving; the week ends Monday 12:00Z.
    days = [23, 24, 25, 27]
    lines = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"]
    expected = []
    for day in days:
        start = datetime(2026, 11, day, 14, 0, tzinfo=UTC)
        end = start + timedelta(minutes=150)
        expected.append(
            f"{yours(start)}–<!date^{int(end.timestamp())}^{{time}}|{end.astimezone(NY):%H:%M}>"
            f" your time · {start.astimezone(LONDON):%a %H:%M}–"
            f"{end.astimezone(LONDON):%H:%M} London"
        )
    assert "\n".join(lines) == "\n".join(expected)
    assert "You and Priya Shah" in text and "10 h shared in all" in text


def test_overlap_with_the_night_shift_crosses_midnight(client: Client, demo: Demo) -> None:
    reply = reply_of(slash(client, "overlap <@UJUN|jun>"))
    lines = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"]
    # Jun works Sun–Thu 21:00–06:00 Manila = 13:00–22:00Z; Dana 14:00–22:00Z on weekdays.
    # Manila's night shift starting Thursday covers Thursday New York, a US holiday; Friday
    # New York would need Friday night in Manila, which is not a shift.
    expected = []
    for day in (23, 24, 25):
        start = datetime(2026, 11, day, 14, 0, tzinfo=UTC)
        end = start + timedelta(hours=8)
        expected.append(
            f"{yours(start)}–<!date^{int(end.timestamp())}^{{time}}|{end.astimezone(NY):%H:%M}>"
            f" your time · {start.astimezone(MANILA):%a %H:%M}–"
            f"{end.astimezone(MANILA):%a %H:%M} Manila"
        )
    assert lines == ["\n".join(expected)]
    assert "Mon 22:00–Tue 06:00 Manila" in lines[0]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("overlap", "Mention at least one other person"),
        ("overlap <@UDANA>", "Mention at least one other person"),
        ("overlap @maria", "is not a mention"),
        ("overlap <#C123|general>", "is not a mention"),
        ("overlap <@UGHOST|ghost>", "<@UGHOST> is not linked"),
        ("overlap <@UGHOST> <@UOTHER>", "<@UGHOST>, <@UOTHER> are not linked"),
    ],
)
def test_overlap_bad_arguments(client: Client, demo: Demo, text: str, needle: str) -> None:
    reply = reply_of(slash(client, text))
    assert reply["response_type"] == "ephemeral"
    assert needle in mrkdwn(reply)


def test_overlap_without_shared_hours(client: Client, demo: Demo) -> None:
    # Maria's day desk (09:00–18:00 Manila = 01:00–10:00Z) and Dana (14:00–22:00Z) never meet.
    reply = reply_of(slash(client, "overlap <@UMARIA>"))
    assert "No shared working hours in the next 7 days" in reply["text"]


# --- feed ------------------------------------------------------------------------------


def _feed_token(reply: dict[str, Any]) -> str:
    tokens = re.findall(rf"{re.escape(PUBLIC_BASE)}/feeds/([A-Za-z0-9_\-]+)\.ics", mrkdwn(reply))
    assert tokens and len(set(tokens)) == 1, tokens
    assert f"webcal://sched.example/feeds/{tokens[0]}.ics" in reply["text"]
    return str(tokens[0])


def test_feed_issues_a_personal_link_once(client: Client, demo: Demo, engine: Engine) -> None:
    before = table_counts(engine)
    reply = reply_of(slash(client, "feed"))
    assert reply["response_type"] == "ephemeral"
    token = _feed_token(reply)
    assert "Asking again shows this same link" in reply["text"]
    after = table_counts(engine)
    assert after["feed"] == before["feed"] + 1
    with Session(engine) as session:
        row = find_link(session, Feed, token)
        assert row is not None
        assert (row.scope, str(row.target_id)) == ("participant", demo.people["dana"]["id"])
        assert str(row.id) in mrkdwn(reply)
        # Stored hashed and sealed, never as it is.
        assert row.token_sealed is not None
        assert token not in repr(row.model_dump())
    r = client.get(f"/feeds/{token}.ics")
    assert r.status_code == 200 and b"Weekly operations review" in r.content

    again = reply_of(slash(client, "feed"))
    assert _feed_token(again) == token
    assert table_counts(engine)["feed"] == after["feed"]
    # Someone else's feed is theirs; a revoked one is never shown again.
    other = _feed_token(reply_of(slash(client, "feed", user_id="UMARIA")))
    assert other != token
    assert demo.api.delete(f"/v1/feeds/{row.id}").status_code == 204
    fresh = _feed_token(reply_of(slash(client, "feed")))
    assert fresh not in (token, other)
    assert client.get(f"/feeds/{token}.ics").status_code == 404
    assert _feed_token(reply_of(slash(client, "feed"))) == fresh


def test_parallel_asks_make_one_feed(client: Client, demo: Demo, engine: Engine) -> None:
    before = table_counts(engine)["feed"]
    bodies = [form_body("feed") for _ in range(6)]
    with ThreadPoolExecutor(len(bodies)) as pool:
        replies = list(
            pool.map(lambda b: client.post("/slack/commands", content=b, headers=signed(b)), bodies)
        )
    assert len({_feed_token(reply_of(r)) for r in replies}) == 1
    assert table_counts(engine)["feed"] == before + 1


def test_feed_is_never_public(client: Client, demo: Demo, engine: Engine) -> None:
    with counting_rows(engine):
        reply = reply_of(slash(client, "feed public"))
    assert reply["response_type"] == "ephemeral" and "only shown to you" in reply["text"]


def test_team_of_another_workspace_sees_nothing_here(client: Client, demo: Demo) -> None:
    from tests.conftest import new_workspace

    other, _ = new_workspace(client, "Other tenant")
    bind_team(other, "TOTHER")
    reply = reply_of(slash(client, f"balance {demo.ops['id']}", team_id="TOTHER"))
    assert '"slack_user_id": "UDANA"' in reply["text"] and "Weekly" not in reply["text"]
    assert TEAM not in reply["text"]
    assert other.get("/v1/participants").json()["items"] == []
    other_party = other.post(
        "/v1/parties",
        json={"name": "P", "role": "client", "timezone": "UTC", "working_hours": []},
    )
    assert other_party.status_code == 201, other_party.text
    r = other.post(
        "/v1/participants",
        json={"name": "Dana", "party_id": other_party.json()["id"], "slack_user_id": "UDANA"},
    )
    assert r.status_code == 201, r.text
    reply = reply_of(slash(client, f"balance {demo.ops['id']}", team_id="TOTHER"))
    assert "No series matches" in reply["text"] and "Weekly" not in reply["text"]


def test_plan_says_when_a_members_calendar_cannot_be_read(
    client: Client, demo: Demo, response_url: ResponseCatcher
) -> None:
    # Nothing listens on loopback port 9: the calendar is stored and failing.
    maria = demo.people["maria"]["id"]
    r = demo.api.post(
        f"/v1/participants/{maria}/calendars",
        json={"kind": "ics", "url": "http://127.0.0.1:9/maria.ics"},
    )
    assert r.status_code == 201 and r.json()["status"] == "error", r.text
    reply_of(slash(client, "plan weekly op", response_url=response_url.url))
    [posted] = response_url.wait_for(1)
    assert "Maria Santos's calendar could not be read since " in mrkdwn(posted)
    assert "busy times may be out of date." in mrkdwn(posted)


def test_next_shows_who_answered_the_invitation(client: Client, demo: Demo) -> None:
    occ = upcoming(demo.api, demo.ops["id"])[0]
    record_answer(demo.api, demo.ops["id"], demo.people["maria"]["id"], "accept")
    reply = reply_of(slash(client, "next 1"))
    section = next(b["text"]["text"] for b in reply["blocks"] if b["type"] == "section")
    assert "Answers: Maria Santos accepted." in section
    assert occ["id"]

"""The buttons of ``/meet next`` and ``/meet plan`` end to end: a signed ``block_actions``
payload, the change in the database (read back through the REST API) and the ephemeral answer
posted to ``response_url`` (a local server). The demo's weekly operations review alternates
the hard turn between Dana (New York) and Maria (Manila); Priya (London) is optional."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.routing import NoMatchFound

from app.db.models import Occurrence
from app.slack import interactions
from app.slack.blocks import DECLINE, MY_TURNS, SWAP, button_value
from tests.api.conftest import error_of
from tests.conftest import Client, clock_at, counting_rows, make_participant, make_party
from tests.slack.conftest import (
    NOW,
    TEAM,
    Demo,
    ResponseCatcher,
    check_payload,
    mrkdwn,
    reply_of,
    signed,
    slash,
)

_TRIGGERS = itertools.count(1)


@pytest.fixture(autouse=True)
def interactive(app: FastAPI) -> Iterator[None]:
    """The route, until app.main registers it (then this adds nothing)."""
    try:
        app.url_path_for("interaction")
    except NoMatchFound:
        pass
    else:
        yield
        return
    before = list(app.router.routes)
    app.include_router(interactions.router)
    try:
        yield
    finally:
        app.router.routes[:] = before


def press_body(
    action_id: str,
    value: str,
    *,
    user_id: str = "UDANA",
    user_team: str | None = TEAM,
    team_id: str = TEAM,
    enterprise_id: str | None = None,
    response_url: str,
) -> bytes:
    """A button press as Slack sends it: form field ``payload``, a ``block_actions`` JSON
    (https://docs.slack.dev/reference/interaction-payloads/block_actions-payload)."""
    user: dict[str, Any] = {"id": user_id, "username": "someone", "name": "someone"}
    if user_team is not None:
        user["team_id"] = user_team
    payload = {
        "type": "block_actions",
        "user": user,
        "api_app_id": "A0123456",
        "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": "1700000000.000100", "is_ephemeral": True},
        "trigger_id": f"{next(_TRIGGERS)}.{uuid.uuid4().hex}",
        "team": {"id": team_id, "domain": "acme"},
        "enterprise": None if enterprise_id is None else {"id": enterprise_id, "name": "Org"},
        "is_enterprise_install": False,
        "channel": {"id": "C0123456", "name": "governance"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "text": {"type": "plain_text", "text": "x"},
                "value": value,
                "action_ts": "1700000001.000200",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def press(client: Client, action_id: str, value: str, **fields: Any) -> httpx.Response:
    body = press_body(action_id, value, **fields)
    r = client.post("/slack/interactions", content=body, headers=signed(body))
    assert r.status_code == 200, r.text
    assert r.content == b""  # Slack's acknowledgement; the answer goes to response_url
    return r


def answer_of(catcher: ResponseCatcher, count: int = 1) -> dict[str, Any]:
    posted = catcher.wait_for(count)[count - 1]
    check_payload(posted)
    assert posted["response_type"] == "ephemeral" and posted["replace_original"] is False
    return posted


def occurrences(demo: Demo, series_id: str | None = None) -> list[dict[str, Any]]:
    sid = series_id or demo.ops["id"]
    r = demo.api.get(f"/v1/series/{sid}/occurrences")
    assert r.status_code == 200, r.text
    return sorted(r.json()["items"], key=lambda o: o["date"])


def upcoming(demo: Demo, series_id: str | None = None) -> list[dict[str, Any]]:
    return [
        o
        for o in occurrences(demo, series_id)
        if o["status"] == "scheduled" and datetime.fromisoformat(o["start"]) >= NOW
    ]


def burden(occ: dict[str, Any], pid: str) -> int:
    return next((p["burden_minutes"] for p in occ["participants"] if p["participant_id"] == pid), 0)


def is_hard_turn(occ: dict[str, Any], pid: str, counted: set[str]) -> bool:
    paying = {p: burden(occ, p) for p in counted}
    top = max(paying.values())
    return top > 0 and paying[pid] == top


def response(occ: dict[str, Any], pid: str) -> str | None:
    found: str | None = next(
        (p["response"] for p in occ["participants"] if p["participant_id"] == pid), None
    )
    return found


def value(demo: Demo, who: str, occ: dict[str, Any] | None = None) -> str:
    pid = uuid.UUID(demo.people[who]["id"])
    return button_value(pid, None if occ is None else uuid.UUID(occ["id"]))


def counted(demo: Demo) -> set[str]:
    return {demo.people["dana"]["id"], demo.people["maria"]["id"]}


def buttons(reply: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]


# --- the buttons on the replies --------------------------------------------------------


def test_next_has_buttons_for_each_meeting_and_the_turns(client: Client, demo: Demo) -> None:
    reply = reply_of(slash(client, "next 4"))
    dana = demo.people["dana"]["id"]
    expected = upcoming(demo)[:4]
    rows = [b for b in reply["blocks"] if b["type"] == "actions"]
    assert len(rows) == len(expected) + 1  # one row per meeting, then "Show my turns"
    for row, occ in zip(rows, expected, strict=False):
        ids = [e["action_id"] for e in row["elements"]]
        hard = is_hard_turn(occ, dana, counted(demo))
        assert ids == ([DECLINE, SWAP] if hard else [DECLINE]), (occ["date"], ids)
        for element in row["elements"]:
            assert json.loads(element["value"]) == {"p": dana, "o": occ["id"]}
            assert element["confirm"]["confirm"]["text"]
    [turns] = rows[-1]["elements"]
    assert turns["action_id"] == MY_TURNS and json.loads(turns["value"]) == {"p": dana}
    assert "I can't make it" in mrkdwn(reply)


def test_plan_has_buttons_for_members_only(
    client: Client, demo: Demo, response_url: ResponseCatcher
) -> None:
    slash(client, "plan weekly op", response_url=response_url.url)
    slash(client, "plan weekly op", user_id="USAM", response_url=response_url.url)
    slash(client, "plan weekly staffing", response_url=response_url.url)
    mine, sams, preview = response_url.wait_for(3)
    assert [b["action_id"] for b in buttons(mine)].count(DECLINE) == len(upcoming(demo))
    assert buttons(mine)[-1]["action_id"] == MY_TURNS
    assert buttons(sams) == []  # Sam takes no part: nothing to press
    # Not scheduled: no meetings to act on, only Dana's turns elsewhere.
    assert [b["action_id"] for b in buttons(preview)] == [MY_TURNS]
    for payload in (mine, sams, preview):
        check_payload(payload)


# --- "I can't make it" -----------------------------------------------------------------


def test_cant_make_it_under_manual_replan_records_the_answer(
    client: Client, demo: Demo, response_url: ResponseCatcher
) -> None:
    dana = demo.people["dana"]["id"]
    first = upcoming(demo)[0]
    press(client, DECLINE, value(demo, "dana", first), response_url=response_url.url)
    text = mrkdwn(answer_of(response_url))
    assert "Noted: you can't make *Weekly operations review*" in text
    assert "`replan: manual`" in text and "Swap with the next turn" in text
    after = next(o for o in occurrences(demo) if o["id"] == first["id"])
    assert response(after, dana) == "declined"
    assert (after["start"], after["sequence"], after["pinned"]) == (
        first["start"],
        first["sequence"],
        first["pinned"],
    )
    # /meet next shows the answer like an RSVP link's.
    assert "Dana Whitfield declined" in mrkdwn(reply_of(slash(client, "next 1")))


def test_cant_make_it_under_auto_replan_moves_the_meeting_and_never_back(
    client: Client, demo: Demo, response_url: ResponseCatcher
) -> None:
    r = demo.api.patch(f"/v1/series/{demo.ops['id']}", json={"replan": "auto"})
    assert r.status_code == 200, r.text
    dana = demo.people["dana"]["id"]
    first = upcoming(demo)[0]
    press(client, DECLINE, value(demo, "dana", first), response_url=response_url.url)
    text = mrkdwn(answer_of(response_url))
    moved = next(o for o in occurrences(demo) if o["id"] == first["id"])
    assert moved["status"] == "scheduled" and moved["start"] != first["start"], text
    assert moved["date"] == first["date"] and moved["pinned"] is True
    assert "so it moved to" in text and "`replan: auto`" in text
    assert response(moved, dana) is None  # asked again for the new time
    assert moved["sequence"] > first["sequence"]  # calendars get the new time
    start = datetime.fromisoformat(first["start"])
    record = f"Re-planned: Dana Whitfield cannot make it at {start:%Y-%m-%d %H:%M} UTC."
    assert record in moved["notices"]

    # Pressed again: neither time comes back.
    press(client, DECLINE, value(demo, "dana", moved), response_url=response_url.url)
    text = mrkdwn(answer_of(response_url, 2))
    again = next(o for o in occurrences(demo) if o["id"] == first["id"])
    if again["status"] == "scheduled":
        assert again["start"] not in (first["start"], moved["start"]), text
        assert record in again["notices"] and again["pinned"] is True
    else:
        assert "it is cancelled" in text


def test_cant_make_it_as_an_optional_member_changes_no_time(
    client: Client, demo: Demo, response_url: ResponseCatcher, engine: Engine
) -> None:
    r = demo.api.patch(f"/v1/series/{demo.ops['id']}", json={"replan": "auto"})
    assert r.status_code == 200, r.text
    priya = demo.people["priya"]["id"]
    before = upcoming(demo)
    press(
        client,
        DECLINE,
        value(demo, "priya", before[1]),
        user_id="UPRIYA",
        response_url=response_url.url,
    )
    assert "It goes ahead as planned: you are optional." in mrkdwn(answer_of(response_url))
    assert [o["start"] for o in upcoming(demo)] == [o["start"] for o in before]
    # Stored as an RSVP link stores it (the API lists only members who can attend).
    with Session(engine) as session:
        stored = session.get(Occurrence, uuid.UUID(before[1]["id"]))
        assert stored is not None and stored.responses == {priya: "declined"}


def test_cant_make_it_as_a_quorum_member_marks_them_absent_until_the_quorum_fails(
    client: Client, demo: Demo, response_url: ResponseCatcher
) -> None:
    """Jun and Lea (Manila's night desk) are quorum members, one of them is enough."""
    lea = make_participant(
        demo.api, demo.parties["mnl"]["id"], name="Lea Cruz", slack_user_id="ULEA"
    )
    dana, jun = demo.people["dana"]["id"], demo.people["jun"]["id"]
    r = demo.api.post(
        "/v1/series",
        json={
            "title": "Night desk handover",
            "duration_minutes": 60,
            "recurrence": "FREQ=WEEKLY;BYDAY=WE",
            "start_date": "2026-11-25",
            "count": 2,
            "anchor_timezone": "America/New_York",
            "step_minutes": 60,
            "replan": "auto",
            "participants": [
                {"participant_id": dana, "attendance": "required"},
                {"participant_id": jun, "attendance": "quorum"},
                {"participant_id": lea["id"], "attendance": "quorum"},
            ],
            "quorum": [{"party_id": demo.parties["mnl"]["id"], "min_attendees": 1}],
        },
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert demo.api.post(f"/v1/series/{sid}/schedule").status_code == 200
    first = upcoming(demo, sid)[0]
    assert burden(first, jun) >= 0 and burden(first, lea["id"]) >= 0 and not first["absent"]

    lea_value = button_value(uuid.UUID(lea["id"]), uuid.UUID(first["id"]))
    press(client, DECLINE, lea_value, user_id="ULEA", response_url=response_url.url)
    assert "It goes ahead as planned: your party's quorum still holds." in mrkdwn(
        answer_of(response_url)
    )
    after = upcoming(demo, sid)[0]
    assert after["start"] == first["start"]
    assert after["absent"] == [{"participant_id": lea["id"], "reason": "declined the invitation"}]

    # Jun can't either: the desk's quorum fails, and the series re-plans around both.
    press(client, DECLINE, value(demo, "jun", first), user_id="UJUN", response_url=response_url.url)
    assert "so it moved to" in mrkdwn(answer_of(response_url, 2))
    moved = next(o for o in occurrences(demo, sid) if o["id"] == first["id"])
    assert moved["start"] != first["start"] and moved["pinned"] and not moved["absent"]
    assert {response(moved, jun), response(moved, lea["id"])} == {None}
    at = datetime.fromisoformat(first["start"])
    for name in ("Jun Reyes", "Lea Cruz"):
        assert f"Re-planned: {name} cannot make it at {at:%Y-%m-%d %H:%M} UTC." in moved["notices"]


# --- "Swap with the next turn" ---------------------------------------------------------


def test_swap_with_the_next_turn_shows_the_balances(
    client: Client, demo: Demo, response_url: ResponseCatcher
) -> None:
    dana = demo.people["dana"]["id"]
    before = upcoming(demo)
    hard = [o for o in before if is_hard_turn(o, dana, counted(demo))]
    mine = hard[0]
    theirs = next(
        o for o in before if o["date"] > mine["date"] and not is_hard_turn(o, dana, counted(demo))
    )
    press(client, SWAP, value(demo, "dana", mine), response_url=response_url.url)
    text = mrkdwn(answer_of(response_url))
    assert "Swapped two meetings of *Weekly operations review*" in text
    assert "Burden balance of the series (hours):\n• You: " in text
    after = {o["id"]: o for o in occurrences(demo)}
    assert after[mine["id"]]["pinned"] and after[theirs["id"]]["pinned"]
    assert not is_hard_turn(after[mine["id"]], dana, counted(demo))
    assert is_hard_turn(after[theirs["id"]], dana, counted(demo))
    assert f"swapped with the occurrence of {theirs['date']}" in after[mine["id"]]["notices"]


def test_swap_when_it_is_not_your_hard_turn_changes_nothing(
    client: Client, demo: Demo, response_url: ResponseCatcher, engine: Engine
) -> None:
    dana = demo.people["dana"]["id"]
    before = occurrences(demo)
    easy = next(o for o in upcoming(demo) if not is_hard_turn(o, dana, counted(demo)))
    with counting_rows(engine):
        press(client, SWAP, value(demo, "dana", easy), response_url=response_url.url)
        assert "nothing to swap; nothing changed" in mrkdwn(answer_of(response_url))
    assert occurrences(demo) == before


# --- "Show my turns" -------------------------------------------------------------------


def test_show_my_turns_lists_the_hard_turns(
    client: Client, demo: Demo, response_url: ResponseCatcher
) -> None:
    dana = demo.people["dana"]["id"]
    hard = [o for o in upcoming(demo) if is_hard_turn(o, dana, counted(demo))]
    assert hard
    press(client, MY_TURNS, value(demo, "dana"), response_url=response_url.url)
    reply = answer_of(response_url)
    assert reply["blocks"][0]["text"]["text"] == f"Your hard turns ({len(hard)})"
    text = mrkdwn(reply)
    assert text.count("• *Weekly operations review* · ") == len(hard)
    for occ in hard:
        assert f"<!date^{int(datetime.fromisoformat(occ['start']).timestamp())}^" in text

    press(client, MY_TURNS, value(demo, "priya"), user_id="UPRIYA", response_url=response_url.url)
    assert "no hard turns coming up" in mrkdwn(answer_of(response_url, 2))


# --- refusals: each is a polite answer that changes nothing ----------------------------


def test_a_button_of_someone_elses_message_changes_nothing(
    client: Client, demo: Demo, response_url: ResponseCatcher, engine: Engine
) -> None:
    before = occurrences(demo)
    dana_buttons = value(demo, "dana", upcoming(demo)[0])
    with counting_rows(engine):
        # Maria presses Dana's buttons (a public /meet next in a channel).
        for action in (DECLINE, SWAP, MY_TURNS):
            press(client, action, dana_buttons, user_id="UMARIA", response_url=response_url.url)
        # Dana's user id, but from another Slack team.
        press(client, DECLINE, dana_buttons, user_team="TOTHER01", response_url=response_url.url)
        answers = [mrkdwn(answer_of(response_url, n)) for n in (1, 2, 3, 4)]
    for text in answers:
        assert "These buttons were made for someone else" in text
        assert "Dana" not in text and "Weekly" not in text
    assert occurrences(demo) == before


def test_an_unknown_or_foreign_meeting_changes_nothing(
    client: Client, demo: Demo, other_api: Client, response_url: ResponseCatcher, engine: Engine
) -> None:
    dana = uuid.UUID(demo.people["dana"]["id"])
    stranger = make_participant(other_api, make_party(other_api)["id"], slack_user_id="UDANA")
    forged = [
        button_value(dana, uuid.uuid4()),  # no such occurrence
        json.dumps({"p": str(dana)}),  # no occurrence at all
        json.dumps({"p": stranger["id"], "o": upcoming(demo)[0]["id"]}),  # another workspace
        "not json",
        json.dumps(["p", "o"]),
    ]
    before = occurrences(demo)
    with counting_rows(engine):
        for n, forged_value in enumerate(forged, 1):
            press(client, DECLINE, forged_value, response_url=response_url.url)
            text = mrkdwn(answer_of(response_url, n))
            assert ":warning:" in text and ("nothing changed" in text or "someone else" in text)
    assert occurrences(demo) == before


def test_a_meeting_that_started_or_was_cancelled_changes_nothing(
    client: Client, demo: Demo, response_url: ResponseCatcher
) -> None:
    first, second = upcoming(demo)[:2]
    r = demo.api.patch(f"/v1/occurrences/{second['id']}", json={"status": "cancelled"})
    assert r.status_code == 200, r.text
    press(client, DECLINE, value(demo, "dana", second), response_url=response_url.url)
    assert "This meeting was cancelled; nothing changed." in mrkdwn(answer_of(response_url))
    with clock_at(client.app, datetime.fromisoformat(first["start"]) + timedelta(minutes=1)):
        press(client, DECLINE, value(demo, "dana", first), response_url=response_url.url)
    assert "already started; nothing changed" in mrkdwn(answer_of(response_url, 2))
    assert response(upcoming(demo)[0], demo.people["dana"]["id"]) is None


def test_an_unknown_action_is_answered(
    client: Client, demo: Demo, response_url: ResponseCatcher
) -> None:
    press(client, "something.else", value(demo, "dana"), response_url=response_url.url)
    assert "older version of the app" in mrkdwn(answer_of(response_url))


# --- verification, like commands -------------------------------------------------------


def test_a_replayed_press_is_refused(
    client: Client, demo: Demo, response_url: ResponseCatcher, engine: Engine
) -> None:
    body = press_body(
        DECLINE, value(demo, "dana", upcoming(demo)[0]), response_url=response_url.url
    )
    headers = signed(body)
    assert client.post("/slack/interactions", content=body, headers=headers).status_code == 200
    answer_of(response_url)
    before = occurrences(demo)
    with counting_rows(engine):
        again = client.post("/slack/interactions", content=body, headers=headers)
    assert "already received" in error_of(again, 401, "unauthorized")["detail"]
    assert occurrences(demo) == before and len(response_url.received) == 1


def test_an_unsigned_or_badly_signed_press_is_refused(
    client: Client, demo: Demo, response_url: ResponseCatcher, engine: Engine
) -> None:
    body = press_body(
        DECLINE, value(demo, "dana", upcoming(demo)[0]), response_url=response_url.url
    )
    forged = {**signed(body), "X-Slack-Signature": "v0=" + "0" * 64}
    before = occurrences(demo)
    with counting_rows(engine):
        for headers in ({"Content-Type": "application/x-www-form-urlencoded"}, forged):
            r = client.post("/slack/interactions", content=body, headers=headers)
            error_of(r, 401, "unauthorized")
        tampered = body.replace(b"UDANA", b"UMARI")
        r = client.post("/slack/interactions", content=tampered, headers=signed(body))
        error_of(r, 401, "unauthorized")
    assert occurrences(demo) == before and response_url.received == []


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        (None, "the form field payload is missing"),
        ("{", "payload is not JSON"),
        ('"x"', "not a JSON object"),
        ('{"type": "view_submission"}', "its type is 'view_submission'"),
        ('{"type": "block_actions", "user": {"id": "U1"}, "actions": []}', "names no action"),
        ('{"type": "block_actions", "actions": [{"action_id": "a"}]}', "user.id is missing"),
    ],
)
def test_a_signed_body_that_is_not_a_press_is_400(
    client: Client, linked: dict[str, Any], payload: str | None, what: str
) -> None:
    body = b"token=x" if payload is None else urlencode({"payload": payload}).encode()
    r = client.post("/slack/interactions", content=body, headers=signed(body))
    assert what in error_of(r, 400, "bad_request")["detail"]


def test_a_press_whose_response_url_is_not_allowed_changes_nothing(
    client: Client, demo: Demo, response_url: ResponseCatcher, engine: Engine
) -> None:
    before = occurrences(demo)
    with counting_rows(engine):
        url = "https://hooks.slack.com.evil.example/actions/1"
        press(client, DECLINE, value(demo, "dana", upcoming(demo)[0]), response_url=url)
    assert occurrences(demo) == before and response_url.received == []

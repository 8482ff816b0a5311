"""The pure parts: payload and text parsing, Block Kit rendering, the response_url allow-list.
No database and no app."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import urlencode

import pytest

from app.db.models import SeriesParticipant
from app.errors import AppError
from app.scheduling.wording import city, hours
from app.slack.blocks import (
    Reply,
    escape,
    plain,
    span_theirs,
    span_yours,
    when_theirs,
    when_yours,
)
from app.slack.commands import hard_turn
from app.slack.delivery import allowed_response_url
from app.slack.parsing import (
    Invocation,
    Refusal,
    parse_count,
    parse_mentions,
    parse_payload,
    parse_text,
    series_query,
)
from app.views.plans import ParticipantSlot

SLACK = ["https://hooks.slack.com/"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Invocation("help", ())),
        ("   ", Invocation("help", ())),
        ("next", Invocation("next", ())),
        ("NEXT 5 Public", Invocation("next", ("5",), public=True)),
        ("next public", Invocation("next", (), public=True)),
        ("plan weekly ops public", Invocation("plan", ("weekly", "ops"), public=True)),
        ("balance weekly public", Invocation("balance", ("weekly", "public"))),
        ("feed public", Invocation("feed", ("public",))),
        ("plan\u00a0R&amp;D", Invocation("plan", ("R&D",))),
        ("overlap <@U1|ana>  <@U2>", Invocation("overlap", ("<@U1|ana>", "<@U2>"))),
    ],
)
def test_parse_text(text: str, expected: Invocation) -> None:
    assert parse_text(text) == expected


def test_parse_payload_reads_slack_fields() -> None:
    body = urlencode(
        {
            "team_id": "T1",
            "user_id": "U1",
            "command": "/meet",
            "text": "next 2",
            "response_url": "https://hooks.slack.com/commands/T1/2/3",
        }
    ).encode()
    command = parse_payload(body)
    assert (command.team_id, command.user_id, command.text) == ("T1", "U1", "next 2")
    assert command.response_url == "https://hooks.slack.com/commands/T1/2/3"


@pytest.mark.parametrize("command", ["", "meet", "/<!here>", "/" + "x" * 40])
def test_parse_payload_keeps_only_plausible_command_names(command: str) -> None:
    body = urlencode({"team_id": "T1", "user_id": "U1", "command": command}).encode()
    assert parse_payload(body).command == "/meet"


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"", "team_id and user_id are missing"),
        (b"team_id=T1", "user_id is missing"),
        (b"user_id=U1", "team_id is missing"),
        (b"payload=%7B%7D", "team_id and user_id are missing"),
        (b"\xff\xfe", "not UTF-8"),
        (b"team_id=T1&user_id=U1&" + b"a=1&" * 200, "more than 100 form fields"),
    ],
)
def test_parse_payload_says_what_is_wrong(body: bytes, what: str) -> None:
    with pytest.raises(AppError) as caught:
        parse_payload(body)
    assert caught.value.status == 400
    assert what in caught.value.detail


def test_parse_count() -> None:
    assert parse_count([], "u") == 3
    assert parse_count(["1"], "u") == 1
    assert parse_count(["10"], "u") == 10
    for bad in (["0"], ["11"], ["x"], ["1", "2"], ["٣"]):
        with pytest.raises(Refusal):
            parse_count(bad, "u")


def test_parse_mentions() -> None:
    assert parse_mentions(["<@U1|ana>", "<@W2>", "<@U1>"], "u") == ["U1", "W2"]
    for bad in ("@ana", "<@>", "<#C1|general>", "<!here>", "<@U1|ana", "<@U 1>"):
        with pytest.raises(Refusal):
            parse_mentions([bad], "u")


def test_series_query_drops_quotes() -> None:
    assert series_query(["“Weekly", "ops”"], "u") == "Weekly ops"
    with pytest.raises(Refusal):
        series_query(['""'], "u")


T = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 09:00 New York, 22:00 Manila, 14:00 London


def test_times() -> None:
    assert when_yours(T, "America/New_York") == (
        f"<!date^{int(T.timestamp())}^{{date_short_pretty}} {{time}}|Tue 24 Nov 09:00>"
    )
    assert when_theirs(T, "Asia/Manila") == "Tue 22:00 Manila"
    assert when_theirs(T, "America/Argentina/Buenos_Aires") == "Tue 11:00 Buenos Aires"
    assert city("UTC") == "UTC"
    end = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    assert plain(span_yours(T, end, "America/New_York")) == "Tue 24 Nov 09:00–12:00"
    assert plain(span_yours(T, end, "Asia/Manila")) == "Tue 24 Nov 22:00–Wed 25 Nov 01:00"
    assert span_theirs(T, end, "Asia/Manila") == "Tue 22:00–Wed 01:00 Manila"
    assert span_theirs(T, end, "Europe/London") == "Tue 14:00–17:00 London"
    assert hours(0) == "0 h" and hours(90) == "1.5 h" and hours(180) == "3 h"


def test_escape_and_plain_round_trip() -> None:
    raw = "R&D <!channel> <https://x|y>"
    assert escape(raw) == "R&amp;D &lt;!channel&gt; &lt;https://x|y&gt;"
    assert plain(escape(raw)) == raw
    assert plain("see <https://a.example/x|the link>") == "see the link (https://a.example/x)"


def test_reply_payload_limits() -> None:
    reply = Reply(public=True).header("h" * 200)
    for i in range(60):
        reply.section(f"line {i}")
    payload = reply.payload()
    assert payload["response_type"] == "in_channel"
    assert len(payload["blocks"]) == 50
    assert payload["blocks"][-1]["elements"][0]["text"] == "…and 12 more not shown."
    assert len(payload["blocks"][0]["text"]["text"]) == 150


def test_sections_pack_lines_under_the_limit() -> None:
    reply = Reply().sections(["x" * 999] * 7)  # three fit in one section, with newlines
    texts = [b["text"]["text"] for b in reply.blocks]
    assert len(texts) == 3 and all(len(t) <= 3000 for t in texts)
    assert sum(t.count("x" * 999) for t in texts) == 7


def _slot(pid: str, minutes: int) -> ParticipantSlot:
    return ParticipantSlot(
        participant_id=pid,
        local_start=T,
        local_end=T,
        timezone="UTC",
        burden_minutes=minutes,
        inside_hours=minutes == 0,
    )


SERIES = uuid.UUID(int=1)


def test_hard_turn() -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    names = dict(zip(ids, ["Dana", "Maria", "Priya"], strict=True))
    ctx = cast(
        Any,
        SimpleNamespace(
            members=[
                SeriesParticipant(
                    series_id=SERIES, participant_id=uuid.UUID(ids[0]), attendance="required"
                ),
                SeriesParticipant(
                    series_id=SERIES, participant_id=uuid.UUID(ids[1]), attendance="quorum"
                ),
                SeriesParticipant(
                    series_id=SERIES, participant_id=uuid.UUID(ids[2]), attendance="optional"
                ),
            ],
            name_of=lambda pid: names[str(pid)],
        ),
    )
    assert hard_turn([_slot(ids[0], 60), _slot(ids[1], 120)], ctx) == "hard turn: *Maria* (2 h)"
    assert hard_turn([_slot(ids[0], 60), _slot(ids[1], 60)], ctx) == (
        "hard turn: *Dana and Maria* (1 h)"
    )
    # The optional participant never takes the hard turn; nobody paying means no turn.
    assert hard_turn([_slot(ids[0], 0), _slot(ids[1], 0), _slot(ids[2], 240)], ctx) == (
        "inside everyone's working hours"
    )
    assert hard_turn([_slot(ids[0], 0), _slot(ids[2], -1)], ctx) == (
        "inside everyone's working hours"
    )


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.slack.com/commands/T1/2/abc", True),
        ("https://hooks.slack.com:443/commands/T1/2/abc", True),
        ("https://HOOKS.SLACK.COM/commands/T1", True),
        ("http://hooks.slack.com/commands/T1", False),
        ("https://hooks.slack.com:8443/commands/T1", False),
        ("https://hooks.slack.com.evil.example/commands", False),
        ("https://hooks.slack.com@evil.example/", False),
        ("https://evil.example#@hooks.slack.com/", False),
        ("https://evil.example/?https://hooks.slack.com/", False),
        ("https://hooks.slack.com/commands#x", False),
        ("https://hooks.slack.com/ commands", False),
        ("https://hooks.slack.com\\@evil.example/", False),
        ("file:///etc/passwd", False),
        ("", False),
        ("not a url", False),
        ("https://hooks.slåck.com/x", False),
    ],
)
def test_allowed_response_url(url: str, ok: bool) -> None:
    assert allowed_response_url(url, SLACK) is ok


def test_allowed_response_url_with_a_path_and_port() -> None:
    local = ["http://127.0.0.1:8123/hooks/"]
    assert allowed_response_url("http://127.0.0.1:8123/hooks/x", local)
    assert not allowed_response_url("http://127.0.0.1:8124/hooks/x", local)
    assert not allowed_response_url("http://127.0.0.1:8123/other", local)
    assert not allowed_response_url("http://127.0.0.1/hooks/x", local)

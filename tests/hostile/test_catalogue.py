"""A catalogue of hostile input, sent through real HTTP on every backend.

Each refused case must get its 4xx with a ``detail`` a person can act on (it names the field
or the problem) and leave every table exactly as it was. The tricky-but-valid inputs at the
end (DST gaps and folds, 24:00, merged and empty windows, injection strings that are just
text) must get a correct 2xx.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine

from tests.conftest import (
    SLACK_SECRET,
    Client,
    counting_rows,
    make_participant,
    make_party,
    table_counts,
)
from tests.hostile.conftest import NY_HOURS, SLACK_USER, TEAM, World

NOTHING = object()
JSON = {"Content-Type": "application/json"}
ALWAYS = [
    {
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "start": "00:00",
        "end": "24:00",
    }
]


@dataclass(frozen=True)
class Hostile:
    """One request; ``{party}``-style placeholders are replaced with the world's real ids."""

    method: str
    path: str
    needles: tuple[str, ...]  # each must appear in the detail (case-insensitive)
    status: int = 422
    json: Any = NOTHING
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    html: bool = False  # the public share page answers in HTML


def party(**overrides: Any) -> dict[str, Any]:
    body = {"name": "P", "role": "vendor", "timezone": "Asia/Manila", "working_hours": NY_HOURS}
    return {**body, **overrides}


def series(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Weekly operations review",
        "duration_minutes": 60,
        "recurrence": "FREQ=WEEKLY;BYDAY=TU",
        "start_date": "2026-11-24",
        "count": 4,
        "anchor_timezone": "America/New_York",
        "participants": [{"participant_id": "{participant}", "required": True}],
    }
    return {**body, **overrides}


def search(**overrides: Any) -> dict[str, Any]:
    body = {
        "participant_ids": ["{participant}", "{vendor}"],
        "duration_minutes": 60,
        "start": "2026-11-30T00:00:00Z",
        "end": "2026-12-07T00:00:00Z",
    }
    return {**body, **overrides}


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def raw(text: str) -> bytes:
    return text.encode()


SQLI = "' OR '1'='1'; DROP TABLE party; --"
BIG = 2 * 1024 * 1024

CATALOGUE = [
    # --- time zones -------------------------------------------------------------------
    pytest.param(
        Hostile(
            "POST", "/v1/parties", ("timezone", "mars/olympus"), json=party(timezone="Mars/Olympus")
        ),
        id="zone-unknown",
    ),
    pytest.param(
        Hostile("POST", "/v1/parties", ("timezone",), json=party(timezone="")), id="zone-empty"
    ),
    pytest.param(
        Hostile(
            "POST", "/v1/parties", ("timezone", "iana"), json=party(timezone="../../etc/passwd")
        ),
        id="zone-path-traversal",
    ),
    pytest.param(
        Hostile("POST", "/v1/parties", ("timezone", "iana"), json=party(timezone="UTC+5")),
        id="zone-utc-offset",
    ),
    pytest.param(
        Hostile(
            "POST", "/v1/parties", ("timezone", "64"), json=party(timezone="Asia/" + "X" * 100_000)
        ),
        id="zone-very-long",
    ),
    pytest.param(
        Hostile(
            "POST", "/v1/series", ("anchor_timezone",), json=series(anchor_timezone="Mars/Olympus")
        ),
        id="zone-unknown-anchor",
    ),
    pytest.param(
        Hostile("PATCH", "/v1/participants/{participant}", ("timezone",), json={"timezone": "utc"}),
        id="zone-wrong-case",
    ),
    # --- working hours ------------------------------------------------------------------
    pytest.param(
        Hostile(
            "POST",
            "/v1/parties",
            ("working_hours.0.start", "24:00"),
            json=party(working_hours=[{"days": ["mon"], "start": "24:00", "end": "06:00"}]),
        ),
        id="window-starts-at-24:00",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/parties",
            ("working_hours.0.end", "equal"),
            json=party(working_hours=[{"days": ["mon"], "start": "09:00", "end": "09:00"}]),
        ),
        id="window-start-equals-end",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/parties",
            ("working_hours.0.end", "24:00"),
            json=party(working_hours=[{"days": ["mon"], "start": "09:00", "end": "24:30"}]),
        ),
        id="window-ends-past-24:00",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/parties",
            ("working_hours", "100"),
            json=party(
                working_hours=[{"days": ["mon"], "start": "09:00", "end": "17:00"}] * 10_000
            ),
        ),
        id="window-list-of-10000",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/parties",
            ("working_hours.0.days.0", "funday"),
            json=party(working_hours=[{"days": ["funday"], "start": "09:00", "end": "17:00"}]),
        ),
        id="window-unknown-weekday",
    ),
    # --- huge counts, ranges and lists ---------------------------------------------------
    pytest.param(
        Hostile("POST", "/v1/series", ("count", "520"), json=series(count=10**9)), id="count-1e9"
    ),
    pytest.param(
        Hostile(
            "POST", "/v1/series", ("count",), json=series(recurrence="FREQ=DAILY", count=10**6)
        ),
        id="rrule-daily-count-1e6",
    ),
    pytest.param(
        Hostile(
            "POST", "/v1/series", ("until", "10 years"), json=series(count=None, until="2999-12-31")
        ),
        id="until-in-the-year-2999",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/series",
            ("until", "10 years from today"),
            json=series(count=None, until="3000-01-01"),
        ),
        id="until-in-the-year-3000",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/series",
            ("recurrence", "no dates"),
            json=series(
                recurrence="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", count=None, until="2030-11-24"
            ),
        ),
        id="rrule-expands-to-nothing",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/series",
            ("recurrence", "freq=sometimes"),
            json=series(recurrence="FREQ=SOMETIMES"),
        ),
        id="rrule-garbage",
    ),
    pytest.param(
        Hostile(
            "POST", "/v1/slots/search", ("end", "31 days"), json=search(end="2027-11-30T00:00:00Z")
        ),
        id="search-over-10-years",
    ),
    pytest.param(
        Hostile(
            "GET",
            "/v1/overlap?participant_ids={participant}&start=2026-01-01T00:00:00Z&end=2028-01-01T00:00:00Z",
            ("end", "31 days"),
        ),
        id="overlap-over-10-years",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/slots/search",
            ("participant_ids", "200"),
            json=search(participant_ids=[str(uuid.UUID(int=i + 1)) for i in range(10_000)]),
        ),
        id="search-10000-participant-ids",
    ),
    pytest.param(
        Hostile(
            "GET",
            "/v1/overlap?participant_ids="
            + ",".join(str(uuid.UUID(int=i + 1)) for i in range(201))
            + "&start=2026-11-30T00:00:00Z&end=2026-12-01T00:00:00Z",
            ("participant_ids", "200"),
        ),
        id="overlap-201-participant-ids",
    ),
    pytest.param(Hostile("GET", "/v1/parties?limit=0", ("limit",)), id="limit-0"),
    pytest.param(Hostile("GET", f"/v1/parties?limit={10**9}", ("limit", "200")), id="limit-1e9"),
    pytest.param(
        Hostile("GET", f"/v1/parties?limit={2**70}", ("limit",)), id="limit-beyond-64-bits"
    ),
    # --- numbers: negative, zero, fractions, booleans, beyond 64 bits ---------------------
    pytest.param(
        Hostile("POST", "/v1/series", ("duration_minutes",), json=series(duration_minutes=0)),
        id="duration-zero",
    ),
    pytest.param(
        Hostile("POST", "/v1/series", ("duration_minutes",), json=series(duration_minutes=-60)),
        id="duration-negative",
    ),
    pytest.param(
        Hostile(
            "POST", "/v1/slots/search", ("duration_minutes",), json=search(duration_minutes=-1)
        ),
        id="search-duration-negative",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/series",
            ("duration_minutes", "whole number"),
            json=series(duration_minutes=60.0),
        ),
        id="float-for-int",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/series",
            ("duration_minutes", "whole number"),
            json=series(duration_minutes=True),
        ),
        id="bool-for-int",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/series",
            ("duration_minutes", "whole number"),
            json=series(duration_minutes="60"),
        ),
        id="string-for-int",
    ),
    pytest.param(
        Hostile("POST", "/v1/series", ("count",), json=series(count=2**70)), id="int-beyond-64-bits"
    ),
    pytest.param(
        Hostile(
            "PATCH",
            "/v1/participants/{participant}",
            ("max_stretch_minutes",),
            json={"max_stretch_minutes": -(2**63) - 1},
        ),
        id="int-below-int64",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/series",
            ("participants.0.required", "boolean"),
            json=series(participants=[{"participant_id": "{participant}", "required": 1}]),
        ),
        id="int-for-bool",
    ),
    pytest.param(
        Hostile("POST", "/v1/slots/search", ("step_minutes",), json=search(step_minutes=15.0)),
        id="float-for-step",
    ),
    # --- bodies that are not what they claim ---------------------------------------------
    pytest.param(
        Hostile(
            "POST",
            "/v1/parties",
            ("json", "nested"),
            400,
            content=b"[" * 10_000 + b"]" * 10_000,
            headers=JSON,
        ),
        id="json-nested-10000-deep",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/parties",
            ("json", "nested"),
            400,
            content=raw('{"name": "P", "working_hours": ' + "[" * 10_000 + "]" * 10_000 + "}"),
            headers=JSON,
        ),
        id="json-nested-10000-deep-in-a-field",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/parties",
            ("utf-8",),
            400,
            content=b'{"name": "\xff\xfe caf\xe9"}',
            headers=JSON,
        ),
        id="body-not-utf-8",
    ),
    pytest.param(
        Hostile(
            "POST", "/v1/parties", ("not valid json",), content=b'{"name": "P",}', headers=JSON
        ),
        id="body-trailing-comma",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/parties",
            ("content-type: application/json",),
            content=raw(json.dumps(party())),
            headers={"Content-Type": "text/plain"},
        ),
        id="wrong-content-type",
    ),
    pytest.param(
        Hostile("POST", "/v1/parties", ("content-type",), content=raw(json.dumps(party()))),
        id="no-content-type",
    ),
    pytest.param(
        Hostile("POST", "/v1/parties", ("body", "empty"), content=b"", headers=JSON),
        id="empty-body",
    ),
    pytest.param(
        Hostile("POST", "/v1/parties", ("body", "null"), content=b"null", headers=JSON),
        id="json-null-body",
    ),
    pytest.param(
        Hostile("POST", "/v1/parties", ("body", "json object"), json=[party()]),
        id="json-array-body",
    ),
    pytest.param(
        Hostile("POST", "/v1/parties", ("body", "text"), json="party"), id="json-string-body"
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/parties",
            ("role",),
            content=raw(json.dumps(party())[:-1] + ', "role": "emperor"}'),
            headers=JSON,
        ),
        id="duplicate-key-last-wins",
    ),
    pytest.param(
        Hostile("POST", "/v1/parties", ("bytes",), 413, content=b" " * BIG, headers=JSON),
        id="body-over-1-mib",
    ),
    pytest.param(
        Hostile("POST", "/v1/parties", ("name", "200"), json=party(name="x" * 1_000_000)),
        id="name-of-1-mb",
    ),
    pytest.param(
        Hostile("POST", "/v1/parties", ("extra",), json=party(workspace_id=str(uuid.uuid4()))),
        id="unknown-field",
    ),
    # --- characters that are not text -------------------------------------------------
    pytest.param(
        Hostile("POST", "/v1/parties", ("name", "control"), json=party(name="Acme\x00Corp")),
        id="nul-in-name",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/participants",
            ("email",),
            json={"name": "M", "party_id": "{party}", "email": "m\x00@x.co"},
        ),
        id="nul-in-email",
    ),
    pytest.param(
        Hostile(
            "POST", "/v1/series", ("description", "control"), json=series(description="KPIs\x00")
        ),
        id="nul-in-description",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/participants/{participant}/time-off",
            ("note", "control"),
            json={"start_date": "2027-01-04", "end_date": "2027-01-05", "note": "\x00"},
        ),
        id="nul-in-note",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/parties",
            ("name", "unicode"),
            content=raw(json.dumps(party(name="PLACEHOLDER")).replace("PLACEHOLDER", "\\ud800")),
            headers=JSON,
        ),
        id="lone-surrogate-in-name",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/parties",
            ("timezone",),
            content=raw(
                json.dumps(party(timezone="PLACEHOLDER")).replace("PLACEHOLDER", "Asia/\\udfff")
            ),
            headers=JSON,
        ),
        id="lone-surrogate-in-timezone",
    ),
    pytest.param(
        Hostile("POST", "/v1/parties", ("name", "control"), json=party(name="Acme\u202eevil")),
        id="bidi-override-in-name",
    ),
    # --- ICS injection into single-line fields ---------------------------------------
    pytest.param(
        Hostile(
            "POST",
            "/v1/series",
            ("title", "control"),
            json=series(title="Review\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Pwned"),
        ),
        id="ics-injection-in-title",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/series",
            ("location", "control"),
            json=series(location="https://meet.example\r\nATTACH:http://evil.example/x"),
        ),
        id="ics-injection-in-location",
    ),
    pytest.param(
        Hostile(
            "PATCH",
            "/v1/series/{series}",
            ("title", "control"),
            json={"title": "Ops\nRRULE:FREQ=SECONDLY"},
        ),
        id="ics-injection-in-title-patch",
    ),
    # --- SQL injection in query parameters and paths ----------------------------------------
    pytest.param(Hostile("GET", f"/v1/parties?cursor={SQLI}", ("cursor",)), id="sqli-in-cursor"),
    pytest.param(
        Hostile("GET", f"/v1/participants?party_id={SQLI}", ("party_id", "uuid")),
        id="sqli-in-filter",
    ),
    pytest.param(
        Hostile(
            "GET",
            f"/v1/overlap?participant_ids={SQLI}&start=2026-11-30T00:00:00Z&end=2026-12-01T00:00:00Z",
            ("participant_ids",),
        ),
        id="sqli-in-id-list",
    ),
    pytest.param(
        Hostile("GET", f"/v1/series/{{series}}/occurrences?status={SQLI}", ("status",)),
        id="sqli-in-enum",
    ),
    pytest.param(
        Hostile("GET", "/v1/parties/1%20OR%201=1", ("party_id", "uuid")), id="sqli-in-path"
    ),
    # --- ids and cursors ----------------------------------------------------------
    pytest.param(
        Hostile("GET", "/v1/parties/not-a-uuid", ("party_id", "uuid")), id="bad-uuid-in-path"
    ),
    pytest.param(Hostile("DELETE", "/v1/feeds/%00", ("feed_id", "uuid")), id="nul-in-path"),
    pytest.param(
        Hostile(
            "POST", "/v1/participants", ("party_id", "uuid"), json={"name": "M", "party_id": "123"}
        ),
        id="bad-uuid-in-body",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/participants",
            ("party_id", "workspace"),
            json={"name": "M", "party_id": str(uuid.uuid4())},
        ),
        id="unknown-uuid-in-body",
    ),
    pytest.param(
        Hostile(
            "GET",
            "/v1/parties?cursor=" + cursor("2026-01-01T00:00:00+00:00|not-a-uuid"),
            ("cursor",),
        ),
        id="cursor-bad-id",
    ),
    pytest.param(
        Hostile(
            "GET",
            "/v1/parties?cursor=" + cursor(f"2026-01-01T00:00:00|{uuid.uuid4()}"),
            ("cursor",),
        ),
        id="cursor-naive-time",
    ),
    pytest.param(
        Hostile(
            "GET",
            "/v1/parties?cursor=" + cursor(f"0001-01-01T00:00:00+23:59|{uuid.uuid4()}"),
            ("cursor",),
        ),
        id="cursor-time-overflows",
    ),
    pytest.param(
        Hostile("GET", "/v1/parties?cursor=%E2%98%83", ("cursor",)), id="cursor-not-base64"
    ),
    # --- times: numbers, naive, extreme, DST in refused shapes ------------------------
    pytest.param(
        Hostile("POST", "/v1/slots/search", ("start", "rfc 3339"), json=search(start=0.5)),
        id="epoch-number-for-time",
    ),
    pytest.param(
        Hostile("POST", "/v1/slots/search", ("start", "rfc 3339"), json=search(start="1700000000")),
        id="epoch-string-for-time",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/slots/search",
            ("start", "timezone"),
            json=search(start="2027-03-14T02:30:00"),
        ),
        id="naive-time-in-dst-gap",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/slots/search",
            ("start", "10 years from today"),
            json=search(start="0001-01-01T00:00:00+01:00"),
        ),
        id="time-in-year-1",
    ),
    pytest.param(
        Hostile(
            "GET",
            "/v1/overlap?participant_ids={participant}&start=9999-12-31T00:00:00Z&end=9999-12-31T23:59:59-14:00",
            ("10 years from today",),
        ),
        id="time-in-year-9999",
    ),
    pytest.param(
        Hostile(
            "GET", "/v1/series/{series}/occurrences?from=2027-03-14T02:30:00", ("from", "timezone")
        ),
        id="naive-from-filter",
    ),
    pytest.param(
        Hostile(
            "PATCH",
            "/v1/occurrences/{occurrence}",
            ("start", "whole minute"),
            json={"start": "2027-03-14T07:30:30Z"},
        ),
        id="move-to-half-minute",
    ),
    pytest.param(
        Hostile(
            "PATCH",
            "/v1/occurrences/{occurrence}",
            ("start", "past"),
            json={"start": "2020-03-08T02:30:00-05:00"},
        ),
        id="move-into-the-past",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/participants/{participant}/time-off",
            ("end_date", "before"),
            json={"start_date": "2027-01-05", "end_date": "2027-01-04"},
        ),
        id="time-off-backwards",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/participants/{participant}/time-off",
            ("start_date", "yyyy-mm-dd"),
            json={"start_date": 20270104, "end_date": "2027-01-05"},
        ),
        id="number-for-date",
    ),
    # --- headers ------------------------------------------------------------------
    pytest.param(
        Hostile(
            "PATCH",
            "/v1/parties/{party}",
            ("etag",),
            412,
            json={"name": "X"},
            headers={"If-Match": '"bogus"'},
        ),
        id="if-match-stale",
    ),
    pytest.param(
        Hostile(
            "GET",
            "/v1/parties",
            ("api key",),
            401,
            headers={"Authorization": "Bearer " + "k" * 100_000},
        ),
        id="api-key-of-100-kb",
    ),
    pytest.param(
        Hostile("GET", "/v1/parties", ("bearer",), 401, headers={"Authorization": f"Basic {SQLI}"}),
        id="wrong-auth-scheme",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/v1/workspaces",
            ("x-admin-token",),
            403,
            json={"name": "W"},
            headers={"X-Admin-Token": SQLI},
        ),
        id="admin-token-injection",
    ),
    # --- public routes ------------------------------------------------------------
    pytest.param(
        Hostile("GET", "/feeds/..%2F..%2Fetc%2Fpasswd.ics", ("nothing at this path",), 404),
        id="feed-path-traversal",
    ),
    pytest.param(
        Hostile("GET", f"/feeds/{SQLI}.ics", ("calendar feed",), 404), id="feed-token-sqli"
    ),
    pytest.param(
        Hostile("GET", f"/share/{SQLI}", ("does not exist",), 404, html=True), id="share-token-sqli"
    ),
    pytest.param(
        Hostile(
            "GET", "/share/{share_token}?week=0001-01-01", ("week must fall between",), html=True
        ),
        id="share-week-year-1",
    ),
    pytest.param(
        Hostile(
            "GET", "/share/{share_token}?week=9999-12-31", ("week must fall between",), html=True
        ),
        id="share-week-year-9999",
    ),
    pytest.param(
        Hostile("GET", "/share/{share_token}?week=2026-02-30", ("yyyy-mm-dd",), html=True),
        id="share-week-impossible-date",
    ),
]


def _fill(template: Any, ids: Mapping[str, str]) -> Any:
    if isinstance(template, str):
        for key, value in ids.items():
            template = template.replace("{" + key + "}", value)
        return template
    if isinstance(template, bytes):
        return _fill(template.decode("utf-8", "surrogateescape"), ids).encode(
            "utf-8", "surrogateescape"
        )
    if isinstance(template, dict):
        return {k: _fill(v, ids) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, ids) for v in template]
    return template


def placeholders(world: World) -> dict[str, str]:
    return {
        "party": world.ids["party_id"],
        "participant": world.ids["participant_id"],
        "vendor": world.spares["vendor_participant"],
        "series": world.ids["series_id"],
        "occurrence": world.ids["occurrence_id"],
        "feed_token": world.ids["feed_token"],
        "share_token": world.ids["share_token"],
    }


def send(api: Client, case: Hostile, ids: Mapping[str, str]) -> Any:
    kwargs: dict[str, Any] = {"headers": dict(case.headers)}
    if case.json is not NOTHING:
        kwargs["json"] = _fill(case.json, ids)
    if case.content is not None:
        kwargs["content"] = _fill(case.content, ids)
    return api.request(case.method, _fill(case.path, ids), **kwargs)


@pytest.mark.parametrize("case", CATALOGUE)
def test_hostile_input_is_refused(world: World, engine: Engine, case: Hostile) -> None:
    ids = placeholders(world)
    with counting_rows(engine):
        r = send(world.api, case, ids)
    assert r.status_code == case.status, r.text[:2000]
    if case.html:
        assert r.headers["content-type"].startswith("text/html"), r.headers
        text = r.text.lower()
    else:
        body = r.json()
        assert set(body) <= {"error", "detail", "fields"} and body["error"], body
        text = body["detail"].lower()
        if case.status == 422:
            assert body["error"] == "validation_error" and body["fields"], body
    for needle in case.needles:
        assert needle.lower() in text, (needle, text[:2000])


def test_catalogue_is_large_enough() -> None:
    assert len(CATALOGUE) >= 40


# --- Slack: signatures and sizes are checked before anything else --------------------------


SLACK_FORM = f"team_id={TEAM}&user_id={SLACK_USER}&command=%2Fmeet&text=next".encode()
NOW = "now"


@pytest.mark.parametrize(
    ("content", "timestamp", "headers", "status", "needle"),
    [
        pytest.param(SLACK_FORM, None, {}, 401, "signed", id="unsigned"),
        pytest.param(
            SLACK_FORM,
            None,
            {"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=" + "0" * 64},
            401,
            "signed",
            id="bad-signature",
        ),
        pytest.param(SLACK_FORM, "not-a-number", {}, 401, "signed", id="bad-timestamp"),
        pytest.param(SLACK_FORM, "1", {}, 401, "5 minutes", id="replayed-from-1970"),
        pytest.param(b"x" * 70_000, NOW, {}, 413, "bytes", id="oversized"),
        pytest.param(b"\x00\x01 not a form", NOW, {}, 400, "team_id", id="signed-garbage"),
        pytest.param(
            SLACK_FORM + b"&text=" + SQLI.encode(), NOW, {}, 200, "", id="signed-sqli-text"
        ),
    ],
)
def test_slack_refuses_what_slack_did_not_sign(
    world: World,
    engine: Engine,
    content: bytes,
    timestamp: str | None,
    headers: dict[str, str],
    status: int,
    needle: str,
) -> None:
    if timestamp is not None:
        ts = str(int(time.time())) if timestamp == NOW else timestamp
        signature = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=ts, body=content)
        headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": str(signature)}
    headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    with counting_rows(engine):
        r = world.api.post("/slack/commands", content=content, headers=headers)
    assert r.status_code == status, r.text
    if status == 200:  # a reply for Slack to show, not an error
        assert r.json()["text"]
    else:
        assert needle in r.json()["detail"]


# --- tricky but valid: the answer must be right ----------------------------------------------


def always_working(api: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two people who always work (no holidays): every instant is inside their hours."""
    ny = make_party(api, timezone="America/New_York", working_hours=ALWAYS, holiday_country=None)
    mnl = make_party(api, timezone="Asia/Manila", working_hours=ALWAYS, holiday_country=None)
    return make_participant(api, ny["id"], name="Nora"), make_participant(
        api, mnl["id"], name="Jun"
    )


def test_dst_gap_instant_in_overlap_bounds_is_read_by_its_offset(api: Client) -> None:
    """02:30 on 2027-03-14 does not exist on New York's clocks, but 02:30-05:00 is an instant
    (07:30Z); it is valid and means exactly that instant."""
    ny, mnl = always_working(api)
    ids = f"{ny['id']},{mnl['id']}"
    answers = []
    for start in ("2027-03-14T02:30:00-05:00", "2027-03-14T07:30:00Z", "2027-03-14T03:30:00-04:00"):
        r = api.get(
            "/v1/overlap",
            params={"participant_ids": ids, "start": start, "end": "2027-03-14T12:00:00Z"},
        )
        assert r.status_code == 200, r.text
        answers.append(r.json())
    assert answers[0] == answers[1] == answers[2]
    (window,) = answers[0]["windows"]
    assert (window["start"], window["end"]) == ("2027-03-14T07:30:00Z", "2027-03-14T12:00:00Z")
    assert window["local"][ny["id"]]["start"] == "2027-03-14T03:30:00-04:00"


@pytest.mark.parametrize(
    ("start", "first_utc"),
    [
        ("2027-11-07T01:30:00-04:00", "2027-11-07T05:30:00Z"),
        ("2027-11-07T01:30:00-05:00", "2027-11-07T06:30:00Z"),
    ],
    ids=["first-01:30", "second-01:30"],
)
def test_ambiguous_time_in_search_bounds_keeps_its_offset(
    api: Client, start: str, first_utc: str
) -> None:
    """01:30 happens twice in New York on 2027-11-07; the offset says which one."""
    ny, _ = always_working(api)
    r = api.post(
        "/v1/slots/search",
        json={
            "participant_ids": [ny["id"]],
            "duration_minutes": 60,
            "start": start,
            "end": "2027-11-07T12:00:00Z",
            "limit": 1,
        },
    )
    assert r.status_code == 200, r.text
    (slot,) = r.json()["slots"]
    assert slot["start"] == first_utc and slot["max_burden_minutes"] == 0
    assert slot["participants"][0]["local_start"] == start


@pytest.mark.parametrize(
    ("move_to", "utc", "local"),
    [
        ("2027-03-14T02:30:00-05:00", "2027-03-14T07:30:00Z", "2027-03-14T03:30:00-04:00"),
        ("2027-11-07T01:30:00-04:00", "2027-11-07T05:30:00Z", "2027-11-07T01:30:00-04:00"),
        ("2027-11-07T01:30:00-05:00", "2027-11-07T06:30:00Z", "2027-11-07T01:30:00-05:00"),
    ],
    ids=["into-the-gap", "first-of-the-fold", "second-of-the-fold"],
)
def test_occurrence_moves_to_dst_edge_instants(
    api: Client, move_to: str, utc: str, local: str
) -> None:
    ny, mnl = always_working(api)
    members = [{"participant_id": p["id"], "required": True} for p in (ny, mnl)]
    s = api.post("/v1/series", json=series(participants=members))
    assert s.status_code == 201, s.text
    assert api.post(f"/v1/series/{s.json()['id']}/schedule").status_code == 200
    occ = api.get(f"/v1/series/{s.json()['id']}/occurrences").json()["items"][0]
    r = api.patch(f"/v1/occurrences/{occ['id']}", json={"start": move_to})
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["start"] == utc and moved["sequence"] == occ["sequence"] + 1
    (nora,) = [p for p in moved["participants"] if p["participant_id"] == ny["id"]]
    assert nora["local_start"] == local and nora["burden_minutes"] == 0


def test_window_ending_at_24_00_is_valid(api: Client) -> None:
    hours = [{"days": ["mon"], "start": "17:00", "end": "24:00"}]
    assert make_party(api, working_hours=hours)["working_hours"] == hours


def test_overlapping_windows_merge(api: Client) -> None:
    split = [
        {"days": ["mon"], "start": "09:00", "end": "12:00"},
        {"days": ["mon"], "start": "11:00", "end": "17:00"},
    ]
    p = make_party(api, timezone="UTC", working_hours=split, holiday_country=None)
    person = make_participant(api, p["id"])
    r = api.get(
        "/v1/overlap",
        params={
            "participant_ids": person["id"],
            "start": "2027-01-04T00:00:00Z",
            "end": "2027-01-05T00:00:00Z",
        },
    )
    assert r.status_code == 200, r.text
    assert [(w["start"], w["end"]) for w in r.json()["windows"]] == [
        ("2027-01-04T09:00:00Z", "2027-01-04T17:00:00Z")
    ]


def test_empty_working_hours_never_work(api: Client) -> None:
    p = make_party(api, working_hours=[])
    person = make_participant(api, p["id"])
    assert person["effective_working_hours"] == []
    body = {"participant_ids": [person["id"]], "duration_minutes": 30}
    r = api.post(
        "/v1/slots/search",
        json={**body, "start": "2027-01-04T00:00:00Z", "end": "2027-01-11T00:00:00Z"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["slots"] == []


def test_sql_injection_in_names_is_stored_literally(api: Client, engine: Engine) -> None:
    before = table_counts(engine)
    created = make_party(api, name=SQLI)
    assert api.get(f"/v1/parties/{created['id']}").json()["name"] == SQLI
    assert table_counts(engine) == {**before, "party": before["party"] + 1}


def test_ics_injection_in_description_stays_text(api: Client) -> None:
    """A description may hold newlines; in the feed they are escaped TEXT, never new lines."""
    ny, mnl = always_working(api)
    members = [{"participant_id": p["id"], "required": True} for p in (ny, mnl)]
    evil = "KPIs\nEND:VEVENT\nEND:VCALENDAR\nBEGIN:VCALENDAR"
    s = api.post("/v1/series", json=series(participants=members, description=evil, count=2))
    assert s.status_code == 201, s.text
    assert s.json()["description"] == evil
    assert api.post(f"/v1/series/{s.json()['id']}/schedule").status_code == 200
    feed = api.post("/v1/feeds", json={"scope": "series", "target_id": s.json()["id"]}).json()
    ics = api.get(feed["url"].removeprefix("https://sched.example")).text
    lines = ics.split("\r\n")
    assert lines.count("BEGIN:VCALENDAR") == 1 and lines.count("END:VCALENDAR") == 1
    assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT") == 2
    unfolded = ics.replace("\r\n ", "")
    assert "KPIs\\nEND:VEVENT\\nEND:VCALENDAR\\nBEGIN:VCALENDAR" in unfolded


def test_duplicate_json_keys_last_one_wins(api: Client) -> None:
    text = json.dumps(party(name="first"))[:-1] + ', "name": "second"}'
    r = api.post("/v1/parties", content=text, headers=JSON)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "second"

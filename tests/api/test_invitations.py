"""Invitations through the real API: what is queued in the outbox and when (one row per
member, merged while not sent), RSVP and unsubscribe links, and answers in the API
(docs/api.md, "Invitations"; docs/rules.md, "Invitations")."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import Session, update

from app.db.models import Delivery, Series
from app.invitations.links import rsvp_url, unsubscribe_url
from app.services import services
from tests.api.conftest import error_of
from tests.api.review import two_parties, weekly_review
from tests.conftest import Client, clock_at, make_participant


def team(api: Client, *, vendor_attendance: str = "required") -> dict[str, Any]:
    """The weekly review (tests/api/review.py) with invitations on: Ana in New York, Maria
    and Jo in Manila (``vendor_attendance``), and an optional member without an email."""
    ny, mnl = two_parties(api)
    ana = make_participant(api, ny["id"], name="Ana Reyes", email="ana@client.example")
    maria = make_participant(api, mnl["id"], name="Maria Santos", email="maria@vendor.example")
    jo = make_participant(api, mnl["id"], name="Jo Cruz", email="jo@vendor.example")
    nomail = make_participant(api, ny["id"], name="No Mail")
    members = [
        {"participant_id": ana["id"]},
        {"participant_id": maria["id"], "attendance": vendor_attendance},
        {"participant_id": jo["id"], "attendance": vendor_attendance},
        {"participant_id": nomail["id"], "attendance": "optional"},
    ]
    quorum = [{"party_id": mnl["id"], "min_attendees": 1}] if vendor_attendance == "quorum" else []
    series = weekly_review(
        api,
        members,
        schedule=False,
        quorum=quorum,
        send_invitations=True,
        organizer_email="pmo@client.example",
    )
    return {"series": series, "ana": ana, "maria": maria, "jo": jo, "nomail": nomail}


def deliveries(api: Client, **query: str) -> list[dict[str, Any]]:
    r = api.get("/v1/deliveries", params=query)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_a_series_without_invitations_sends_nothing(api: Client) -> None:
    world = team(api)
    sid = world["series"]["id"]
    assert world["series"]["send_invitations"] is True
    assert world["series"]["reminder_minutes"] == 15
    assert deliveries(api) == []  # created, not scheduled: nothing to invite to yet
    off = api.patch(
        f"/v1/series/{sid}",
        json={"send_invitations": False},
        headers={"If-Match": api.get(f"/v1/series/{sid}").headers["ETag"]},
    )
    assert off.status_code == 200
    assert api.post(f"/v1/series/{sid}/schedule").status_code == 200
    assert deliveries(api) == []


def test_scheduling_queues_one_request_per_member_with_an_email(api: Client) -> None:
    world = team(api)
    sid = world["series"]["id"]
    assert api.post(f"/v1/series/{sid}/schedule").status_code == 200
    rows = deliveries(api, series_id=sid)
    assert sorted(r["recipient"] for r in rows) == [
        "ana@client.example",
        "jo@vendor.example",
        "maria@vendor.example",
    ]
    assert {(r["method"], r["sequence"], r["status"], r["attempts"]) for r in rows} == {
        ("REQUEST", 1, "pending", 0)
    }
    assert all(
        re.fullmatch(r"<delivery-[0-9a-f-]{36}@meeting-scheduler>", r["message_id"]) for r in rows
    )
    # The same schedule again moves nothing in anyone's calendar: nothing more is queued.
    assert api.post(f"/v1/series/{sid}/schedule").status_code == 200
    assert len(deliveries(api, series_id=sid)) == 3
    assert deliveries(api, participant_id=world["maria"]["id"])[0]["recipient"] == (
        "maria@vendor.example"
    )
    assert deliveries(api, status="sent") == []


def test_changes_before_sending_merge_into_one_message_per_member(api: Client) -> None:
    world = team(api)
    sid = world["series"]["id"]
    api.post(f"/v1/series/{sid}/schedule")
    [first, *_] = api.get(f"/v1/series/{sid}/occurrences").json()["items"]
    moved = datetime.fromisoformat(first["start"]) + timedelta(hours=1)
    r = api.patch(
        f"/v1/occurrences/{first['id']}",
        json={"start": moved.isoformat()},
    )
    assert r.status_code == 200, r.text
    rows = deliveries(api, series_id=sid)
    assert len(rows) == 3  # merged: still one per member
    assert {(r["method"], r["sequence"]) for r in rows} == {("REQUEST", 2)}


def test_a_cancelled_occurrence_is_a_cancel_of_that_occurrence(
    api: Client, app: FastAPI, pinned_now: datetime
) -> None:
    world = team(api)
    sid = world["series"]["id"]
    api.post(f"/v1/series/{sid}/schedule")
    _mark_sent(app)
    [first, *_] = api.get(f"/v1/series/{sid}/occurrences").json()["items"]
    r = api.patch(
        f"/v1/occurrences/{first['id']}",
        json={"status": "cancelled"},
    )
    assert r.status_code == 200, r.text
    pending = deliveries(api, status="pending")
    assert {(d["method"], d["only_date"], d["sequence"]) for d in pending} == {
        ("CANCEL", first["date"], 2)
    }
    assert len(pending) == 3


def test_a_removed_member_and_a_deleted_series_get_a_cancel(api: Client, app: FastAPI) -> None:
    world = team(api)
    sid = world["series"]["id"]
    api.post(f"/v1/series/{sid}/schedule")
    _mark_sent(app)
    etag = api.get(f"/v1/series/{sid}").headers["ETag"]
    keep = [
        {"participant_id": world["ana"]["id"]},
        {"participant_id": world["maria"]["id"]},
        {"participant_id": world["nomail"]["id"], "attendance": "optional"},
    ]
    r = api.patch(f"/v1/series/{sid}", json={"participants": keep}, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    pending = {
        (d["recipient"], d["method"], d["only_date"]) for d in deliveries(api, status="pending")
    }
    # Jo's invitation is cancelled; the others' shows one attendee fewer.
    assert pending == {
        ("jo@vendor.example", "CANCEL", None),
        ("ana@client.example", "REQUEST", None),
        ("maria@vendor.example", "REQUEST", None),
    }
    _mark_sent(app)
    assert api.delete(f"/v1/series/{sid}").status_code == 204
    gone = {(d["recipient"], d["method"]) for d in deliveries(api, status="pending")}
    assert gone == {("ana@client.example", "CANCEL"), ("maria@vendor.example", "CANCEL")}


def _mark_sent(app: FastAPI) -> None:
    """As if the dispatcher had sent everything queued so far."""
    with Session(services(app).engine) as session:
        session.execute(update(Delivery).values(status="sent"))
        session.commit()


def _links(
    app: FastAPI, world: dict[str, Any], who: str, day: date | None = None
) -> dict[str, str]:
    """The links of ``who``'s messages, made as the messages make them."""
    settings = services(app).settings
    with Session(services(app).engine) as session:
        series = session.get(Series, uuid.UUID(world["series"]["id"]))
        assert series is not None
        pid, epoch = uuid.UUID(world[who]["id"]), series.rsvp_epoch
        return {
            **{a: rsvp_url(settings, series.id, epoch, pid, a, day) for a in ("accept", "decline")},
            "unsubscribe": unsubscribe_url(settings, series.id, epoch, pid),
        }


def record_answer(
    api: Client, series_id: str, participant_id: str, answer: str, day: date | None = None
) -> None:
    """Press the button behind a member's RSVP link, as the invitation gives it to them."""
    app = api.app
    with Session(services(app).engine) as session:
        series = session.get(Series, uuid.UUID(series_id))
        assert series is not None
        url = rsvp_url(
            services(app).settings,
            series.id,
            series.rsvp_epoch,
            uuid.UUID(participant_id),
            answer,
            day,
        )
    r = api.post(_path(url))
    assert r.status_code == 200, r.text


def _path(url: str) -> str:
    """The path of one of our public URLs (the test client is the server)."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_rsvp_links_record_answers_only_when_posted(api: Client, app: FastAPI) -> None:
    world = team(api)
    sid = world["series"]["id"]
    api.post(f"/v1/series/{sid}/schedule")
    links = _links(app, world, "maria")
    page = api.get(_path(links["decline"]))
    assert page.status_code == 200 and "<form method='post'>" in page.text
    occ = api.get(f"/v1/series/{sid}/occurrences").json()["items"][0]
    slots = {p["participant_id"]: p for p in occ["participants"]}
    assert slots[world["maria"]["id"]]["response"] is None  # a GET changed nothing
    done = api.post(_path(links["decline"]))
    assert done.status_code == 200 and "You declined" in done.text
    occ = api.get(f"/v1/series/{sid}/occurrences").json()["items"][0]
    slots = {p["participant_id"]: p for p in occ["participants"]}
    assert slots[world["maria"]["id"]]["response"] == "declined"
    assert slots[world["ana"]["id"]]["response"] is None


def test_forged_other_and_revoked_links_are_404(api: Client, app: FastAPI) -> None:
    world = team(api)
    sid = world["series"]["id"]
    api.post(f"/v1/series/{sid}/schedule")
    links = _links(app, world, "maria")
    path = _path(links["accept"])
    token = path.split("/")[2]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert api.post(path.replace(token, forged)).status_code == 404
    as_rsvp = _path(links["unsubscribe"]).replace("/unsubscribe/", "/rsvp/") + "/accept"
    assert api.post(as_rsvp).status_code == 404  # an unsubscribe token is no RSVP
    assert api.post(path.replace("/accept", "/maybe")).status_code == 404
    assert api.post(f"/v1/series/{sid}/invitations/revoke-links").status_code == 204
    assert api.post(path).status_code == 404
    assert api.get(_path(links["unsubscribe"])).status_code == 404


def test_one_click_unsubscribe_stops_the_members_invitations(api: Client, app: FastAPI) -> None:
    world = team(api)
    sid = world["series"]["id"]
    links = _links(app, world, "jo")
    r = api.post(
        _path(links["unsubscribe"]),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and "no more invitations" in r.text
    api.post(f"/v1/series/{sid}/schedule")
    assert sorted(d["recipient"] for d in deliveries(api)) == [
        "ana@client.example",
        "maria@vendor.example",
    ]


def test_a_quorum_members_decline_makes_them_absent(api: Client, app: FastAPI) -> None:
    world = team(api, vendor_attendance="quorum")
    sid = world["series"]["id"]
    api.post(f"/v1/series/{sid}/schedule")
    occ = api.get(f"/v1/series/{sid}/occurrences").json()["items"][0]
    url = _links(app, world, "jo", date.fromisoformat(occ["date"]))["decline"]
    assert api.post(_path(url)).status_code == 200
    again = api.get(f"/v1/series/{sid}/occurrences").json()["items"][0]
    assert {"participant_id": world["jo"]["id"], "reason": "declined the invitation"} in again[
        "absent"
    ]
    assert world["jo"]["id"] not in {p["participant_id"] for p in again["participants"]}


def test_deliveries_are_the_workspaces_own(api: Client, other_api: Client) -> None:
    world = team(api)
    api.post(f"/v1/series/{world['series']['id']}/schedule")
    assert other_api.get("/v1/deliveries").json()["items"] == []
    error_of(other_api.post(f"/v1/series/{world['series']['id']}/invitations/revoke-links"), 404)
    error_of(api.get("/v1/deliveries", params={"status": "lost"}), 422)


@pytest.mark.parametrize("minutes", [-1, 100_000, 1.5])
def test_reminder_minutes_are_checked(api: Client, minutes: float) -> None:
    world = team(api)
    sid = world["series"]["id"]
    etag = api.get(f"/v1/series/{sid}").headers["ETag"]
    error_of(
        api.patch(
            f"/v1/series/{sid}", json={"reminder_minutes": minutes}, headers={"If-Match": etag}
        ),
        422,
    )
    with clock_at(api.app, datetime.fromisoformat("2026-10-01T00:00:00+00:00")):
        ok = api.patch(
            f"/v1/series/{sid}", json={"reminder_minutes": None}, headers={"If-Match": etag}
        )
    assert ok.status_code == 200 and ok.json()["reminder_minutes"] is None


def test_send_invitations_cannot_be_null(api: Client) -> None:
    world = team(api)
    sid = world["series"]["id"]
    etag = api.get(f"/v1/series/{sid}").headers["ETag"]
    body = error_of(
        api.patch(f"/v1/series/{sid}", json={"send_invitations": None}, headers={"If-Match": etag}),
        422,
    )
    assert body["fields"][0]["loc"][-1] == "send_invitations"


def test_null_reminders_at_creation_mean_none(api: Client) -> None:
    ny, _ = two_parties(api)
    ana = make_participant(api, ny["id"], name="Ana Reyes")
    series = weekly_review(
        api,
        [{"participant_id": ana["id"]}],
        schedule=False,
        reminder_minutes=None,
        slack_reminder_minutes=None,
    )
    assert (series["reminder_minutes"], series["slack_reminder_minutes"]) == (None, None)
    again = api.get(f"/v1/series/{series['id']}").json()
    assert (again["reminder_minutes"], again["slack_reminder_minutes"]) == (None, None)

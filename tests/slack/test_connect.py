"""Slack Connect: a vendor's user in a channel the client shares with them is recognised by
their own Slack team and user id (``Participant.slack_team_id``), in commands and on buttons.

What Slack sends (app.slack.parsing): a slash command carries the *invoking user's own*
workspace as ``team_id`` (the app must be installed there for them to use it at all); a
button press carries the presser as ``user.id`` / ``user.team_id`` and the installing
workspace as ``team.id``; users of an Enterprise Grid org may show the org's ``E…`` id as
``user.team_id``. The payloads below have those shapes.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI

from app.db.changes import touch
from app.db.engine import session_scope
from app.db.models import Workspace
from app.services import services
from app.slack.blocks import DECLINE, button_value
from tests.api.conftest import error_of
from tests.conftest import Client, make_participant, make_party
from tests.slack.conftest import TEAM, Demo, ResponseCatcher, mrkdwn, reply_of, slash
from tests.slack.test_interactions import (  # interactive: the route, autouse here too
    answer_of,
    interactive,  # noqa: F401
    occurrences,
    press,
    response,
    upcoming,
)

VENDOR = "TVENDOR01"  # OABPO's own Slack workspace
SHARED = "CSHARED01"  # the channel Acme shares with OABPO


def bind(api: Client, team_id: str) -> None:
    """Connect the workspace of ``api`` to a Slack team, written as an install writes it."""
    workspace_id = uuid.UUID(api.get("/v1/workspace").json()["id"])
    with session_scope(services(api.app).engine) as session:
        workspace = session.get(Workspace, workspace_id)
        assert workspace is not None
        touch(session, workspace, {"slack_team_id": team_id})


def link(demo: Demo, who: str, **fields: Any) -> None:
    r = demo.api.patch(f"/v1/participants/{demo.people[who]['id']}", json=fields)
    assert r.status_code == 200, r.text


@pytest.fixture
def vendor_maria(demo: Demo) -> dict[str, Any]:
    """Maria of OABPO, linked in Acme's scheduler workspace as the user of OABPO's team."""
    link(demo, "maria", slack_team_id=VENDOR)
    return demo.people["maria"]


def test_participants_carry_a_slack_team(api: Client) -> None:
    party = make_party(api)
    made = make_participant(api, party["id"], slack_user_id="UMARIA", slack_team_id=VENDOR)
    assert (made["slack_user_id"], made["slack_team_id"]) == ("UMARIA", VENDOR)
    assert make_participant(api, party["id"], name="Home user")["slack_team_id"] is None
    url = f"/v1/participants/{made['id']}"
    for bad in ("tvendor", "T 1", 7, "T" * 40):
        r = api.patch(url, json={"slack_team_id": bad})
        assert error_of(r, 422, "validation_error")["fields"][0]["loc"] == ["body", "slack_team_id"]
    r = api.patch(url, json={"slack_team_id": None})
    assert r.status_code == 200 and r.json()["slack_team_id"] is None
    assert api.get(url).json()["slack_team_id"] is None


# --- slash commands ---------------------------------------------------------------------


def test_a_vendor_user_runs_meet_from_their_own_team(
    client: Client, demo: Demo, vendor_maria: dict[str, Any]
) -> None:
    reply = reply_of(slash(client, "next 1", team_id=VENDOR, user_id="UMARIA", channel_id=SHARED))
    assert reply["blocks"][0]["text"]["text"] == "Next 1 meeting of Maria Santos"
    assert "*Weekly operations review*" in mrkdwn(reply)
    # The same user id from the client's own team is not her: her participant names OABPO.
    refused = mrkdwn(reply_of(slash(client, "next", team_id=TEAM, user_id="UMARIA")))
    assert '"slack_user_id": "UMARIA"' in refused and "Weekly" not in refused


def test_a_home_user_id_from_another_team_is_not_theirs(client: Client, demo: Demo) -> None:
    """Dana is Acme's own (no team of her own): her id from OABPO's team is someone else."""
    text = mrkdwn(reply_of(slash(client, "next", team_id=VENDOR, user_id="UDANA")))
    assert f"This Slack workspace (`{VENDOR}`) is not connected" in text
    assert f'"slack_team_id": "{VENDOR}"' in text  # how a shared channel's guest gets linked
    for secret in ("Weekly", "Dana", "Acme"):
        assert secret not in text


def test_the_channel_or_the_home_team_decides_between_two_workspaces(
    client: Client, demo: Demo, vendor_maria: dict[str, Any], other_api: Client
) -> None:
    """OABPO has a scheduler workspace of its own, bound to its team, where Maria is a home
    user too: a command in the channel Acme's series posts to is about Acme's meetings,
    anywhere else about OABPO's."""
    bind(other_api, VENDOR)
    own = make_party(other_api, name="OABPO internal", timezone="Asia/Manila")
    make_participant(other_api, own["id"], name="Maria (OABPO)", slack_user_id="UMARIA")
    r = demo.api.patch(f"/v1/series/{demo.ops['id']}", json={"slack_channel_id": SHARED})
    assert r.status_code == 200, r.text

    shared = reply_of(slash(client, "next 1", team_id=VENDOR, user_id="UMARIA", channel_id=SHARED))
    assert shared["blocks"][0]["text"]["text"] == "Next 1 meeting of Maria Santos"
    home = mrkdwn(reply_of(slash(client, "next", team_id=VENDOR, user_id="UMARIA")))
    assert "You have no upcoming meetings" in home  # OABPO's workspace has no series


def test_linked_as_a_guest_in_two_workspaces_says_so(
    client: Client, demo: Demo, vendor_maria: dict[str, Any], other_api: Client
) -> None:
    bind(other_api, "TOTHERCL1")
    party = make_party(other_api, name="Another client")
    make_participant(other_api, party["id"], slack_user_id="UMARIA", slack_team_id=VENDOR)
    text = mrkdwn(reply_of(slash(client, "series", team_id=VENDOR, user_id="UMARIA")))
    assert "linked in 2 scheduler workspaces" in text
    assert "Run the command in a channel that one of their series posts to." in text


def test_an_enterprise_user_is_matched_by_their_org(client: Client, demo: Demo) -> None:
    link(demo, "maria", slack_team_id="E0VENDOR1")
    reply = reply_of(
        slash(client, "next 1", team_id="TVENDWS02", enterprise_id="E0VENDOR1", user_id="UMARIA")
    )
    assert reply["blocks"][0]["text"]["text"] == "Next 1 meeting of Maria Santos"


# --- buttons ---------------------------------------------------------------------------


def test_a_vendor_user_presses_a_button_in_the_shared_channel(
    client: Client, demo: Demo, vendor_maria: dict[str, Any], response_url: ResponseCatcher
) -> None:
    first = upcoming(demo)[0]
    mine = button_value(uuid.UUID(vendor_maria["id"]), uuid.UUID(first["id"]))
    # team.id: the workspace that installed the app (Acme's); user.team_id: hers.
    press(client, DECLINE, mine, user_id="UMARIA", user_team=VENDOR, response_url=response_url.url)
    assert "Noted: you can't make *Weekly operations review*" in mrkdwn(answer_of(response_url))
    assert response(occurrences(demo)[0], vendor_maria["id"]) == "declined"


def test_a_button_press_claiming_the_clients_team_is_not_the_vendor_user(
    client: Client, demo: Demo, vendor_maria: dict[str, Any], response_url: ResponseCatcher
) -> None:
    first = upcoming(demo)[0]
    mine = button_value(uuid.UUID(vendor_maria["id"]), uuid.UUID(first["id"]))
    before = occurrences(demo)
    press(client, DECLINE, mine, user_id="UMARIA", user_team=TEAM, response_url=response_url.url)
    assert "made for someone else" in mrkdwn(answer_of(response_url))
    assert occurrences(demo) == before


@pytest.mark.parametrize(("enterprise", "theirs"), [("E0ACME01", True), ("E0OTHER1", False)])
def test_an_enterprise_presser_reported_by_org_id(
    client: Client,
    demo: Demo,
    response_url: ResponseCatcher,
    enterprise: str,
    theirs: bool,
) -> None:
    """In an Enterprise Grid org ``user.team_id`` is the org (``E…``): the press then counts
    from the org's workspace it came through (``team.id``), only when it is the org's."""
    first = upcoming(demo)[0]
    dana = button_value(uuid.UUID(demo.people["dana"]["id"]), uuid.UUID(first["id"]))
    press(
        client,
        DECLINE,
        dana,
        user_team="E0ACME01",
        enterprise_id=enterprise,
        response_url=response_url.url,
    )
    text = mrkdwn(answer_of(response_url))
    assert ("Noted: you can't make" in text) is theirs
    assert ("made for someone else" in text) is not theirs


def test_the_route_is_there_once(app: FastAPI) -> None:
    assert app.url_path_for("interaction") == "/slack/interactions"
    paths = app.openapi()["paths"]
    assert list(paths["/slack/interactions"]) == ["post"]

"""Demo data: a New York client, a Manila vendor on night shift and a London escalation desk.

Loading is idempotent: a second run reuses the demo workspace and issues a fresh API key
(keys are never stored in plain text, so the old one cannot be shown again).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from app.db.accounts import create_workspace, issue_api_key
from app.db.models import Participant, Party, Workspace

DEMO_NAME = "Acme Retail ↔ OABPO Manila (demo)"
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]

PARTIES: list[dict[str, Any]] = [
    {
        "name": "Acme Retail (New York)",
        "role": "client",
        "timezone": "America/New_York",
        "working_hours": [{"days": WEEKDAYS, "start": "09:00", "end": "17:00"}],
        "holiday_country": "US",
        "holiday_subdivision": "NY",
        "people": [
            {"name": "Dana Whitfield", "email": "dana@acme.example", "slack_user_id": "UDEMODANA"},
            {"name": "Sam Okafor", "email": "sam@acme.example", "slack_user_id": "UDEMOSAM"},
        ],
    },
    {
        "name": "OABPO Manila",
        "role": "vendor",
        "timezone": "Asia/Manila",
        # Agents cover New York's day: Sunday 21:00 to Friday 06:00, Manila time.
        "working_hours": [
            {"days": ["sun", "mon", "tue", "wed", "thu"], "start": "21:00", "end": "06:00"}
        ],
        "holiday_country": "PH",
        "holiday_subdivision": None,
        "people": [
            {"name": "Jun Reyes", "email": "jun@oabpo.example", "slack_user_id": "UDEMOJUN"},
            {
                "name": "Maria Santos",
                "email": "maria@oabpo.example",
                "slack_user_id": "UDEMOMARIA",
                # The account manager keeps day hours.
                "working_hours": [{"days": WEEKDAYS, "start": "09:00", "end": "18:00"}],
            },
        ],
    },
    {
        "name": "London escalation desk",
        "role": "partner",
        "timezone": "Europe/London",
        "working_hours": [{"days": WEEKDAYS, "start": "08:00", "end": "16:30"}],
        "holiday_country": "GB",
        "holiday_subdivision": "ENG",
        "people": [
            {"name": "Priya Shah", "email": "priya@escalate.example", "slack_user_id": "UDEMOPRIYA"}
        ],
    },
]


def load_demo(session: Session, public_base: str) -> dict[str, Any]:
    """Create (or refresh) the demo workspace; return its key and what it contains."""
    workspace = session.exec(select(Workspace).where(Workspace.name == DEMO_NAME)).first()
    if workspace is None:
        workspace, key = create_workspace(session, DEMO_NAME)
        people = _create_people(session, workspace)
    else:
        _, key = issue_api_key(session, workspace)
        people = {
            p.name: p
            for p in session.exec(
                select(Participant).where(Participant.workspace_id == workspace.id)
            )
        }
    summary: dict[str, Any] = {
        "workspace_id": str(workspace.id),
        "api_key": key,
        "participants": {name: str(p.id) for name, p in sorted(people.items())},
    }
    from app.demo import series as demo_series

    summary.update(demo_series.load(session, workspace, people, public_base))
    return summary


def _create_people(session: Session, workspace: Workspace) -> dict[str, Participant]:
    people: dict[str, Participant] = {}
    for spec in PARTIES:
        fields = {k: v for k, v in spec.items() if k != "people"}
        party = Party(workspace_id=workspace.id, **fields)
        session.add(party)
        session.flush()
        for person in spec["people"]:
            participant = Participant(workspace_id=workspace.id, party_id=party.id, **person)
            session.add(participant)
            people[participant.name] = participant
    session.flush()
    return people

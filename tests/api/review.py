"""The weekly review the series tests share: a New York client and a Manila team, and a
60-minute series on Tuesdays from 2027-01-05 anchored in New York."""

from __future__ import annotations

from typing import Any

from tests.conftest import Client, make_party

# Manila's contact center works nights: Sunday to Thursday, 21:00–06:00.
NIGHTS = [{"days": ["sun", "mon", "tue", "wed", "thu"], "start": "21:00", "end": "06:00"}]


def two_parties(
    api: Client, manila_hours: list[dict[str, Any]] | None = NIGHTS
) -> tuple[dict[str, Any], dict[str, Any]]:
    """("New York client", "Manila team"); Manila keeps the default hours when
    ``manila_hours`` is None, and has no holiday calendar."""
    ny = make_party(api, name="New York client", timezone="America/New_York")
    hours = {} if manila_hours is None else {"working_hours": manila_hours}
    mnl = make_party(
        api,
        name="Manila team",
        role="vendor",
        timezone="Asia/Manila",
        holiday_country=None,
        **hours,
    )
    return ny, mnl


def weekly_review(
    api: Client, members: list[dict[str, Any]], count: int = 4, schedule: bool = True, **extra: Any
) -> dict[str, Any]:
    """The series, with ``members`` as its participants (and ``extra`` fields); scheduled."""
    body: dict[str, Any] = {
        "title": "Weekly review",
        "duration_minutes": 60,
        "recurrence": "FREQ=WEEKLY;BYDAY=TU",
        "start_date": "2027-01-05",
        "count": count,
        "anchor_timezone": "America/New_York",
        "step_minutes": 30,
        "participants": members,
        **extra,
    }
    r = api.post("/v1/series", json=body)
    assert r.status_code == 201, r.text
    series: dict[str, Any] = r.json()
    if schedule:
        assert api.post(f"/v1/series/{series['id']}/schedule").status_code == 200
    return series

"""The past corrected and carried in (docs/rules.md, "The past, corrected and carried in"):
a past occurrence marked not held, members marked not attended, and an opening balance;
through the API on both databases.

Ana works 09:00–17:00 in New York, Maria 09:00–17:00 in Manila: no start is inside both
days, so every occurrence costs someone, and a correction shows in every total.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.review import two_parties, weekly_review
from tests.conftest import Client, clock_at, make_participant

# After the third of six weekly Tuesdays from 2027-01-05.
LATER = datetime(2027, 1, 21, tzinfo=UTC)


@pytest.fixture
def setup(api: Client) -> dict[str, Any]:
    ny, mnl = two_parties(api, manila_hours=None)  # 09:00–17:00 in both places
    ana = make_participant(api, ny["id"], name="Ana")
    maria = make_participant(api, mnl["id"], name="Maria")
    series = weekly_review(api, [{"participant_id": p["id"]} for p in (ana, maria)], count=6)
    return {"series": series, "ana": ana["id"], "maria": maria["id"]}


def _occurrences(api: Client, series_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/v1/series/{series_id}/occurrences").json()["items"]
    return items


def _ledger(api: Client, series_id: str) -> dict[str, dict[str, int]]:
    lines = api.get(f"/v1/series/{series_id}/balance").json()["participants"]
    return {line["participant_id"]: line for line in lines}


def _burden(occ: dict[str, Any], pid: str) -> int:
    return sum(p["burden_minutes"] for p in occ["participants"] if p["participant_id"] == pid)


def test_a_meeting_that_did_not_take_place_counts_nowhere(
    api: Client, app: FastAPI, setup: dict[str, Any]
) -> None:
    series, ana, maria = setup["series"]["id"], setup["ana"], setup["maria"]
    with clock_at(app, LATER):
        occs = _occurrences(api, series)
        past = [o for o in occs if datetime.fromisoformat(o["start"]) < LATER]
        assert len(past) == 3
        before = _ledger(api, series)
        first = past[0]
        url = f"/v1/occurrences/{first['id']}"
        # Any other change to the past is still refused.
        r = api.patch(url, json={"start": "2027-01-05T20:00:00Z"})
        assert r.status_code == 409 and "held: false" in r.json()["detail"]

        r = api.patch(url, json={"held": False})
        assert r.status_code == 200, r.text
        assert r.json()["held"] is False and "did not take place" in r.json()["notices"]
        assert r.json()["sequence"] == first["sequence"] + 1
        after = _ledger(api, series)
        for pid in (ana, maria):
            assert after[pid]["past_minutes"] == before[pid]["past_minutes"] - _burden(first, pid)
        # The planner no longer counts it as prior burden.
        plan = api.post(f"/v1/series/{series}/plan").json()
        prior = {b["participant_id"]: b["prior_minutes"] for b in plan["burden"]}
        assert prior == {pid: after[pid]["past_minutes"] for pid in (ana, maria)}

        # One member who did not come: only their part of it goes.
        second = past[1]
        r = api.patch(f"/v1/occurrences/{second['id']}", json={"attended": {maria: False}})
        assert r.status_code == 200, r.text
        assert r.json()["not_attended"] == [maria] and "Maria did not attend" in r.json()["notices"]
        again = _ledger(api, series)
        assert again[ana] == after[ana]
        assert again[maria]["past_minutes"] == after[maria]["past_minutes"] - _burden(second, maria)

        # Undone, everything is back.
        api.patch(url, json={"held": True})
        api.patch(f"/v1/occurrences/{second['id']}", json={"attended": {maria: True}})
        assert _ledger(api, series) == before

        # Future occurrences are cancelled, not marked not held.
        future = next(o for o in occs if datetime.fromisoformat(o["start"]) >= LATER)
        r = api.patch(f"/v1/occurrences/{future['id']}", json={"held": False})
        assert r.status_code == 422 and "status: cancelled" in r.json()["detail"]
        r = api.patch(url, json={"held": False, "start": "2027-01-05T20:00:00Z"})
        assert r.status_code == 422 and "Send them separately" in r.text
        stranger = "00000000-0000-4000-8000-000000000000"
        r = api.patch(url, json={"attended": {stranger: False}})
        assert r.status_code == 422 and "not an attendee" in r.json()["detail"]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(held=st.lists(st.booleans(), min_size=3, max_size=3))
def test_held_false_removes_exactly_its_burden_from_every_total(
    api: Client, app: FastAPI, setup: dict[str, Any], held: list[bool]
) -> None:
    series = setup["series"]["id"]
    with clock_at(app, LATER):
        occs = _occurrences(api, series)
        past = [o for o in occs if datetime.fromisoformat(o["start"]) < LATER]
        for occ, keep in zip(past, held, strict=True):
            assert api.patch(f"/v1/occurrences/{occ['id']}", json={"held": keep}).status_code == 200
        ledger = _ledger(api, series)
        parties = api.get(f"/v1/series/{series}/balance").json()["parties"]
        for pid in (setup["ana"], setup["maria"]):
            counted = [o for o, keep in zip(past, held, strict=True) if keep]
            assert ledger[pid]["past_minutes"] == sum(_burden(o, pid) for o in counted)
        assert sum(p["total_minutes"] for p in parties) == sum(
            line["total_minutes"] for line in ledger.values()
        )


def test_an_opening_balance_is_carried_into_prior_burden_and_the_ledger(
    api: Client, setup: dict[str, Any]
) -> None:
    series, ana, maria = setup["series"]["id"], setup["ana"], setup["maria"]
    url = f"/v1/series/{series}/opening-balance"
    assert api.get(url).json() == {"participants": []}
    plan_before = api.post(f"/v1/series/{series}/plan").json()
    body = {
        "participants": [{"participant_id": maria, "burden_minutes": 600, "note": "2026 calls"}]
    }
    r = api.put(url, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["participants"] == [
        {"participant_id": maria, "burden_minutes": 600, "note": "2026 calls"}
    ]
    assert api.get(url).json() == r.json()
    ledger = _ledger(api, series)
    assert ledger[maria]["opening_minutes"] == 600
    assert (
        ledger[maria]["total_minutes"]
        == 600 + ledger[maria]["past_minutes"] + ledger[maria]["scheduled_minutes"]
    )
    assert ledger[ana]["opening_minutes"] == 0
    plan = api.post(f"/v1/series/{series}/plan").json()
    prior = {b["participant_id"]: b["prior_minutes"] for b in plan["burden"]}
    assert prior == {maria: 600, ana: 0}
    # Maria has carried more: the rotation now gives Ana more of the hard turns.
    planned = {b["participant_id"]: b["planned_minutes"] for b in plan["burden"]}
    planned_before = {b["participant_id"]: b["planned_minutes"] for b in plan_before["burden"]}
    assert planned[ana] > planned_before[ana]

    etag = r.headers["ETag"]
    for bad, words in (
        (
            {
                "participants": [
                    {"participant_id": "00000000-0000-4000-8000-000000000000", "burden_minutes": 1}
                ]
            },
            "not a member",
        ),
        ({"participants": [{"participant_id": ana, "burden_minutes": 1}] * 2}, "listed twice"),
        ({"participants": [{"participant_id": ana, "burden_minutes": -5}]}, "Give at least 0"),
        ({"participants": [{"participant_id": ana, "burden_minutes": 2.5}]}, "whole number"),
    ):
        r = api.put(url, json=bad)
        assert r.status_code == 422 and words in r.text, r.text
    assert api.get(url).json()["participants"][0]["burden_minutes"] == 600
    stale = api.put(url, json={"participants": []}, headers={"If-Match": 'W/"x-0"'})
    assert stale.status_code == 412
    assert api.put(url, json={"participants": []}, headers={"If-Match": etag}).status_code == 200
    assert _ledger(api, series)[maria]["opening_minutes"] == 0


def test_the_ledger_compares_parties_fairly_and_answers_csv(
    api: Client, setup: dict[str, Any]
) -> None:
    """Two New Yorkers and one Manila member: the party sum favours the side that sends
    fewer people, the mean per member does not. CSV says the same as JSON."""
    series, ana, maria = setup["series"]["id"], setup["ana"], setup["maria"]
    ny_party = api.get(f"/v1/participants/{ana}").json()["party_id"]
    bo = make_participant(api, ny_party, name="=Bo")["id"]  # a name a spreadsheet would run
    members = [{"participant_id": p} for p in (ana, maria, bo)]
    assert api.patch(f"/v1/series/{series}", json={"participants": members}).status_code == 200
    assert api.post(f"/v1/series/{series}/schedule").status_code == 200
    balance = api.get(f"/v1/series/{series}/balance").json()
    people = {p["participant_id"]: p["total_minutes"] for p in balance["participants"]}
    parties = {p["name"]: p for p in balance["parties"]}
    ny = parties["New York client"]
    assert ny["members"] == 2 and ny["total_minutes"] == people[ana] + people[bo]
    assert ny["max_minutes"] == max(people[ana], people[bo])
    assert ny["mean_minutes"] == (2 * ny["total_minutes"] + 2) // 4
    manila = parties["Manila team"]
    assert (manila["members"], manila["mean_minutes"], manila["max_minutes"]) == (
        1,
        people[maria],
        people[maria],
    )

    r = api.get(f"/v1/series/{series}/balance", headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    by_id = {(row["kind"], row["id"]): row for row in rows}
    for pid, total in people.items():
        assert int(by_id[("participant", pid)]["total_minutes"]) == total
    assert by_id[("participant", bo)]["name"] == "'=Bo"  # never a formula
    party_row = by_id[("party", ny["party_id"])]
    assert (int(party_row["members"]), int(party_row["mean_minutes"])) == (2, ny["mean_minutes"])
    # The JSON answer is not served from the CSV one, nor the other way round.
    assert api.get(f"/v1/series/{series}/balance").json() == balance

    r = api.get(
        f"/v1/series/{series}/occurrences", headers={"Accept": "text/csv"}, params={"limit": 2}
    )
    assert r.status_code == 200 and r.headers["x-next-cursor"]
    occurrences = api.get(f"/v1/series/{series}/occurrences", params={"limit": 2}).json()["items"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    expected = [
        (o["id"], p["participant_id"], p["burden_minutes"])
        for o in occurrences
        for p in o["participants"]
    ]
    assert [
        (row["occurrence_id"], row["participant_id"], int(row["burden_minutes"])) for row in rows
    ] == expected

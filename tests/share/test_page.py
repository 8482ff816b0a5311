"""What the share page shows, read from the HTML a request returns."""

from __future__ import annotations

import html as html_lib
import re
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from app.scheduling.wording import hours, join_names
from tests.api.test_invitations import record_answer
from tests.conftest import Client, counting_rows, make_participant
from tests.share.conftest import FIRST_DATE, DemoSeries, make_demo_series


def _text(page: str) -> str:
    """The page's text, tags stripped and entities decoded, whitespace squeezed."""
    no_tags = re.sub(r"<(script|style)\b.*?</\1>|<[^>]+>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html_lib.unescape(no_tags))


def _occurrences(demo: DemoSeries) -> list[dict[str, Any]]:
    r = demo.api.get(f"/v1/series/{demo.series['id']}/occurrences")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_default_week_is_the_next_meeting_with_everyone_and_their_times(
    demo: DemoSeries,
) -> None:
    party = demo.api.get(f"/v1/participants/{demo.people['Dana Whitfield']['id']}").json()
    make_participant(demo.api, party["party_id"], name="Olga Outsider")  # not in the series
    r = demo.api.get(demo.path)
    assert r.status_code == 200, r.text
    text = _text(r.text)
    assert "Weekly operations review" in text
    assert "Weekly on Tuesday, 10 occurrence(s) from Tue 20 Oct 2026" in text
    assert "Rotate: the off-hours burden is shared" in text
    assert "Week of Mon 19 Oct 2026" in text
    first = _occurrences(demo)[0]
    assert first["date"] == FIRST_DATE
    for slot in first["participants"]:
        name = next(n for n, p in demo.people.items() if p["id"] == slot["participant_id"])
        local = datetime.fromisoformat(slot["local_start"])
        # Every participant has a ribbon, labelled with the meeting in their own time.
        pid = slot["participant_id"]
        assert re.search(
            rf'<svg class="ribbon"[^>]* role="img"[^>]* data-participant="{pid}"', r.text
        )
        assert name in text
        assert f"{local:%a %H:%M}–" in text, (name, local)
    assert "Olga Outsider" not in text
    assert r.text.count('<svg class="ribbon"') == len(demo.people)
    assert r.text.count('<rect class="slot"') == len(demo.people) + 1  # + the UTC axis


def test_notices_clock_changes_time_off_and_planner_notes(demo: DemoSeries) -> None:
    text = _text(demo.api.get(demo.path, params={"week": "2026-10-27"}).text)
    assert "Week of Mon 26 Oct 2026" in text
    assert "Priya Shah is away this week: Tue 27 Oct (time off); Wed 28 Oct (time off)" in text
    assert "Clocks in New York go back 1 hour on Sun 1 Nov 2026 (EDT→EST)" in text
    notes = [n for o in _occurrences(demo) for n in o["notices"]]
    assert notes, "the planner explains DST moves"
    for note in notes:
        assert note in text


def test_a_skipped_date_is_explained(demo: DemoSeries) -> None:
    dates = [o["date"] for o in _occurrences(demo)]
    assert "2026-11-03" not in dates  # Election Day is a public holiday in New York
    text = _text(demo.api.get(demo.path, params={"week": "2026-11-03"}).text)
    assert "No meeting this week." in text
    assert "No meeting on Tue 3 Nov 2026, a date of the rule." in text
    assert "Election Day" in text


def test_rotation_table_names_the_hard_turn(demo: DemoSeries) -> None:
    page = demo.api.get(demo.path).text
    start = page.index('<table class="rotation">')
    table = page[start : page.index("</table>", start)]
    rows = re.findall(r"<tr class=.*?</tr>", table, flags=re.S)
    occurrences = _occurrences(demo)
    assert len(rows) == min(len(occurrences), 12)
    names = {p["id"]: n for n, p in demo.people.items()}
    required = {m["participant_id"] for m in demo.series["participants"] if m["required"]}
    for row, occ in zip(rows, occurrences, strict=False):
        burdens = {
            p["participant_id"]: p["burden_minutes"]
            for p in occ["participants"]
            if p["participant_id"] in required
        }
        worst = max(burdens.values())
        cell = _text(row)
        if worst > 0:
            hardest = sorted(names[pid] for pid, b in burdens.items() if b == worst)
            if len(hardest) > 2:  # two by name, then how many others
                rest = len(hardest) - 2
                hardest = [*hardest[:2], f"{rest} other{'s' if rest > 1 else ''}"]
            assert f"{join_names(hardest)} ({hours(worst)})" in cell
        else:
            assert "inside everyone's working hours" in cell


def test_burden_charts_and_their_tables_match_the_ledger(demo: DemoSeries) -> None:
    page = demo.api.get(demo.path).text
    assert 'aria-labelledby="c-people-t c-people-d"' in page
    assert 'aria-labelledby="c-parties-t c-parties-d"' in page
    text = _text(page)
    balance = demo.api.get(f"/v1/series/{demo.series['id']}/balance").json()
    for line in balance["participants"]:  # the legend carries the totals
        assert f"{line['name']}: {hours(line['total_minutes'])}" in text


@pytest.mark.parametrize(
    ("week", "needle"),
    [
        ("2026-13-01", "YYYY-MM-DD"),
        ("yesterday", "YYYY-MM-DD"),
        ("2026-1-5", "YYYY-MM-DD"),
        ("", "YYYY-MM-DD"),
        ("2026-W44", "YYYY-MM-DD"),
        ("1999-12-31", "between"),
        ("2099-01-01", "between"),
    ],
)
def test_bad_weeks_say_what_to_send(demo: DemoSeries, week: str, needle: str) -> None:
    r = demo.api.get(demo.path, params={"week": week})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert needle in _text(r.text)
    assert "week must" in _text(r.text)


def test_any_day_picks_its_week_and_links_move_by_weeks(demo: DemoSeries) -> None:
    page = demo.api.get(demo.path, params={"week": "2026-10-29"}).text
    assert "Week of Mon 26 Oct 2026" in _text(page)
    assert '<a href="?week=2026-10-19" rel="prev">' in page
    assert '<a href="?week=2026-11-02" rel="next">' in page


def test_unscheduled_series_shows_a_preview_and_stores_nothing(api: Client, engine: Engine) -> None:
    demo = make_demo_series(api, schedule=False)
    with counting_rows(engine):
        r = api.get(demo.path)
    assert r.status_code == 200, r.text
    text = _text(r.text)
    assert "Not scheduled yet." in text
    planned = api.post(f"/v1/series/{demo.series['id']}/plan").json()["occurrences"]
    assert "Week of Mon 19 Oct 2026" in text and planned[0]["date"] == FIRST_DATE
    assert r.text.count('<rect class="slot"') == len(demo.people) + 1


def test_cancelled_meeting_is_marked(demo: DemoSeries) -> None:
    first = _occurrences(demo)[0]
    r = demo.api.patch(f"/v1/occurrences/{first['id']}", json={"status": "cancelled"})
    assert r.status_code == 200, r.text
    page = demo.api.get(demo.path, params={"week": FIRST_DATE}).text
    text = _text(page)
    assert "The meeting of Tue 20 Oct 2026 is cancelled." in text
    assert '<tr class="current cancelled">' in page
    assert '<rect class="slot cancelled"' in page


def test_the_title_is_escaped(api: Client) -> None:
    demo = make_demo_series(api, title="Ops <script>alert(1)</script> review")
    page = api.get(demo.path).text
    assert "<script>alert(1)" not in page
    assert "Ops &lt;script&gt;alert(1)&lt;/script&gt; review" in page


def test_invitation_answers_show_on_the_page(demo: DemoSeries) -> None:
    first = _occurrences(demo)[0]
    maria = demo.people["Maria Santos"]["id"]
    record_answer(demo.api, demo.series["id"], maria, "decline", date.fromisoformat(first["date"]))
    text = _text(demo.api.get(demo.path, params={"week": FIRST_DATE}).text)
    assert "Answers: Maria Santos declined." in text

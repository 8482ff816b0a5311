"""The share page's layout from synthetic data: no database, no HTTP."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import pytest

from app.scheduling.model import Person, parse_working_hours
from app.scheduling.wording import NOBODY_PAYS, clock_changes
from app.share.html import content_security_policy, render_message, render_page
from app.share.page import Balance, LocalSlot, Meeting, Member, SeriesInfo, SharePage
from app.share.render import (
    POLICIES,
    ROTATE_EVEN,
    ROTATE_FREE,
    build_view,
    cumulative_chart,
    hard_turn,
    hour_ticks,
    policy_text,
    ribbon_row,
    working_hours_text,
)
from app.share.rules import describe_rule

NIGHTS = [{"days": ["sun", "mon", "tue", "wed", "thu"], "start": "21:00", "end": "06:00"}]
DAYS = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]


def _member(
    pid: str, name: str, tz: str, hours: object, party: str, holiday_country: str | None
) -> Member:
    person = Person(pid, tz, parse_working_hours(hours), holiday_country=holiday_country)
    return Member(pid, name, party, f"Party {party}", "client", "required", person)


DANA = _member("d", "Dana", "America/New_York", DAYS, "ny", holiday_country="US")
JUN = _member("j", "Jun", "Asia/Manila", NIGHTS, "mnl", holiday_country="PH")


def _meeting(start: datetime, burdens: dict[str, int], notices: tuple[str, ...] = ()) -> Meeting:
    end = start + timedelta(hours=1)
    people = {"d": DANA, "j": JUN}
    slots = {
        pid: LocalSlot(
            start.astimezone(people[pid].person.zone),
            end.astimezone(people[pid].person.zone),
            people[pid].person.timezone,
            minutes,
        )
        for pid, minutes in burdens.items()
    }
    day = start.astimezone(DANA.person.zone).date()
    return Meeting(day, start, end, False, slots, notices)


def _page(title: str = "Ops review", week: date = date(2026, 11, 23)) -> SharePage:
    meetings = [
        _meeting(datetime(2026, 11, 17, 14, tzinfo=UTC), {"d": 0, "j": 0}),
        _meeting(datetime(2026, 11, 24, 12, tzinfo=UTC), {"d": 120, "j": 0}, ("Moved.",)),
        _meeting(datetime(2026, 12, 1, 23, tzinfo=UTC), {"d": 180, "j": 60}),
    ]
    return SharePage(
        series=SeriesInfo(
            title=title,
            description=None,
            recurrence="FREQ=WEEKLY;BYDAY=TU",
            start_date=date(2026, 11, 17),
            count=4,
            until=None,
            anchor_timezone="America/New_York",
            policy="rotate",
            duration_minutes=60,
            location="https://meet.example.com/x",
        ),
        members=[DANA, JUN],
        meetings=meetings,
        rule_dates=[date(2026, 11, 17), date(2026, 11, 24), date(2026, 12, 1), date(2026, 12, 8)],
        week=week,
        first_week=date(2025, 11, 17),
        last_week=date(2027, 12, 6),
        now=datetime(2026, 11, 20, tzinfo=UTC),
        people_balance=[Balance("Dana", 0, 300), Balance("Jun", 0, 60)],
        party_balance=[Balance("Party ny", 0, 300), Balance("Party mnl", 0, 60)],
    )


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("FREQ=WEEKLY;BYDAY=TU", "Weekly on Tuesday"),
        ("freq=weekly;byday=mo,th;interval=2", "Every 2 weeks on Monday and Thursday"),
        ("FREQ=MONTHLY;BYDAY=1WE", "Monthly on the first Wednesday"),
        ("FREQ=MONTHLY;INTERVAL=3;BYDAY=2TH", "Every 3 months on the second Thursday"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "Monthly on the last Friday"),
        ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "Monthly on the last weekday"),
        ("FREQ=MONTHLY;BYMONTHDAY=15", "Monthly on the 15th day"),
        ("FREQ=YEARLY;BYMONTH=1;BYDAY=2MO", "Yearly in January on the second Monday"),
        ("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "Every weekday"),
        ("FREQ=WEEKLY", "Weekly on Tuesday"),  # DTSTART's weekday
        ("FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO", "Yearly (FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO)"),
    ],
)
def test_rules_in_words(rule: str, text: str) -> None:
    assert describe_rule(rule, date(2026, 11, 24)) == text


def test_working_hours_in_words_wrap_the_week() -> None:
    assert working_hours_text(JUN.person.working_hours) == "Sun–Thu 21:00–06:00 (overnight)"
    assert working_hours_text(DANA.person.working_hours) == "Mon–Fri 09:00–17:00"
    assert working_hours_text(()) == "no working hours"


def test_night_shift_is_one_band_across_local_midnight() -> None:
    # 24 h from Tue 12:00Z: Manila (UTC+8) is Tue 20:00 to Wed 20:00; the Tuesday night
    # shift 21:00-06:00 is 13:00Z-22:00Z, one band from 1/24 to 10/24 of the ribbon.
    start = datetime(2026, 11, 24, 12, tzinfo=UTC)
    row = ribbon_row(JUN, start, None)
    assert [(b.x, b.width) for b in row.work] == [(4.167, 37.5)]
    midnight = [t for t in row.ticks if t.kind == "day"]
    assert [(t.x, t.label) for t in midnight] == [(16.667, "Wed 25")]
    assert "21:00–Wed 06:00" in row.works


def test_holiday_is_marked_and_drops_the_window() -> None:
    # Thanksgiving 2026 is Thu 26 Nov: New York's local day is 05:00Z to 05:00Z next day.
    start = datetime(2026, 11, 26, 5, tzinfo=UTC)
    row = ribbon_row(DANA, start, None)
    assert row.work == []
    assert [(b.x, b.width) for b in row.away] == [(0.0, 100.0)]
    assert "Thanksgiving" in row.away[0].label
    assert row.away_notes == ["Thu 26 Nov: public holiday in US: Thanksgiving Day"]


def test_meeting_slot_and_local_time_on_each_ribbon() -> None:
    meeting = _meeting(datetime(2026, 11, 24, 12, tzinfo=UTC), {"d": 120, "j": 0})
    start = datetime(2026, 11, 24, 0, tzinfo=UTC)
    dana, jun = ribbon_row(DANA, start, meeting), ribbon_row(JUN, start, meeting)
    assert dana.slot is not None and jun.slot is not None
    assert (dana.slot.x, dana.slot.width) == (jun.slot.x, jun.slot.width) == (50.0, 4.167)
    assert dana.meeting_local == "Tue 07:00–08:00 EST"
    assert jun.meeting_local == "Tue 20:00–21:00 UTC+8"  # not "PST": Manila is not Pacific
    assert dana.burden == "outside working hours, burden 2 h"
    assert jun.burden == "inside working hours"


def test_ticks_follow_local_hours_in_a_quarter_hour_zone() -> None:
    ticks = hour_ticks("Asia/Kathmandu", datetime(2026, 6, 1, tzinfo=UTC))
    assert len(ticks) == 24
    assert ticks[0].x == pytest.approx(15 / 1440 * 100, abs=0.001)  # 00:15Z is 06:00 local
    assert ticks[0].label == "06:00"


def test_clock_changes_are_found_to_the_minute() -> None:
    changes = clock_changes(
        ["America/New_York", "Asia/Manila", "Europe/London"],
        datetime(2026, 10, 20, tzinfo=UTC),
        datetime(2026, 11, 30, tzinfo=UTC),
    )
    assert [(c.timezone, c.moment) for c in changes] == [
        ("Europe/London", datetime(2026, 10, 25, 1, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 11, 1, 6, tzinfo=UTC)),
    ]
    assert changes[1].text.startswith(
        "Clocks in New York go back 1 hour on Sun 1 Nov 2026 (EDT→EST)"
    )


def test_hard_turn_is_the_largest_required_burden() -> None:
    t = datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert hard_turn(_meeting(t, {"d": 120, "j": 60}), [DANA, JUN]) == "Dana (2 h)"
    assert hard_turn(_meeting(t, {"d": 90, "j": 90}), [DANA, JUN]) == "Dana and Jun (1.5 h)"
    assert hard_turn(_meeting(t, {"d": 0, "j": 0}), [DANA, JUN]) == NOBODY_PAYS
    optional_jun = Member("j", "Jun", "mnl", "Party mnl", "vendor", "optional", JUN.person)
    quorum_jun = Member("j", "Jun", "mnl", "Party mnl", "vendor", "quorum", JUN.person)
    assert hard_turn(_meeting(t, {"d": 30, "j": 120}), [DANA, optional_jun]) == "Dana (0.5 h)"
    # A quorum member who attends counts like a required one.
    assert hard_turn(_meeting(t, {"d": 30, "j": 120}), [DANA, quorum_jun]) == "Jun (2 h)"


def test_the_policy_is_worded_as_the_plan_carries_it_out() -> None:
    t = datetime(2026, 11, 24, 12, tzinfo=UTC)
    later = datetime(2026, 12, 1, 12, tzinfo=UTC)
    even = [_meeting(t, {"d": 90, "j": 90}), _meeting(later, {"d": 30, "j": 30})]
    turns = [_meeting(t, {"d": 120, "j": 0}), _meeting(later, {"d": 0, "j": 120})]
    free = [_meeting(t, {"d": 0, "j": 0})]
    assert policy_text("rotate", even, [DANA, JUN]) == ROTATE_EVEN
    assert "no turns to take" in ROTATE_EVEN
    assert policy_text("rotate", turns, [DANA, JUN]) == POLICIES["rotate"]
    assert policy_text("rotate", free, [DANA, JUN]) == ROTATE_FREE
    assert policy_text("fixed", turns, [DANA, JUN]) == POLICIES["fixed"]
    # An optional member's burden is not a share of the split.
    optional_jun = Member("j", "Jun", "mnl", "Party mnl", "vendor", "optional", JUN.person)
    lopsided = [_meeting(t, {"d": 60, "j": 0})]
    assert policy_text("rotate", lopsided, [DANA, optional_jun]) == ROTATE_EVEN
    assert policy_text("rotate", lopsided, [DANA, JUN]) == POLICIES["rotate"]


def test_hard_turn_names_two_and_counts_the_others() -> None:
    t = datetime(2026, 11, 24, 12, tzinfo=UTC)
    people = [
        Member(pid, name, "p", "Party p", "client", "required", DANA.person)
        for pid, name in (("a", "Al"), ("b", "Bo"), ("c", "Cy"), ("d", "Dee"))
    ]
    slots = {m.id: LocalSlot(t, t + timedelta(hours=1), "America/New_York", 60) for m in people}
    meeting = Meeting(t.date(), t, t + timedelta(hours=1), False, slots)
    assert hard_turn(meeting, people) == "Al, Bo and 2 others (1 h)"
    assert hard_turn(meeting, people[:3]) == "Al, Bo and 1 other (1 h)"


def test_cumulative_chart_sums_per_series() -> None:
    page = _page()
    chart = cumulative_chart(
        "x", "t", page.meetings, [("Dana", ["d"]), ("Both", ["d", "j"])], page.week
    )
    assert chart.rows == [
        ["Tue 17 Nov 2026", "0 h", "0 h"],
        ["Tue 24 Nov 2026", "2 h", "2 h"],
        ["Tue 1 Dec 2026", "5 h", "6 h"],
    ]
    assert [line.total for line in chart.lines] == ["5 h", "6 h"]
    assert chart.marker is not None and chart.marker.x == 50.0
    assert "Totals at the end: Dana 5 h, Both 6 h" in chart.desc


def test_view_of_a_week_with_its_meeting_and_navigation() -> None:
    view = build_view(_page())
    assert [m.date for m in view.week_meetings] == [date(2026, 11, 24)]
    assert view.prev_week is not None and view.prev_week.href == "?week=2026-11-16"
    assert view.next_week is not None and view.next_week.rel == "next"
    assert "Tue 24 Nov: Moved." in view.notices
    assert any("Thanksgiving" in n for n in view.notices)  # Dana's holiday this week
    assert [r.meeting.date for r in view.rotation] == [date(2026, 11, 24), date(2026, 12, 1)]


def test_week_without_meeting_explains_the_skipped_date() -> None:
    view = build_view(_page(week=date(2026, 12, 7)))
    assert view.week_meetings == []
    assert view.days[0].heading == "Tue 8 Dec 2026"
    assert any(n.startswith("No meeting on Tue 8 Dec 2026") for n in view.notices)
    assert view.jumps == []  # the previous week link already reaches the last meeting
    later = build_view(_page(week=date(2027, 1, 4)))
    assert [(j.label, j.href) for j in later.jumps] == [
        ("Previous meeting (Tue 1 Dec 2026)", "?week=2026-11-30")
    ]


class _Svgs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.svgs: list[dict[str, str | None]] = []
        self.ids: set[str] = set()
        self.scripts: list[str] = []
        self._in_script = False
        self._svg_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "svg":
            if self._svg_depth == 0:  # nested drawings are part of their labelled parent
                self.svgs.append(values)
            self._svg_depth += 1
        self._in_script = tag == "script"

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False
        if tag == "svg":
            self._svg_depth -= 1


def test_html_is_escaped_and_every_drawing_is_labelled() -> None:
    html = render_page(_page(title='<script>alert("x")</script> & co'))
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in html
    parsed = _Svgs()
    parsed.feed(html)
    drawings = [s for s in parsed.svgs if s.get("aria-hidden") != "true"]
    assert len(drawings) >= 2 + 1 + 2  # two ribbons, the UTC axis, two charts
    for svg in drawings:
        assert svg.get("role") == "img", svg
        labels = str(svg.get("aria-labelledby")).split()
        assert len(labels) == 2 and all(i in parsed.ids for i in labels), svg
    assert '<meta name="viewport"' in html and "@media print" in html


def test_the_one_inline_script_is_allowed_by_its_hash() -> None:
    parsed = _Svgs()
    parsed.feed(render_page(_page()))
    assert len(parsed.scripts) == 1
    digest = base64.b64encode(hashlib.sha256(parsed.scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in content_security_policy()
    assert re.search(r"default-src 'none'", content_security_policy())


def test_message_page_escapes() -> None:
    html = render_message("Oops <b>", "week <i>")
    assert "Oops &lt;b&gt;" in html and "week &lt;i&gt;" in html


def test_empty_and_single_occurrence_series_render() -> None:
    empty = _page()
    empty = SharePage(**{**empty.__dict__, "meetings": [], "rule_dates": []})
    html = render_page(empty)
    assert "No occurrences from this week on." in html
    assert "No occurrences yet." in html  # the charts' text alternative
    one = _page()
    one = SharePage(**{**one.__dict__, "meetings": one.meetings[1:2]})
    view = build_view(one)
    assert view.charts[0].lines[0].points == "500.0,6.0"  # one point, centred, at the top
    assert [g[1] for g in view.charts[0].grid] == ["0 h", "0.5 h", "1 h", "1.5 h", "2 h"]


def test_until_series_says_until() -> None:
    page = _page()
    series = SeriesInfo(**{**page.series.__dict__, "count": None, "until": date(2027, 3, 2)})
    view = build_view(SharePage(**{**page.__dict__, "series": series}))
    assert view.span_text == "from Tue 17 Nov 2026 until Tue 2 Mar 2027"

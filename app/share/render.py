"""The share page's layout: a :class:`~app.share.page.SharePage` in, a :class:`PageView` out
(ribbons, rotation, charts, notices: everything the template needs, computed here).

Working windows and away dates come from the core (:mod:`app.scheduling.windows`), so a night
shift that wraps midnight is drawn exactly as the planner sees it. Coordinates along the time
axis are *percentages* of the drawing's width and the SVGs have no ``viewBox``: the drawings
stretch to any screen while their text keeps its size (a 24-hour ribbon stays readable on a
phone).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from app.scheduling import wording
from app.scheduling.model import WEEKDAYS, WeeklyWindow, format_hhmm, zone
from app.scheduling.windows import unavailable_dates, working_windows
from app.scheduling.wording import (
    NOBODY_PAYS,
    city,
    clock_changes,
    day_label,
    hours,
    local_range,
)
from app.share.page import (
    Balance,
    LocalSlot,
    Meeting,
    Member,
    SeriesInfo,
    SharePage,
    week_of,
)
from app.share.rules import describe_rule

WEEK = timedelta(days=7)
RIBBON_SPAN = timedelta(hours=24)
ROTATION_ROWS = 12
MAX_MARKERS = 60  # more occurrences than this and the chart draws lines only
PLOT_HEIGHT = 180  # chart plot area, CSS pixels
PLOT_TOP = 24  # room above the plot for the week marker's label
PLOT_WIDTH = 1000  # chart plot area, viewBox units (stretched to the page width)
PALETTE_SIZE = 8  # .s0 … .s7 in the stylesheet: colours and dash patterns

POLICIES = {
    "rotate": "Rotate: the off-hours burden is shared; the hard turns go round the participants.",
    "fixed": "Fixed: the same time of day on every date.",
}
ROTATE_EVEN = (
    "Rotate: the off-hours burden is shared; at every meeting it is split equally, which is "
    "the fairest plan here, so there are no turns to take."
)
ROTATE_FREE = "Rotate: every meeting is inside everyone's working hours."


def policy_text(policy: str, meetings: Sequence[Meeting], members: Sequence[Member]) -> str:
    """The policy as this plan carries it out: a rotation whose every meeting splits the
    burden equally among the counted members does not promise turns."""
    if policy != "rotate":
        return POLICIES.get(policy, policy)
    counted = [m.id for m in members if m.counted]
    held = [m for m in meetings if not m.cancelled]
    shares = [{m.slots[i].burden_minutes for i in counted if i in m.slots} for m in held]
    if all(share <= {0} for share in shares):
        return ROTATE_FREE
    if all(len(share) == 1 for share in shares):
        return ROTATE_EVEN
    return POLICIES["rotate"]


# --- words ------------------------------------------------------------------------------


def _day_ranges(days: frozenset[int]) -> str:
    ordered = sorted(days)
    runs: list[list[int]] = []
    for d in ordered:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][-1] == 6:
        runs[0] = runs.pop() + runs[0]  # Sunday to Thursday reads as one run
    names = [WEEKDAYS[d].capitalize() for d in range(7)]
    return ", ".join(names[r[0]] if len(r) == 1 else f"{names[r[0]]}–{names[r[-1]]}" for r in runs)


def working_hours_text(windows: Sequence[WeeklyWindow]) -> str:
    """``'Sun–Thu 21:00–06:00 (overnight)'``; ``'never'`` for no windows."""
    if not windows:
        return "no working hours"
    parts = []
    for w in windows:
        end = "24:00" if w.end_minute == 1440 else format_hhmm(w.end_minute)
        night = " (overnight)" if w.overnight else ""
        parts.append(f"{_day_ranges(w.days)} {format_hhmm(w.start_minute)}–{end}{night}")
    return "; ".join(parts)


# --- the ribbons ------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """An interval drawn on a ribbon, in percent of the ribbon's width."""

    x: float
    width: float
    label: str = ""


@dataclass(frozen=True)
class Tick:
    x: float
    label: str
    kind: str  # "minor" (unlabelled), "t3"/"t6" (every 3/6 h), "day" (midnight), "marker"
    anchor: str = "middle"


@dataclass
class RibbonRow:
    member: Member
    place: str
    meeting_local: str
    burden: str
    burden_class: str
    work: list[Band]
    away: list[Band]
    away_notes: list[str]
    ticks: list[Tick]
    slot: Band | None
    working_local: str
    works: str
    desc: str


@dataclass
class RibbonDay:
    """Every participant's 24 hours around one meeting (or one day), on one UTC axis."""

    key: str
    heading: str
    start: datetime
    meeting: Meeting | None
    slot: Band | None
    slot_utc: str
    utc_ticks: list[Tick]
    rows: list[RibbonRow]


def _pct(moment: datetime, start: datetime, span: timedelta = RIBBON_SPAN) -> float:
    return round((moment - start) / span * 100, 3)


def _band(a: datetime, b: datetime, start: datetime, label: str = "") -> Band | None:
    end = start + RIBBON_SPAN
    a, b = max(a, start), min(b, end)
    if b <= a:
        return None
    x = _pct(a, start)
    return Band(x, round(_pct(b, start) - x, 3), label)


def _anchor(x: float) -> str:
    """Labels near an edge grow inwards so a narrow screen does not cut them."""
    return "start" if x < 8 else "end" if x > 92 else "middle"


def hour_ticks(timezone: str, start: datetime, span: timedelta = RIBBON_SPAN) -> list[Tick]:
    """A tick at every local whole hour in ``[start, start + span)``; local midnight is
    labelled with the date. Zones with :30/:45 offsets get ticks off the UTC hour."""
    tz = zone(timezone)
    ticks: list[Tick] = []
    moment = start.astimezone(UTC).replace(second=0, microsecond=0)
    if moment < start:
        moment += timedelta(minutes=1)
    end = start + span
    while moment < end:
        local = moment.astimezone(tz)
        if local.minute:
            moment += timedelta(minutes=60 - local.minute)
            continue
        x = _pct(moment, start, span)
        if local.hour == 0:
            ticks.append(Tick(x, f"{local:%a} {local.day}", "day", _anchor(x)))
        elif local.hour % 6 == 0:
            ticks.append(Tick(x, f"{local:%H}:00", "t6", _anchor(x)))
        elif local.hour % 3 == 0:
            ticks.append(Tick(x, f"{local:%H}:00", "t3", _anchor(x)))
        else:
            ticks.append(Tick(x, "", "minor"))
        moment += timedelta(hours=1)
    return ticks


def _axis_start(meeting: Meeting | None, day: date, anchor_timezone: str) -> datetime:
    if meeting is None:
        midnight = datetime.combine(day, time(0), tzinfo=zone(anchor_timezone))
        return midnight.astimezone(UTC)
    middle = meeting.start + (meeting.end - meeting.start) / 2
    return (middle - RIBBON_SPAN / 2).astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _local_day_span(day: date, timezone: str) -> tuple[datetime, datetime]:
    tz = zone(timezone)
    a = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    b = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return a, b


def _burden_words(member: Member, slot: LocalSlot | None, absent: str | None) -> tuple[str, str]:
    if absent is not None:
        return f"absent ({absent})", "blocked"
    if slot is None:
        # Stored burden leaves out optional people who cannot attend (the plan's conflicts).
        if not member.required:
            return "cannot attend", "blocked"
        return "not in this occurrence's plan", "unknown"
    if slot.burden_minutes < 0:
        return "cannot attend", "blocked"
    if slot.burden_minutes == 0:
        return "inside working hours", "inside"
    return f"outside working hours, burden {hours(slot.burden_minutes)}", "outside"


def ribbon_row(member: Member, start: datetime, meeting: Meeting | None) -> RibbonRow:
    person = member.person
    tz = person.zone
    end = start + RIBBON_SPAN
    work_bands: list[Band] = []
    work_words: list[str] = []
    for a, b in working_windows(person, start, end):
        band = _band(a, b, start)
        if band is not None:
            work_bands.append(band)
            work_words.append(local_range(a.astimezone(tz), b.astimezone(tz)))
    first_local = start.astimezone(tz).date()
    last_local = (end - timedelta(minutes=1)).astimezone(tz).date()
    away_bands: list[Band] = []
    away_notes: list[str] = []
    for day, reason in unavailable_dates(person, first_local, last_local).items():
        a, b = _local_day_span(day, person.timezone)
        band = _band(a, b, start, reason)
        if band is not None:
            away_bands.append(band)
            away_notes.append(f"{day_label(day, year=False)}: {reason}")
    slot_band: Band | None = None
    meeting_local = ""
    burden, burden_class = "no meeting", "none"
    if meeting is not None:
        slot = meeting.slots.get(member.id)
        local_start = meeting.start.astimezone(tz)
        local_end = meeting.end.astimezone(tz)
        meeting_local = local_range(local_start, local_end)
        slot_band = _band(meeting.start, meeting.end, start, meeting_local)
        burden, burden_class = _burden_words(member, slot, meeting.absent.get(member.id))
        if meeting.cancelled:
            burden, burden_class = "cancelled", "none"
    place = wording.place(person.timezone, start)
    works = "; ".join(work_words) if work_words else "not working in these 24 hours"
    desc = f"{member.name} ({place}). Working: {works}."
    if meeting is not None:
        desc += f" Meeting: {meeting_local}, {burden}."
    if away_notes:
        desc += " Away: " + "; ".join(away_notes) + "."
    return RibbonRow(
        member=member,
        place=place,
        meeting_local=meeting_local,
        burden=burden,
        burden_class=burden_class,
        work=work_bands,
        away=away_bands,
        away_notes=away_notes,
        ticks=hour_ticks(person.timezone, start),
        slot=slot_band,
        working_local=working_hours_text(person.working_hours),
        works=works,
        desc=desc,
    )


def ribbon_day(page: SharePage, day: date, meeting: Meeting | None) -> RibbonDay:
    start = _axis_start(meeting, day, page.series.anchor_timezone)
    slot = _band(meeting.start, meeting.end, start) if meeting is not None else None
    slot_utc = f"{meeting.start:%H:%M}–{meeting.end:%H:%M} UTC" if meeting is not None else ""
    heading = day_label(day)
    if meeting is not None and meeting.cancelled:
        heading += " (cancelled)"
    return RibbonDay(
        key=f"{day.isoformat()}-{start:%H%M}",
        heading=heading,
        start=start,
        meeting=meeting,
        slot=slot,
        slot_utc=slot_utc,
        utc_ticks=hour_ticks("UTC", start),
        rows=[ribbon_row(m, start, meeting) for m in page.members],
    )


# --- the rotation table -----------------------------------------------------------------


@dataclass
class RotationRow:
    meeting: Meeting
    week: date
    current: bool
    utc: str
    sides: list[str]
    hard_turn: str
    notices: list[str]


def hard_turn(meeting: Meeting, members: Sequence[Member]) -> str:
    """The counted participant(s) with the largest burden, or :data:`NOBODY_PAYS`."""
    burdens = [
        (m.name, meeting.slots[m.id].burden_minutes)
        for m in members
        if m.counted and m.id in meeting.slots
    ]
    return wording.hard_turn(burdens) or NOBODY_PAYS


def party_columns(members: Sequence[Member]) -> list[tuple[str, str, list[Member]]]:
    """(party id, heading, members) in the order parties first appear."""
    columns: dict[str, tuple[str, str, list[Member]]] = {}
    for m in members:
        if m.party_id not in columns:
            columns[m.party_id] = (m.party_id, m.party_name, [])
        columns[m.party_id][2].append(m)
    return list(columns.values())


def _side_times(meeting: Meeting, side: list[Member]) -> str:
    seen: dict[str, list[str]] = {}
    for m in side:
        tz = m.person.zone
        text = local_range(meeting.start.astimezone(tz), meeting.end.astimezone(tz))
        seen.setdefault(text, []).append(m.person.timezone)
    if len(seen) == 1:
        return next(iter(seen))
    return "; ".join(f"{text} ({city(zones[0])})" for text, zones in seen.items())


def rotation(page: SharePage) -> list[RotationRow]:
    """Up to :data:`ROTATION_ROWS` occurrences from the chosen week on."""
    columns = party_columns(page.members)
    rows = []
    for m in page.meetings:
        if m.date < page.week:
            continue
        week = week_of(m.date)
        rows.append(
            RotationRow(
                meeting=m,
                week=week,
                current=week == page.week,
                utc=f"{m.start:%H:%M}–{m.end:%H:%M}",
                sides=[_side_times(m, side) for _, _, side in columns],
                hard_turn="" if m.cancelled else hard_turn(m, page.members),
                notices=list(m.notices),
            )
        )
        if len(rows) == ROTATION_ROWS:
            break
    return rows


# --- the burden charts ------------------------------------------------------------------


@dataclass
class ChartLine:
    """``weight``: lines drawn first are wider, so equal lines show as nested stripes."""

    label: str
    style: int
    weight: int
    points: str
    markers: list[tuple[float, float]]
    total: str


@dataclass
class Chart:
    key: str
    title: str
    desc: str
    lines: list[ChartLine]
    grid: list[tuple[float, str]]
    x_labels: list[Tick]
    marker: Tick | None
    columns: list[str]
    rows: list[list[str]]
    height: int = PLOT_TOP + PLOT_HEIGHT + 26


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _plot_y(value: float, top: float) -> float:
    return round(PLOT_HEIGHT - 2 - value / top * (PLOT_HEIGHT - 8), 2)


def cumulative_chart(
    key: str,
    title: str,
    meetings: Sequence[Meeting],
    series: Sequence[tuple[str, list[str]]],
    week: date,
) -> Chart:
    """Cumulative burden (hours) over ``meetings``; each series sums the given members."""
    held = [m for m in meetings if not m.cancelled]
    n = len(held)
    totals: list[list[int]] = []
    for _, ids in series:
        running, line = 0, []
        for m in held:
            running += sum(max(m.slots[i].burden_minutes, 0) for i in ids if i in m.slots)
            line.append(running)
        totals.append(line)
    top = _nice_ceiling(max((line[-1] for line in totals if line), default=0) / 60)

    def x_of(i: int) -> float:
        return PLOT_WIDTH / 2 if n < 2 else round(i / (n - 1) * PLOT_WIDTH, 2)

    lines = []
    for k, ((label, _), line) in enumerate(zip(series, totals, strict=True)):
        points = [(x_of(i), _plot_y(v / 60, top)) for i, v in enumerate(line)]
        lines.append(
            ChartLine(
                label=label,
                style=k % PALETTE_SIZE,
                weight=min(len(series) - 1 - k, 3),
                points=" ".join(f"{x},{y}" for x, y in points),
                markers=points if n <= MAX_MARKERS else [],
                total=hours(line[-1]) if line else "0 h",
            )
        )
    grid = [(_plot_y(top * f, top), f"{top * f:g} h") for f in (0, 0.25, 0.5, 0.75, 1)]
    x_labels: list[Tick] = []
    marker: Tick | None = None
    if held:
        first, last = held[0].date, held[-1].date
        x_labels.append(Tick(0, day_label(first), "day", "start"))
        if n > 1:
            x_labels.append(Tick(100, day_label(last), "day", "end"))
        before = sum(1 for m in held if m.date < week)
        if 0 < before < n or held[0].date >= week:
            x = round(x_of(before) / PLOT_WIDTH * 100, 3)
            marker = Tick(x, f"Week of {day_label(week, year=False)}", "marker", _anchor(x))
    columns = ["Occurrence", *(label for label, _ in series)]
    rows = [[day_label(m.date), *(hours(line[i]) for line in totals)] for i, m in enumerate(held)]
    ends = ", ".join(f"{line.label} {line.total}" for line in lines)
    span = f"from {day_label(held[0].date)} to {day_label(held[-1].date)}" if held else ""
    desc = (
        f"Cumulative off-hours burden in hours over {n} occurrence(s) {span}. "
        f"Totals at the end: {ends}."
        if held
        else "No occurrences yet."
    )
    return Chart(key, title, desc, lines, grid, x_labels, marker, columns, rows)


# --- the page ---------------------------------------------------------------------------


@dataclass
class NavLink:
    href: str
    label: str
    rel: str = ""


@dataclass
class PageView:
    page: SharePage
    rule_text: str
    span_text: str
    policy_text: str
    anchor_place: str
    parties: list[tuple[str, str, list[Member]]]
    week_label: str
    prev_week: NavLink | None
    next_week: NavLink | None
    jumps: list[NavLink]
    week_meetings: list[Meeting]
    days: list[RibbonDay]
    notices: list[str]
    rotation: list[RotationRow]
    rotation_total: int
    charts: list[Chart]
    balances: list[tuple[str, Sequence[Balance]]]


def _span_text(series: SeriesInfo, rule_dates: Sequence[date]) -> str:
    first = day_label(rule_dates[0]) if rule_dates else day_label(series.start_date)
    if series.count is not None:
        return f"{series.count} occurrence(s) from {first}"
    until = day_label(series.until) if series.until else "?"
    return f"from {first} until {until}"


def _week_link(week: date, label: str, rel: str = "") -> NavLink:
    return NavLink(f"?week={week.isoformat()}", label, rel)


def _week_notices(page: SharePage, meetings: list[Meeting]) -> list[str]:
    notices: list[str] = []
    monday, sunday = page.week, page.week + timedelta(days=6)
    meeting_dates = {m.date for m in meetings}
    for day in page.rule_dates:
        if monday <= day <= sunday and day not in meeting_dates:
            away = [
                f"{m.name} ({reason})"
                for m in page.members
                if m.required
                and (reason := unavailable_dates(m.person, day, day).get(day)) is not None
            ]
            why = f" Away that day: {'; '.join(away)}." if away else ""
            notices.append(f"No meeting on {day_label(day)}, a date of the rule.{why}")
    for m in meetings:
        notices.extend(f"{day_label(m.date, year=False)}: {n}" for n in m.notices)
        if m.cancelled:
            notices.append(f"The meeting of {day_label(m.date)} is cancelled.")
    for member in page.members:
        dates = unavailable_dates(member.person, monday, sunday)
        if dates:
            items = "; ".join(f"{day_label(d, year=False)} ({r})" for d, r in dates.items())
            notices.append(f"{member.name} is away this week: {items}.")
    tz_anchor = zone(page.series.anchor_timezone)
    week_start = datetime.combine(monday, time(0), tzinfo=tz_anchor).astimezone(UTC)
    horizon = week_start + WEEK
    later = [m.end for m in page.meetings if m.date >= monday][:ROTATION_ROWS]
    if later:
        horizon = max(horizon, later[-1])
    zones = {m.person.timezone for m in page.members} | {page.series.anchor_timezone}
    notices.extend(c.text for c in clock_changes(zones, week_start, horizon))
    return notices


def build_view(page: SharePage) -> PageView:
    """Lay out the page: everything the template needs, computed here, not in Jinja."""
    series = page.series
    week_end = page.week + WEEK
    week_meetings = [m for m in page.meetings if page.week <= m.date < week_end]
    if week_meetings:
        days = [ribbon_day(page, m.date, m) for m in week_meetings]
    else:
        skipped = [d for d in page.rule_dates if page.week <= d < week_end]
        days = [ribbon_day(page, skipped[0] if skipped else page.week, None)]
    prev_week = page.week - WEEK
    next_week = page.week + WEEK
    jumps: list[NavLink] = []
    earlier = [m for m in page.meetings if m.date < page.week]
    later = [m for m in page.meetings if m.date >= week_end]
    if earlier and week_of(earlier[-1].date) != prev_week:
        target = week_of(earlier[-1].date)
        jumps.append(_week_link(target, f"Previous meeting ({day_label(earlier[-1].date)})"))
    if later and week_of(later[0].date) != next_week:
        target = week_of(later[0].date)
        jumps.append(_week_link(target, f"Next meeting ({day_label(later[0].date)})"))
    parties = party_columns(page.members)
    people_series = [(m.name, [m.id]) for m in page.members]
    party_series = [(name, [m.id for m in side]) for _, name, side in parties]
    charts = [
        cumulative_chart(
            "people", "Cumulative burden per participant", page.meetings, people_series, page.week
        ),
        cumulative_chart(
            "parties", "Cumulative burden per party", page.meetings, party_series, page.week
        ),
    ]
    anchor = series.anchor_timezone
    return PageView(
        page=page,
        rule_text=describe_rule(series.recurrence, series.start_date),
        span_text=_span_text(series, page.rule_dates),
        policy_text=policy_text(series.policy, page.meetings, page.members),
        anchor_place=f"{wording.place(anchor, page.now)} ({anchor})",
        parties=parties,
        week_label=f"Week of {day_label(page.week)}",
        prev_week=_week_link(prev_week, "Previous week", "prev")
        if prev_week >= page.first_week
        else None,
        next_week=_week_link(next_week, "Next week", "next")
        if next_week <= page.last_week
        else None,
        jumps=jumps,
        week_meetings=week_meetings,
        days=days,
        notices=_week_notices(page, week_meetings),
        rotation=rotation(page),
        rotation_total=sum(1 for m in page.meetings if m.date >= page.week),
        charts=charts,
        balances=[("Participants", page.people_balance), ("Parties", page.party_balance)],
    )

"""How long one person's 5,000-event ICS file takes to read into busy intervals.

The file is shaped like a Google Calendar export of a busy work calendar over the 400-day
window: X-WR-TIMEZONE and a VTIMEZONE, 4,600 single events (UTC times, 3 to 12 attendees,
folded descriptions, a reminder each, some all-day and some declined) and 250 weekly
series (TZID times, some with UNTIL, COUNT or EXDATE) with 150 moved or cancelled
instances. Prints the median CPU time of the runs (this process's own, so other work on
the shared machine does not count; wall time alongside), the first call in the process,
and PASS/FAIL against the 2 s budget; exits 1 on FAIL.

    .venv/bin/python benchmarks/bench_ics.py
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, Timezone, vCalAddress

from app.calendars.ics import busy_intervals

RUNS = 5
BUDGET_S = 2.0
SINGLES = 4_600
SERIES = 250
OVERRIDES = 150
START = datetime(2026, 6, 1, tzinfo=UTC)
END = START + timedelta(days=400)
BERLIN = ZoneInfo("Europe/Berlin")
ME = "maria.santos@example.com"
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR")
GOOGLE_BERLIN = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
X-LIC-LOCATION:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
"""


def _attendees(rnd: random.Random, event: Event, answer: str) -> None:
    me = vCalAddress(f"mailto:{ME}")
    me.params.update(CUTYPE="INDIVIDUAL", ROLE="REQ-PARTICIPANT", PARTSTAT=answer, CN=ME)
    event.add("ORGANIZER", vCalAddress(f"mailto:colleague{rnd.randrange(40)}@example.com"))
    event.add("ATTENDEE", me)
    for n in rnd.sample(range(400), rnd.randrange(2, 12)):
        other = vCalAddress(f"mailto:colleague{n}@example.com")
        other.params.update(CUTYPE="INDIVIDUAL", ROLE="REQ-PARTICIPANT", PARTSTAT="ACCEPTED")
        other.params.update({"CN": f"Colleague Number {n}", "X-NUM-GUESTS": "0"})
        event.add("ATTENDEE", other)


def _details(rnd: random.Random, event: Event, n: int) -> None:
    event.add("DTSTAMP", datetime(2026, 5, 20, 8, 0, tzinfo=UTC))
    event.add("CREATED", datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=n))
    event.add("LAST-MODIFIED", datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n))
    event.add("SUMMARY", f"Project sync {n} — roadmap, hiring, and the quarterly numbers")
    event.add("LOCATION", "Meeting room 4.12 (Berlin) / https://meet.google.com/abc-defg-hij")
    event.add(
        "DESCRIPTION",
        "Join with Google Meet: https://meet.google.com/abc-defg-hij\n"
        "Or dial: (DE) +49 30 5557 8123 PIN: 123 456 789#\n" + "Agenda: " * rnd.randrange(5, 40),
    )
    event.add("SEQUENCE", n % 3)
    event.add("STATUS", "CONFIRMED")
    alarm = Alarm()
    alarm.add("ACTION", "DISPLAY")
    alarm.add("DESCRIPTION", "This is an event reminder")
    alarm.add("TRIGGER", timedelta(minutes=-10))
    event.add_component(alarm)


def build_document(seed: int) -> bytes:
    rnd = random.Random(seed)
    calendar = Calendar()
    calendar.add("PRODID", "-//Google Inc//Google Calendar 70.9054//EN")
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("X-WR-CALNAME", ME)
    calendar.add("X-WR-TIMEZONE", "Europe/Berlin")
    calendar.add_component(Timezone.from_ical(GOOGLE_BERLIN))
    for n in range(SINGLES):
        event = Event()
        day = START.date() + timedelta(days=rnd.randrange(400))
        if n % 40 == 0:  # all-day: Google writes them TRANSPARENT unless marked busy
            event.add("DTSTART", day)
            event.add("DTEND", day + timedelta(days=rnd.choice((1, 1, 3))))
            event.add("TRANSP", "OPAQUE" if n % 80 == 0 else "TRANSPARENT")
        else:
            begin = datetime.combine(day, datetime.min.time(), BERLIN).replace(
                hour=rnd.randrange(7, 19), minute=rnd.choice((0, 15, 30, 45))
            )
            event.add("DTSTART", begin.astimezone(UTC))
            event.add("DTEND", (begin + timedelta(minutes=rnd.choice((25, 30, 50, 60, 90)))))
            event.add("TRANSP", "OPAQUE")
        event.add("UID", f"{seed:02d}{n:06d}q0f1vh6s4b3kq@google.com")
        _details(rnd, event, n)
        _attendees(rnd, event, "DECLINED" if n % 25 == 0 else "ACCEPTED")
        calendar.add_component(event)
    overrides = rnd.sample(range(SERIES), OVERRIDES)
    for n in range(SERIES):
        event = Event()
        first = datetime.combine(
            START.date() + timedelta(days=rnd.randrange(-180, 300)),
            datetime.min.time(),
            BERLIN,
        ).replace(hour=rnd.randrange(8, 18))
        uid = f"{seed:02d}{n:06d}r7kq2m5ufh0d3@google.com"
        event.add("DTSTART", first)
        event.add("DTEND", first + timedelta(minutes=30))
        rule: dict[str, object] = {"FREQ": "WEEKLY", "BYDAY": WEEKDAYS[first.weekday() % 5]}
        if n % 5 == 1:
            rule["UNTIL"] = (first + timedelta(days=rnd.randrange(60, 300))).astimezone(UTC)
        elif n % 5 == 2:
            rule["COUNT"] = rnd.randrange(5, 40)
        event.add("RRULE", rule)
        if n % 3 == 0:
            event.add("EXDATE", first + timedelta(weeks=rnd.randrange(1, 8)))
        event.add("UID", uid)
        _details(rnd, event, n)
        _attendees(rnd, event, "ACCEPTED")
        calendar.add_component(event)
        if n in overrides:
            moved = Event()
            instance = first + timedelta(weeks=rnd.randrange(1, 6))
            moved.add("RECURRENCE-ID", instance)
            moved.add("DTSTART", instance + timedelta(hours=1))
            moved.add("DTEND", instance + timedelta(hours=1, minutes=30))
            moved.add("UID", uid)
            _details(rnd, moved, n)
            if n % 2:
                moved["STATUS"] = "CANCELLED"
            calendar.add_component(moved)
    return bytes(calendar.to_ical())


def _date(value: date) -> str:
    return f"{value:%Y-%m-%d}"


def main() -> int:
    documents = [build_document(seed) for seed in range(RUNS + 1)]
    cpu_s, wall_s = [], []
    intervals = 0
    for document in documents:
        cpu, wall = time.process_time(), time.perf_counter()
        intervals = len(
            busy_intervals([document], timezone="Europe/Berlin", emails=[ME], start=START, end=END)
        )
        cpu_s.append(time.process_time() - cpu)
        wall_s.append(time.perf_counter() - wall)
    median = statistics.median(cpu_s[1:])
    verdict = "PASS" if median <= BUDGET_S else "FAIL"
    print(
        f"ICS read, {SINGLES + SERIES + OVERRIDES:,} events, {len(documents[0]) / 1e6:.1f} MB, "
        f"{_date(START)}..{_date(END)}, {intervals:,} busy intervals: median "
        f"{median:.2f} s CPU of {RUNS} runs (min {min(cpu_s[1:]):.2f}, wall median "
        f"{statistics.median(wall_s[1:]):.2f}), first call {cpu_s[0]:.2f} s; "
        f"budget {BUDGET_S:.0f} s: {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())

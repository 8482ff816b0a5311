"""read_caldav against a real Radicale: what comes back for a week, whole and unexpanded, and
how each failure is told."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
import pytest
import requests

from app.calendars.caldav_read import read_caldav
from app.calendars.fetch import FetchFailed, Refused, guarded_session
from app.calendars.ics import busy_intervals
from tests.calendars.radicale import RadicaleServer, radicale_fixture  # noqa: F401

# Maria works in Los Angeles (UTC−7 in June): the period is her week of Monday 7 June 2027.
START = datetime(2027, 6, 7, 7, 0, tzinfo=UTC)
END = datetime(2027, 6, 14, 7, 0, tzinfo=UTC)
PASSWORD = "maria-secret"

STANDUP = """\
BEGIN:VEVENT
UID:standup@test
DTSTAMP:20270101T000000Z
SUMMARY:Standup
DTSTART;TZID=Europe/Berlin:20270503T100000
DTEND;TZID=Europe/Berlin:20270503T103000
RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH
EXDATE;TZID=Europe/Berlin:20270609T100000
END:VEVENT
BEGIN:VEVENT
UID:standup@test
DTSTAMP:20270101T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20270607T100000
SUMMARY:Standup (moved to the afternoon)
DTSTART;TZID=Europe/Berlin:20270607T160000
DTEND;TZID=Europe/Berlin:20270607T163000
END:VEVENT
BEGIN:VEVENT
UID:standup@test
DTSTAMP:20270101T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20270610T100000
SUMMARY:Standup (cancelled)
STATUS:CANCELLED
DTSTART;TZID=Europe/Berlin:20270610T100000
DTEND;TZID=Europe/Berlin:20270610T103000
END:VEVENT
"""
# A series that ended in May, its last instance moved into the week.
RETRO = """\
BEGIN:VEVENT
UID:retro@test
DTSTAMP:20270101T000000Z
SUMMARY:Retro
DTSTART:20270402T130000Z
DTEND:20270402T140000Z
RRULE:FREQ=WEEKLY;UNTIL=20270528T130000Z
END:VEVENT
BEGIN:VEVENT
UID:retro@test
DTSTAMP:20270101T000000Z
RECURRENCE-ID:20270528T130000Z
SUMMARY:Retro (postponed)
DTSTART:20270609T150000Z
DTEND:20270609T160000Z
END:VEVENT
"""
OUT_OF_OFFICE = """\
BEGIN:VEVENT
UID:ooo@test
DTSTAMP:20270101T000000Z
SUMMARY:Out of office
DTSTART;VALUE=DATE:20270611
DTEND;VALUE=DATE:20270613
END:VEVENT
"""
DECLINED = """\
BEGIN:VEVENT
UID:offsite@test
DTSTAMP:20270101T000000Z
SUMMARY:Offsite
DTSTART:20270608T180000Z
DTEND:20270608T190000Z
ORGANIZER:mailto:oskar@example.org
ATTENDEE;PARTSTAT=ACCEPTED:mailto:oskar@example.org
ATTENDEE;PARTSTAT=DECLINED:mailto:maria@example.org
END:VEVENT
"""
# 03:00 floating is 10:00 UTC for Maria, but 03:00 UTC, before the period, for a server.
FLOATING = """\
BEGIN:VEVENT
UID:dentist@test
DTSTAMP:20270101T000000Z
SUMMARY:Dentist
DTSTART:20270607T030000
DTEND:20270607T040000
END:VEVENT
"""
LATER = """\
BEGIN:VEVENT
UID:later@test
DTSTAMP:20270101T000000Z
SUMMARY:Next month
DTSTART:20270701T090000Z
DTEND:20270701T100000Z
END:VEVENT
"""
ENDED = """\
BEGIN:VEVENT
UID:ended@test
DTSTAMP:20270101T000000Z
SUMMARY:A series that ended in May
DTSTART:20270405T090000Z
DTEND:20270405T100000Z
RRULE:FREQ=DAILY;UNTIL=20270531T090000Z
END:VEVENT
"""
IN_THE_WEEK = {"standup@test", "retro@test", "ooo@test", "offsite@test", "dentist@test"}


def calendar_object(events: str) -> str:
    """A VCALENDAR around `events`, with the VTIMEZONEs their TZIDs need."""
    text = f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//tests//caldav//EN\n{events}END:VCALENDAR\n"
    calendar = parse(text.encode())
    calendar.add_missing_timezones()
    ical: bytes = calendar.to_ical()
    return ical.decode()


def parse(document: bytes) -> icalendar.Calendar:
    calendar = icalendar.Calendar.from_ical(document)
    assert isinstance(calendar, icalendar.Calendar)
    return calendar


@pytest.fixture(scope="module")
def maria_work(radicale: RadicaleServer) -> str:
    url = radicale.make_calendar("maria", "work", PASSWORD)
    for events in (STANDUP, RETRO, OUT_OF_OFFICE, DECLINED, FLOATING, LATER, ENDED):
        radicale.save_event(url, calendar_object(events))
    return url


def read_maria(url: str, **options: Any) -> list[bytes]:
    return read_caldav(url, username="maria", password=PASSWORD, start=START, end=END, **options)


def uids(documents: list[bytes]) -> set[str]:
    return {event.uid for document in documents for event in parse(document).events}


def test_reads_the_resources_with_an_instance_in_the_period(maria_work: str) -> None:
    assert uids(read_maria(maria_work)) == IN_THE_WEEK


def test_a_recurring_event_comes_back_whole_not_expanded(maria_work: str) -> None:
    (standup,) = (
        calendar
        for calendar in map(parse, read_maria(maria_work))
        if calendar.events[0].uid == "standup@test"
    )
    master, *overrides = standup.events
    berlin = ZoneInfo("Europe/Berlin")
    assert master.start == datetime(2027, 5, 3, 10, 0, tzinfo=berlin)
    assert [rule.to_ical() for rule in master.rrules] == [b"FREQ=WEEKLY;BYDAY=MO,TU,WE,TH"]
    assert master.exdates == [datetime(2027, 6, 9, 10, 0, tzinfo=berlin)]
    assert {(o.RECURRENCE_ID, o.start, o.get("STATUS")) for o in overrides} == {
        (
            datetime(2027, 6, 7, 10, 0, tzinfo=berlin),
            datetime(2027, 6, 7, 16, 0, tzinfo=berlin),
            None,
        ),
        (
            datetime(2027, 6, 10, 10, 0, tzinfo=berlin),
            datetime(2027, 6, 10, 10, 0, tzinfo=berlin),
            "CANCELLED",
        ),
    }


def test_busy_minutes_of_what_was_read(maria_work: str) -> None:
    busy = busy_intervals(
        read_maria(maria_work),
        timezone="America/Los_Angeles",
        emails=["Maria@Example.org"],
        start=START,
        end=END,
    )

    def utc(day: int, hour: int, minute: int = 0) -> int:
        return int(datetime(2027, 6, day, hour, minute, tzinfo=UTC).timestamp()) // 60

    assert busy == [
        (utc(7, 10), utc(7, 11)),  # the dentist at 03:00 floating, read in Los Angeles
        (utc(7, 14), utc(7, 14, 30)),  # Monday's standup moved from 10:00 to 16:00 Berlin
        (utc(8, 8), utc(8, 8, 30)),  # Tuesday's standup; not the declined offsite at 18:00
        (utc(9, 15), utc(9, 16)),  # the retro moved into the week; Wednesday's standup EXDATE
        # Thursday's standup is cancelled; the out-of-office is Friday and Saturday in LA.
        (utc(11, 7), utc(13, 7)),
    ]


def test_a_calendar_home_reads_each_of_its_event_calendars(radicale: RadicaleServer) -> None:
    work = radicale.make_calendar("ines", "work", "ines-secret")
    personal = radicale.make_calendar("ines", "personal", "ines-secret")
    radicale.make_calendar("ines", "tasks", "ines-secret", components=["VTODO"])
    radicale.save_event(work, calendar_object(DECLINED))
    radicale.save_event(personal, calendar_object(FLOATING))
    radicale.save_event(personal, calendar_object(LATER))
    session, requested = recording_session()

    home = f"{radicale.url}ines/"
    documents = read_caldav(
        home, username="ines", password="ines-secret", start=START, end=END, session=session
    )

    assert uids(documents) == {"offsite@test", "dentist@test"}
    assert sorted(path for method, path in requested if method == "REPORT") == [
        "/ines/personal/",
        "/ines/work/",
    ]


def recording_session() -> tuple[requests.Session, list[tuple[str, str]]]:
    """A plain session that notes the method and path of each response it gets."""
    session = requests.Session()
    requested: list[tuple[str, str]] = []

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        requested.append((str(response.request.method), urlsplit(response.url).path))

    session.hooks["response"].append(record)
    return session, requested


def test_one_report_through_the_callers_session(maria_work: str) -> None:
    session, requested = recording_session()

    assert uids(read_maria(maria_work, session=session)) == IN_THE_WEEK

    # The first PROPFIND goes without credentials and is answered 401 with the login wanted.
    assert [method for method, _ in requested] == ["PROPFIND", "PROPFIND", "REPORT"]
    session.close()


def test_through_the_guarded_session(maria_work: str) -> None:
    session = guarded_session(allow_private=True)
    assert uids(read_maria(maria_work, session=session)) == IN_THE_WEEK
    session.close()


def test_the_guarded_session_refusing_loopback_is_not_retold(maria_work: str) -> None:
    session = guarded_session(allow_private=False)
    with pytest.raises(Refused, match="is a loopback address"):
        read_maria(maria_work, session=session)
    session.close()


def test_more_resources_than_the_bound_fail(maria_work: str) -> None:
    with pytest.raises(FetchFailed) as failed:
        read_maria(maria_work, max_resources=4)
    assert failed.value.reason == "More than 4 events in this period: too many to read."


def test_a_wrong_password_is_refused(maria_work: str) -> None:
    with pytest.raises(FetchFailed) as failed:
        read_caldav(maria_work, username="maria", password="wrong", start=START, end=END)
    assert (failed.value.reason, failed.value.status) == (
        "The server refused the username or password.",
        401,
    )


def test_no_credentials_where_some_are_needed(maria_work: str) -> None:
    with pytest.raises(FetchFailed) as failed:
        read_caldav(maria_work, username=None, password=None, start=START, end=END)
    assert (failed.value.reason, failed.value.status) == (
        "The server asks for a username and password.",
        401,
    )


def test_someone_elses_calendar_is_forbidden(radicale: RadicaleServer, maria_work: str) -> None:
    radicale.add_user("oskar", "oskar-secret")
    with pytest.raises(FetchFailed) as failed:
        read_caldav(maria_work, username="oskar", password="oskar-secret", start=START, end=END)
    assert (failed.value.reason, failed.value.status) == (
        "The server does not let this user read this calendar.",
        403,
    )


def test_a_wrong_path_is_no_calendar(radicale: RadicaleServer, maria_work: str) -> None:
    with pytest.raises(FetchFailed) as failed:
        read_maria(f"{radicale.url}maria/holidays/")
    assert (failed.value.reason, failed.value.status) == ("No calendar at this address.", 404)


def test_a_home_without_calendars_is_no_calendar(radicale: RadicaleServer) -> None:
    radicale.add_user("zoe", "zoe-secret")
    with pytest.raises(FetchFailed) as failed:
        read_caldav(radicale.url, username="zoe", password="zoe-secret", start=START, end=END)
    assert (failed.value.reason, failed.value.status) == ("No calendar at this address.", 404)


def test_a_stopped_server_cannot_be_reached(tmp_path: Path) -> None:
    with RadicaleServer(tmp_path) as server:
        url = server.make_calendar("maria", "work", PASSWORD)
    with pytest.raises(FetchFailed) as failed:
        read_maria(url)
    assert (failed.value.reason, failed.value.status) == ("Could not connect to the server.", None)


def test_a_server_that_never_answers_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never reads nor answers
        port = silent.getsockname()[1]
        with pytest.raises(FetchFailed) as failed:
            read_maria(f"http://127.0.0.1:{port}/maria/work/", timeout=0.2)
    assert failed.value.reason == "The server did not answer within 0.2 s."


Answer = tuple[int, str, bytes]


@contextmanager
def web_server(answer: Callable[[str, str, str | None], Answer]) -> Iterator[str]:
    """A plain HTTP server on loopback; `answer(method, path, depth)` gives (status, content
    type, body) for each request. Yields the URL of /calendars/maria/."""

    class Handler(BaseHTTPRequestHandler):
        def reply(self) -> None:
            status, content_type, body = answer(self.command, self.path, self.headers["Depth"])
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PROPFIND = do_REPORT = reply

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/calendars/maria/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def multistatus(*responses: str) -> Answer:
    body = (
        '<?xml version="1.0"?>\n<D:multistatus xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav">' + "".join(responses) + "</D:multistatus>"
    )
    return 207, "application/xml", body.encode()


def found(href: str, properties: str) -> str:
    return (
        f"<D:response><D:href>{href}</D:href><D:propstat><D:prop>{properties}</D:prop>"
        "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
    )


CALENDAR = "<D:resourcetype><D:collection/><C:calendar/></D:resourcetype>"
PRINCIPAL = "<D:resourcetype><D:collection/><D:principal/></D:resourcetype>"


def test_a_calendar_marked_transparent_is_not_read() -> None:
    reported: list[str] = []

    def answer(method: str, path: str, depth: str | None) -> Answer:
        if method == "PROPFIND" and depth == "0":
            return multistatus(found(path, PRINCIPAL))
        if method == "PROPFIND":
            transparent = (
                "<C:schedule-calendar-transp><C:transparent/></C:schedule-calendar-transp>"
            )
            opaque = "<C:schedule-calendar-transp><C:opaque/></C:schedule-calendar-transp>"
            return multistatus(
                found(path, PRINCIPAL),
                found(f"{path}work/", CALENDAR + opaque),
                found(f"{path}holidays/", CALENDAR + transparent),
            )
        reported.append(path)
        data = f"<C:calendar-data>{calendar_object(DECLINED)}</C:calendar-data>"
        return multistatus(found(f"{path}offsite.ics", data))

    with web_server(answer) as url:
        assert uids(read_maria(url)) == {"offsite@test"}
    assert reported == ["/calendars/maria/work/"]


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (200, "text/html", b"<html><body>Welcome to our website</body></html>"),
        (405, "text/html", b"<html><body>Method not allowed</body></html>"),
        (200, "application/xml", b"<?xml version='1.0'?><no-closing-tag>"),
        (
            200,
            "application/xml",
            b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'/>",
        ),
    ],
    ids=["web page", "405", "broken XML", "other XML"],
)
def test_a_server_that_does_not_speak_caldav(status: int, content_type: str, body: bytes) -> None:
    with (
        web_server(lambda *request: (status, content_type, body)) as url,
        pytest.raises(FetchFailed) as failed,
    ):
        read_maria(url)
    assert failed.value.reason == "The server at this address does not speak CalDAV."


def test_a_calendar_home_on_another_server_is_refused() -> None:
    home_set = (
        "<C:calendar-home-set><D:href>http://127.0.0.2:1/maria/</D:href></C:calendar-home-set>"
    )
    with (
        web_server(
            lambda method, path, depth: multistatus(found(path, PRINCIPAL + home_set))
        ) as url,
        pytest.raises(FetchFailed) as failed,
    ):
        read_maria(url)
    assert failed.value.reason == "The server points to calendars on another server."


def test_the_period_is_given_with_its_time_zone(maria_work: str) -> None:
    with pytest.raises(ValueError, match="aware"):
        read_caldav(
            maria_work, username="maria", password=PASSWORD, start=datetime(2027, 6, 7), end=END
        )

"""Reading a participant's CalDAV calendar: the raw iCalendar resources with instances in a period.

One calendar-query REPORT with a time-range filter (RFC 4791 §7.8) per calendar, not expanded by
the server: app.calendars.ics expands them in the participant's zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import unquote, urljoin, urlsplit

import caldav
import requests
from caldav.davclient import DAVResponse
from caldav.lib import error as caldav_error
from lxml import etree

from app.calendars.fetch import FetchFailed

MAX_RESOURCES = 10_000
MAX_CALENDARS = 20
# Servers may read floating and all-day times as UTC (Radicale does); a day on each side keeps
# every resource that has an instance in the period in the participant's zone (UTC−12 to UTC+14).
QUERY_MARGIN = timedelta(days=1)

_DAV = "{DAV:}"
_CALDAV = "{urn:ietf:params:xml:ns:caldav}"
_PROPFIND = """<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop>
    <D:resourcetype/>
    <C:calendar-home-set/>
    <C:supported-calendar-component-set/>
    <C:schedule-calendar-transp/>
  </D:prop>
</D:propfind>"""

_Properties = dict[str, etree._Element]


def read_caldav(
    url: str,
    *,
    username: str | None,
    password: str | None,
    start: datetime,
    end: datetime,
    session: requests.Session | None = None,
    timeout: float = 10.0,
    max_resources: int = MAX_RESOURCES,
) -> list[bytes]:
    """The iCalendar data of every event resource at `url` with an instance in [start, end).

    `url` is a calendar collection (`https://dav.example.org/calendars/maria/work/`), or a
    principal or calendar home, of which every event calendar that counts for free-busy (not
    marked transparent, RFC 6638 §9.1) is read. Recurring events come back whole (RRULE, EXDATE
    and overrides), never expanded by the server; a resource whose instances are within
    QUERY_MARGIN of the period may come back too.

    Raises FetchFailed with a sentence (`status` 401, 403 or 404 when the address or the login
    is wrong); a `session` from fetch.guarded_session raises its own Refused and FetchFailed.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    # caldav annotates timeout as int; it is handed to requests, which takes seconds as a float.
    client = caldav.DAVClient(url, username=username, password=password, timeout=timeout)  # type: ignore[arg-type]
    if session is not None:
        client.session.close()
        client.session = session
    try:
        documents: list[bytes] = []
        for calendar_url in _event_calendars(client, url):
            documents += _query(client, calendar_url, start - QUERY_MARGIN, end + QUERY_MARGIN)
            if len(documents) > max_resources:
                raise FetchFailed(
                    f"More than {max_resources:,} events in this period: too many to read."
                )
        return documents
    except caldav_error.AuthorizationError as refused:
        raise _refusal(refused, username) from refused
    except NotImplementedError as unsupported:  # caldav: no basic, digest or bearer offered
        raise FetchFailed(
            "The server asks for a kind of login we cannot give.", 401
        ) from unsupported
    except requests.Timeout as slow:
        raise FetchFailed(f"The server did not answer within {timeout:g} s.") from slow
    except requests.exceptions.SSLError as untrusted:
        raise FetchFailed("The server's certificate is not valid.") from untrusted
    except requests.ConnectionError as unreachable:
        raise FetchFailed("Could not connect to the server.") from unreachable
    except requests.TooManyRedirects as loop:
        raise FetchFailed("The server redirects too many times.") from loop
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.InvalidSchema,
        requests.exceptions.MissingSchema,
    ) as bad:
        raise FetchFailed("This is not an http:// or https:// address.") from bad
    except requests.RequestException as broken:
        raise FetchFailed("The connection to the server broke off.") from broken
    except etree.XMLSyntaxError as garbled:
        raise FetchFailed("The server at this address does not speak CalDAV.") from garbled
    finally:
        if session is None:
            client.close()


def _event_calendars(client: caldav.DAVClient, url: str) -> list[str]:
    """The URLs of the calendars to read: `url` itself, or the event calendars of its home."""
    found = _multistatus(client.propfind(url, _PROPFIND, 0))
    properties = _properties_of(found, url)
    if _is_calendar(properties):
        return [url]
    home = url
    home_set = properties.get(f"{_CALDAV}calendar-home-set")
    if home_set is not None and (href := home_set.findtext(f"{_DAV}href")):
        home = _same_server(url, href.strip())
    children = _multistatus(client.propfind(home, _PROPFIND, 1))
    calendars = sorted(
        _same_server(home, path)
        for path, child in children.items()
        if path.rstrip("/") != _path(home).rstrip("/")
        and _is_calendar(child)
        and _holds_events(child)
        and not _is_transparent(child)
    )
    if not calendars:
        raise FetchFailed("No calendar at this address.", 404)
    if len(calendars) > MAX_CALENDARS:
        raise FetchFailed(
            f"This address holds {len(calendars)} calendars, more than the {MAX_CALENDARS} we "
            "read: give the address of one calendar."
        )
    return calendars


def _query(
    client: caldav.DAVClient, calendar_url: str, start: datetime, end: datetime
) -> list[bytes]:
    """One calendar-query REPORT with a time-range filter and no <expand>: the resources' data."""
    calendar = caldav.Calendar(client, url=calendar_url)
    query, _ = calendar.build_search_xml_query(  # type: ignore[no-untyped-call]
        event=True, start=start, end=end, expand=False
    )
    body = etree.tostring(query.xmlelement(), encoding="unicode")
    documents = []
    for path, properties in _multistatus(client.report(calendar_url, body, depth=1)).items():
        if path.rstrip("/") == _path(calendar_url).rstrip("/"):
            continue  # iCloud lists the calendar itself
        data = properties.get(f"{_CALDAV}calendar-data")
        if data is None or not data.text:
            raise FetchFailed("The server listed events without their contents.")
        documents.append(data.text.encode())
    return documents


def _multistatus(response: DAVResponse) -> dict[str, _Properties]:
    """The properties found (propstat 200) by href path in a 207 Multi-Status (RFC 4918 §13)."""
    _check_status(response.status, response.reason)
    tree = response.tree
    if response.status != 207 or tree is None or tree.tag != f"{_DAV}multistatus":
        raise FetchFailed("The server at this address does not speak CalDAV.", response.status)
    found: dict[str, _Properties] = {}
    for answer in tree.iterfind(f"{_DAV}response"):
        href = answer.findtext(f"{_DAV}href")
        if not href:
            continue
        properties = found.setdefault(_path(href.strip()), {})
        for propstat in answer.iterfind(f"{_DAV}propstat"):
            status = (propstat.findtext(f"{_DAV}status") or "").split()
            if len(status) < 2 or status[1] != "200":
                continue
            for prop in propstat.iterfind(f"{_DAV}prop"):
                properties.update((element.tag, element) for element in prop)
    return found


def _check_status(status: int, reason: str) -> None:
    if status == 404:
        raise FetchFailed("No calendar at this address.", 404)
    if status in (405, 501):
        raise FetchFailed("The server at this address does not speak CalDAV.", status)
    if status >= 400:
        raise FetchFailed(f"The server answered {status} {reason}".rstrip() + ".", status)


def _refusal(refused: caldav_error.AuthorizationError, username: str | None) -> FetchFailed:
    # caldav raises the same error for 401 and 403 and keeps only the reason phrase.
    if "forbidden" in (refused.reason or "").lower():
        return FetchFailed("The server does not let this user read this calendar.", 403)
    if username is None:
        return FetchFailed("The server asks for a username and password.", 401)
    return FetchFailed("The server refused the username or password.", 401)


def _properties_of(found: dict[str, _Properties], url: str) -> _Properties:
    path = _path(url).rstrip("/")
    for href, properties in found.items():
        if href.rstrip("/") == path:
            return properties
    return next(iter(found.values()), {})


def _is_calendar(properties: _Properties) -> bool:
    kind = properties.get(f"{_DAV}resourcetype")
    return kind is not None and kind.find(f"{_CALDAV}calendar") is not None


def _holds_events(properties: _Properties) -> bool:
    components = properties.get(f"{_CALDAV}supported-calendar-component-set")
    if components is None:
        return True  # RFC 4791 §5.2.3: absent means any component
    return any(comp.get("name", "").upper() == "VEVENT" for comp in components)


def _is_transparent(properties: _Properties) -> bool:
    transparency = properties.get(f"{_CALDAV}schedule-calendar-transp")
    return transparency is not None and transparency.find(f"{_CALDAV}transparent") is not None


def _same_server(base: str, href: str) -> str:
    """`href` resolved against `base`, refused if it leaves the server that has the password."""
    resolved = urljoin(base, href)
    if urlsplit(resolved)[:2] != urlsplit(base)[:2]:
        raise FetchFailed("The server points to calendars on another server.")
    return resolved


def _path(url: str) -> str:
    return unquote(urlsplit(url).path)

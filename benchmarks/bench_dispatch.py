"""Outbox dispatch throughput: sustained messages per second from the ``delivery`` table into
a local aiosmtpd (its own process, so it does not share this one's GIL).

2,000 invitations of about 8 KB (text, HTML and a text/calendar REQUEST with a VTIMEZONE,
a weekly RRULE and 30 attendees), rendered at send time as the real renderer does, each
claimed, sent and recorded by :func:`app.db.outbox.dispatch_once` in batches of 50 over one
SMTP connection per batch. Measured on a temporary SQLite database built by the migrations
(one worker), and with ``BENCH_DATABASE_URL`` on that PostgreSQL database too (one worker,
then two); each worker is a process of its own, as uvicorn's are. That database must have
no pending deliveries of its own: they would be sent to the local server. Also prints the
bare SMTP rate (no database), a connection per message and one connection for all, and the
dispatcher's own CPU time a message (steadier than the rate on a shared machine). Checks
that every message arrived exactly once; exits 1 if not.

    .venv/bin/python benchmarks/bench_dispatch.py
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \\
        .venv/bin/python benchmarks/bench_dispatch.py
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from app.db import migrate
from app.db.engine import make_engine
from app.db.models import Delivery, Workspace
from app.db.outbox import dispatch_once
from app.invitations.smtp import Relay, send
from app.settings import Settings

MESSAGES = 2000
BARE = 300  # messages for the connection-per-message figure
SENDER = "scheduler@sched.example"
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)

VTIMEZONE = """BEGIN:VTIMEZONE\r
TZID:America/New_York\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:-0500\r
TZOFFSETTO:-0400\r
TZNAME:EDT\r
DTSTART:19700308T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:-0400\r
TZOFFSETTO:-0500\r
TZNAME:EST\r
DTSTART:19701101T020000\r
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r
END:STANDARD\r
END:VTIMEZONE\r
"""


def render(session: Session | None, delivery: Delivery) -> EmailMessage:
    """About 8 KB, built anew for each row as app.db.invitations.render builds it."""
    attendees = "".join(
        f"ATTENDEE;CN=Person {i};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:"
        f"mailto:person{i}@example.com\r\n"
        for i in range(30)
    )
    calendar = (
        "BEGIN:VCALENDAR\r\nPRODID:-//meeting-scheduler//EN\r\nVERSION:2.0\r\n"
        f"METHOD:REQUEST\r\n{VTIMEZONE}BEGIN:VEVENT\r\n"
        f"UID:series-{delivery.series_id}@meeting-scheduler\r\nSEQUENCE:{delivery.sequence}\r\n"
        "DTSTAMP:20261001T000000Z\r\nDTSTART;TZID=America/New_York:20270105T090000\r\n"
        "DTEND;TZID=America/New_York:20270105T100000\r\nRRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=26\r\n"
        "EXDATE;TZID=America/New_York:20270112T090000,20270119T090000\r\n"
        "SUMMARY:Weekly operations review\r\nORGANIZER;CN=Ops:mailto:ops@example.com\r\n"
        f"{attendees}BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\n"
        "DESCRIPTION:Reminder\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    rows = "".join(
        f"Tue {5 + 7 * week:02d} Jan 2027, 09:00-10:00 New York (15:00 Berlin, 22:00 Manila): "
        f"your burden 0 min. Accept https://sched.example/rsvp/{delivery.id}/{week}/accept\n"
        for week in range(4)
    )
    text = (
        f"You are invited to Weekly operations review.\n\n{rows}\n"
        + "Who pays for the hard hours rotates fairly. " * 18
    )
    message = EmailMessage()
    message["From"] = f"Meeting scheduler <{SENDER}>"
    message["To"] = delivery.recipient
    message["Subject"] = "Invitation: Weekly operations review"
    message["Message-ID"] = delivery.message_id
    message.set_content(text)
    message.add_alternative(f"<html><body><pre>{text}</pre></body></html>", subtype="html")
    message.add_alternative(calendar, subtype="calendar", params={"method": "REQUEST"})
    return message


# --- the SMTP server, in a process of its own ------------------------------------------


def serve(port: int, log: Path) -> None:
    """Takes every message and writes its Message-ID to ``log``, one a line."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, Envelope
    from aiosmtpd.smtp import Session as SmtpSession

    out = log.open("a", buffering=1)

    class Handler:
        async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
            content = envelope.content
            assert isinstance(content, bytes)
            found = _MESSAGE_ID.search(content)
            out.write((found.group(1).decode() if found else "?") + "\n")
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, server_hostname="bench")
    controller.start()
    sys.stdin.read()  # until the parent closes it
    controller.stop()


class Server:
    def __init__(self, root: Path) -> None:
        self.log = root / "received.txt"
        self.log.touch()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(self.port), str(self.log)],
            stdin=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the SMTP server did not start") from None
                time.sleep(0.05)

    def received(self) -> Counter[str]:
        return Counter(self.log.read_text().split())

    def stop(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(10)


# --- the runs ---------------------------------------------------------------------------


def fill(engine: Engine, count: int, now: datetime) -> tuple[uuid.UUID, set[str]]:
    with Session(engine, expire_on_commit=False) as session:
        workspace = Workspace(name="bench_dispatch")
        session.add(workspace)
        session.flush()
        rows = [
            Delivery(
                workspace_id=workspace.id,
                series_id=uuid.uuid4(),
                recipient=f"member{i}@example.com",
                method="REQUEST",
                sequence=1,
                next_attempt_at=now - timedelta(seconds=1),
            )
            for i in range(count)
        ]
        session.add_all(rows)
        session.commit()
        return workspace.id, {row.message_id for row in rows}


async def drain(engine: Engine, settings: Settings, owner: str) -> int:
    total = 0
    while settled := await dispatch_once(
        engine, settings, render, lambda: datetime.now(UTC), owner
    ):
        total += settled
    return total


def work(url: str, port: int, owner: str, start: Any, results: Any) -> None:
    """One worker process: drain the outbox, report (messages settled, CPU seconds)."""
    engine = make_engine(url)
    settings = settings_for(url, port)
    start.wait()
    cpu = time.process_time()
    settled = asyncio.run(drain(engine, settings, owner))
    results.put((settled, time.process_time() - cpu))
    engine.dispose()


def run(engine: Engine, url: str, server: Server, workers: int, label: str) -> bool:
    """``workers`` processes, as uvicorn's workers are (threads would share one GIL)."""
    workspace_id, expected = fill(engine, MESSAGES, datetime.now(UTC))
    before = server.received()
    spawn = multiprocessing.get_context("spawn")
    start, results = spawn.Barrier(workers + 1), spawn.Queue()
    processes = [
        spawn.Process(target=work, args=(url, server.port, f"bench-{i}", start, results))
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    start.wait()
    began = time.perf_counter()
    reports = [results.get(timeout=600) for _ in processes]
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join()
    arrived = server.received() - before
    with Session(engine) as session:
        sent = session.exec(
            select(func.count())
            .select_from(Delivery)
            .where(col(Delivery.workspace_id) == workspace_id, col(Delivery.status) == "sent")
        ).one()
        workspace = session.get(Workspace, workspace_id)
        session.delete(workspace)
        session.commit()
    once = set(arrived) == expected and set(arrived.values()) == {1} and sent == MESSAGES
    cpu_ms = sum(cpu for _, cpu in reports) / MESSAGES * 1000
    print(
        f"{label:<32} {MESSAGES / elapsed:7.0f} msgs/s  ({elapsed:.1f} s; dispatcher CPU "
        f"{cpu_ms:.1f} ms a message; per worker {sorted(n for n, _ in reports)}; "
        f"each exactly once: {'yes' if once else 'NO'})"
    )
    return once


def parts(settings: Settings) -> None:
    """The rendering alone (this file's stand-in renderer) and the SMTP alone, no database."""
    nobody = uuid.UUID(int=0)
    rows = [
        Delivery(workspace_id=nobody, series_id=nobody, recipient=f"m{i}@x.test", method="REQUEST")
        for i in range(BARE)
    ]
    cpu = time.process_time()
    messages = [render(None, row) for row in rows]
    render_ms = (time.process_time() - cpu) / BARE * 1000

    async def each_alone() -> float:
        began = time.perf_counter()
        for message in messages:
            await send(settings, message)
        return time.perf_counter() - began

    async def one_connection() -> float:
        began = time.perf_counter()
        async with Relay(settings) as relay:
            for message in messages:
                await relay.send(message)
        return time.perf_counter() - began

    alone, together = asyncio.run(each_alone()), asyncio.run(one_connection())
    print(
        f"message size {len(messages[0].as_bytes()) / 1024:.1f} KB, rendered in {render_ms:.1f} ms"
    )
    print(f"{'SMTP only, a connection each':<32} {BARE / alone:7.0f} msgs/s")
    print(f"{'SMTP only, one connection':<32} {BARE / together:7.0f} msgs/s")


def settings_for(url: str, port: int) -> Settings:
    return Settings(
        _env_file=None,
        database_url=url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        mail_from=f"Meeting scheduler <{SENDER}>",
        public_base_url="https://sched.example",
    )


def main() -> int:
    ok = True
    with tempfile.TemporaryDirectory() as root:
        server = Server(Path(root))
        try:
            url = f"sqlite:///{Path(root) / 'bench.db'}"
            migrate.upgrade(url)
            engine = make_engine(url)
            parts(settings_for(url, server.port))
            ok &= run(engine, url, server, 1, "SQLite, 1 worker")
            engine.dispose()
            pg_url = os.environ.get("BENCH_DATABASE_URL")
            if pg_url:
                migrate.upgrade(pg_url)
                engine = make_engine(pg_url)
                with Session(engine) as session:
                    theirs = session.exec(
                        select(func.count())
                        .select_from(Delivery)
                        .where(col(Delivery.status) == "pending")
                    ).one()
                if theirs:
                    print(f"BENCH_DATABASE_URL has {theirs} pending deliveries: not touched")
                    return 1
                ok &= run(engine, pg_url, server, 1, "PostgreSQL, 1 worker")
                ok &= run(engine, pg_url, server, 2, "PostgreSQL, 2 workers")
                engine.dispose()
        finally:
            server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(main())

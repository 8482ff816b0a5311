"""The outbox dispatcher against a real SMTP server (aiosmtpd on loopback): each message
arrives once, through outages, refusals, two workers at once and a lease that ran out."""

from __future__ import annotations

import asyncio
import socket
import ssl
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.models import Delivery, Workspace
from app.db.outbox import LEASE, Dispatcher, Render, backoff, claim, dispatch_once
from app.invitations.smtp import SendFailed, send
from app.settings import Settings
from tests.conftest import make_settings
from tests.invitations.smtp_server import SmtpServer, smtp_fixture  # noqa: F401

SENDER = "scheduler@sched.example"


@pytest.fixture
def settings(database_url: str, smtp_server: SmtpServer) -> Settings:
    return relay_settings(database_url, smtp_server)


def relay_settings(database_url: str, server: SmtpServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": server.port,
        "smtp_starttls": False,
        "mail_from": f"Meeting scheduler <{SENDER}>",
    }
    return make_settings(database_url, **(values | overrides))


def letter(session: Session, delivery: Delivery) -> EmailMessage:
    """A stand-in for app.db.invitations.render: small, with the row's stable Message-ID."""
    message = EmailMessage()
    message["From"] = f"Meeting scheduler <{SENDER}>"
    message["To"] = delivery.recipient
    message["Subject"] = "Invitation: Weekly operations review"
    message["Message-ID"] = delivery.message_id
    message.set_content("You are invited.")
    return message


def add_rows(
    engine: Engine, count: int, due: datetime, recipient: Callable[[int], str] | None = None
) -> list[Delivery]:
    named = recipient or (lambda i: f"member{i}@example.test")
    with Session(engine, expire_on_commit=False) as session:
        workspace = Workspace(name="Acme")
        session.add(workspace)
        session.flush()
        rows = [
            Delivery(
                workspace_id=workspace.id,
                series_id=uuid.uuid4(),
                recipient=named(i),
                method="REQUEST",
                next_attempt_at=due,
            )
            for i in range(count)
        ]
        session.add_all(rows)
        session.commit()
    return rows


def load(engine: Engine) -> dict[uuid.UUID, Delivery]:
    with Session(engine) as session:
        return {row.id: row for row in session.exec(select(Delivery)).all()}


def dispatch(
    engine: Engine,
    settings: Settings,
    at: datetime,
    owner: str = "worker-a",
    render: Render = letter,
    limit: int = 50,
) -> int:
    return asyncio.run(dispatch_once(engine, settings, render, lambda: at, owner, limit))


def test_each_message_goes_out_once_with_its_message_id(
    engine: Engine, settings: Settings, smtp_server: SmtpServer, pinned_now: datetime
) -> None:
    rows = add_rows(engine, 3, due=pinned_now)

    assert dispatch(engine, settings, pinned_now) == 3
    assert dispatch(engine, settings, pinned_now + timedelta(hours=1)) == 0

    assert smtp_server.message_ids() == {row.message_id: 1 for row in rows}
    for received in smtp_server.messages:
        assert received.mail_from == SENDER
        assert received.rcpt_tos == [received.message["To"]]
    for row in load(engine).values():
        assert (row.status, row.attempts, row.sent_at) == ("sent", 1, pinned_now)
        assert row.first_attempt_at == pinned_now
        assert row.lease_owner is None and row.lease_until is None and row.last_error is None


def test_nothing_goes_before_its_time(
    engine: Engine, settings: Settings, smtp_server: SmtpServer, pinned_now: datetime
) -> None:
    """``next_attempt_at`` is the end of the coalescing window."""
    [row] = add_rows(engine, 1, due=pinned_now + timedelta(seconds=60))

    assert dispatch(engine, settings, pinned_now + timedelta(seconds=59)) == 0
    assert smtp_server.messages == []
    assert dispatch(engine, settings, pinned_now + timedelta(seconds=60)) == 1
    assert smtp_server.message_ids() == {row.message_id: 1}


def test_an_outage_delays_every_message_and_loses_none(
    engine: Engine, settings: Settings, smtp_server: SmtpServer, pinned_now: datetime
) -> None:
    rows = add_rows(engine, 5, due=pinned_now)
    port = smtp_server.port
    smtp_server.stop()

    assert dispatch(engine, settings, pinned_now) == 5
    for row in load(engine).values():
        assert (row.status, row.attempts, row.first_attempt_at) == ("pending", 1, pinned_now)
        assert row.last_error is not None and "cannot use the relay" in row.last_error
        assert row.lease_owner is None
        assert row.next_attempt_at == pinned_now + backoff(1, row.id)
        assert timedelta(seconds=30) <= row.next_attempt_at - pinned_now <= timedelta(seconds=33)
    assert dispatch(engine, settings, pinned_now + timedelta(seconds=29)) == 0  # backing off

    smtp_server.start()
    assert smtp_server.port == port
    assert dispatch(engine, settings, pinned_now + timedelta(seconds=40)) == 5
    assert dispatch(engine, settings, pinned_now + timedelta(hours=2)) == 0

    assert smtp_server.message_ids() == {row.message_id: 1 for row in rows}
    for row in load(engine).values():
        assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
        assert row.sent_at == pinned_now + timedelta(seconds=40)


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_a_permanent_refusal_fails_that_message_only(
    engine: Engine, settings: Settings, smtp_server: SmtpServer, pinned_now: datetime, stage: Any
) -> None:
    """One batch, one connection: the refused message fails alone, the others still go."""
    rows = add_rows(engine, 3, due=pinned_now)
    smtp_server.refuse("member1@example.test", "550 5.1.1 No such user", at=stage)

    assert dispatch(engine, settings, pinned_now) == 3
    assert dispatch(engine, settings, pinned_now + timedelta(days=2)) == 0

    assert smtp_server.message_ids() == {rows[0].message_id: 1, rows[2].message_id: 1}
    assert smtp_server.greetings == ["sched.example"]  # one session, named by public_base_url
    refused = load(engine)[rows[1].id]
    assert (refused.status, refused.attempts) == ("failed", 1)
    assert refused.last_error == f"{stage.upper()}: 550 5.1.1 No such user"
    assert refused.lease_owner is None


def test_a_temporary_refusal_is_tried_again(
    engine: Engine, settings: Settings, smtp_server: SmtpServer, pinned_now: datetime
) -> None:
    [row] = add_rows(engine, 1, due=pinned_now)
    smtp_server.refuse(row.recipient, "451 4.7.1 Greylisted, come back later")

    assert dispatch(engine, settings, pinned_now) == 1
    waiting = load(engine)[row.id]
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert waiting.last_error == "RCPT: 451 4.7.1 Greylisted, come back later"

    smtp_server.accept(row.recipient)
    assert dispatch(engine, settings, pinned_now + timedelta(minutes=1)) == 1
    assert smtp_server.message_ids() == {row.message_id: 1}
    assert load(engine)[row.id].status == "sent"


def test_after_24_hours_of_temporary_failures_a_message_fails(
    engine: Engine, settings: Settings, smtp_server: SmtpServer, pinned_now: datetime
) -> None:
    [row] = add_rows(engine, 1, due=pinned_now)
    smtp_server.refuse(row.recipient, "451 4.3.0 Mailbox busy", at="data")

    assert dispatch(engine, settings, pinned_now) == 1
    assert dispatch(engine, settings, pinned_now + timedelta(hours=23)) == 1
    assert load(engine)[row.id].status == "pending"
    assert load(engine)[row.id].next_attempt_at == pinned_now + timedelta(hours=23) + backoff(
        2, row.id
    )
    assert dispatch(engine, settings, pinned_now + timedelta(hours=24, minutes=1)) == 1

    failed = load(engine)[row.id]
    assert (failed.status, failed.attempts, failed.first_attempt_at) == ("failed", 3, pinned_now)
    assert failed.last_error == (
        "gave up after 3 attempts since 2026-10-01 00:00 UTC: DATA: 451 4.3.0 Mailbox busy"
    )
    assert smtp_server.messages == []


def test_backoff_doubles_to_an_hour() -> None:
    plain = uuid.UUID(int=0)
    assert [backoff(n, plain).total_seconds() for n in (1, 2, 3, 7, 8, 50)] == [
        30,
        60,
        120,
        1920,
        3600,
        3600,
    ]
    assert backoff(1, uuid.UUID(int=100)) == timedelta(seconds=33)


def test_what_cannot_be_sent_any_more_fails_with_the_reason(
    engine: Engine, settings: Settings, smtp_server: SmtpServer, pinned_now: datetime
) -> None:
    rows = add_rows(engine, 2, due=pinned_now)

    def render(session: Session, delivery: Delivery) -> EmailMessage | str:
        if delivery.id == rows[0].id:
            return "Maria has no email address any more."
        return letter(session, delivery)

    assert dispatch(engine, settings, pinned_now, render=render) == 2

    gone = load(engine)[rows[0].id]
    assert (gone.status, gone.attempts) == ("failed", 0)
    assert gone.last_error == "Maria has no email address any more."
    assert smtp_server.message_ids() == {rows[1].message_id: 1}


def test_a_renderer_that_breaks_on_one_row_delays_only_that_row(
    engine: Engine,
    settings: Settings,
    smtp_server: SmtpServer,
    pinned_now: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows = add_rows(engine, 2, due=pinned_now)

    def render(session: Session, delivery: Delivery) -> EmailMessage:
        if delivery.id == rows[0].id:
            raise KeyError("uid")
        message = letter(session, delivery)
        message.replace_header("Message-ID", "<something-else@example.test>")
        return message

    assert dispatch(engine, settings, pinned_now, render=render) == 2

    broken = load(engine)[rows[0].id]
    assert (broken.status, broken.attempts) == ("pending", 1)
    assert broken.last_error == "rendering failed: KeyError: 'uid'"
    assert "rendering failed" in caplog.text
    # The dispatcher stamps the row's own Message-ID, whatever the renderer put.
    assert smtp_server.message_ids() == {rows[1].message_id: 1}


def test_with_no_relay_configured_messages_wait_untouched(
    engine: Engine, database_url: str, smtp_server: SmtpServer, pinned_now: datetime
) -> None:
    [row] = add_rows(engine, 1, due=pinned_now)
    unset = relay_settings(database_url, smtp_server, smtp_host=None)

    assert dispatch(engine, unset, pinned_now) == 0

    waiting = load(engine)[row.id]
    assert (waiting.status, waiting.attempts, waiting.lease_owner) == ("pending", 0, None)


def test_two_workers_send_each_message_once(
    engine: Engine, settings: Settings, smtp_server: SmtpServer, pinned_now: datetime
) -> None:
    """Two threads, each with its own event loop, started together on one outbox."""
    rows = add_rows(engine, 200, due=pinned_now)
    start = threading.Barrier(2)
    settled: dict[str, int] = {}
    errors: list[BaseException] = []

    def worker(owner: str) -> None:
        try:
            start.wait(5)
            settled[owner] = 0
            while done := dispatch(engine, settings, pinned_now, owner=owner, limit=10):
                settled[owner] += done
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(owner,)) for owner in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert sum(settled.values()) == 200 and min(settled.values()) > 0, settled
    assert smtp_server.message_ids() == {row.message_id: 1 for row in rows}
    assert {row.status for row in load(engine).values()} == {"sent"}


def test_concurrent_claims_are_disjoint(engine: Engine, pinned_now: datetime) -> None:
    rows = add_rows(engine, 300, due=pinned_now)
    start = threading.Barrier(3)
    claimed: dict[str, list[uuid.UUID]] = {}

    def worker(owner: str) -> None:
        start.wait(5)
        claimed[owner] = []
        while batch := claim(engine, owner, pinned_now, 7):
            claimed[owner] += batch

    threads = [threading.Thread(target=worker, args=(owner,)) for owner in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    every = [delivery_id for batch in claimed.values() for delivery_id in batch]
    assert sorted(every) == sorted(row.id for row in rows)  # each once, none missing
    leased = load(engine)
    for owner, batch in claimed.items():
        assert {leased[i].lease_owner for i in batch} <= {owner}
        assert {leased[i].lease_until for i in batch} <= {pinned_now + LEASE}


def test_a_worker_whose_lease_ran_out_does_not_overwrite_the_next_one(
    engine: Engine, settings: Settings, smtp_server: SmtpServer, pinned_now: datetime
) -> None:
    """The slow worker's DATA hangs past its lease; another worker takes the row over and
    sends it; the slow one's late 451 changes nothing. (Its message never arrived; had it,
    the receiver would see the same Message-ID twice and drop one.)"""
    [row] = add_rows(engine, 1, due=pinned_now)
    hold = smtp_server.hold_next_data()
    slow_settled: list[int] = []
    slow = threading.Thread(
        target=lambda: slow_settled.append(dispatch(engine, settings, pinned_now, owner="slow"))
    )
    slow.start()
    try:
        assert hold.reached.wait(5)
        later = pinned_now + LEASE + timedelta(minutes=1)
        assert dispatch(engine, settings, later, owner="next") == 1
    finally:
        hold.release("451 4.4.2 Timeout")
        slow.join(10)

    assert slow_settled == [0]
    after = load(engine)[row.id]
    assert (after.status, after.attempts, after.sent_at) == ("sent", 1, later)
    assert after.last_error is None and after.lease_owner is None
    assert smtp_server.message_ids() == {row.message_id: 1}


def test_a_worker_near_the_end_of_its_lease_sends_nothing_more(
    engine: Engine, settings: Settings, smtp_server: SmtpServer, pinned_now: datetime
) -> None:
    """Its clock jumps after the claim (a long pause, say): what it has not started goes
    back at once, unattempted, for any worker."""
    add_rows(engine, 3, due=pinned_now)
    readings = iter([pinned_now])

    def clock() -> datetime:
        return next(readings, pinned_now + LEASE - timedelta(seconds=40))

    assert asyncio.run(dispatch_once(engine, settings, letter, clock, "paused")) == 0

    assert smtp_server.messages == []
    for row in load(engine).values():
        assert (row.status, row.attempts, row.lease_owner, row.lease_until) == (
            "pending",
            0,
            None,
            None,
        )
    assert dispatch(engine, settings, pinned_now, owner="other") == 3


def test_the_dispatcher_sends_when_woken(
    engine: Engine, database_url: str, smtp_server: SmtpServer, pinned_now: datetime
) -> None:
    rows = add_rows(engine, 2, due=pinned_now)
    hourly = relay_settings(database_url, smtp_server, mail_poll_seconds=3600)

    async def scenario() -> None:
        dispatcher = Dispatcher(engine, hourly, letter, lambda: pinned_now)
        dispatcher.start()
        dispatcher.wake()
        async with asyncio.timeout(5):
            while len(smtp_server.messages) < 2:
                await asyncio.sleep(0.01)
        await dispatcher.stop()

    asyncio.run(scenario())
    assert smtp_server.message_ids() == {row.message_id: 1 for row in rows}
    with Session(engine) as session:
        assert session.exec(select(Delivery).where(col(Delivery.status) != "sent")).all() == []


# --- send() on its own --------------------------------------------------------------------


def one_message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = "maria@example.test"
    message["Message-ID"] = "<one@sched.example>"
    message.set_content("hello")
    return message


def failure(server: SmtpServer, timeout: float = 5.0, **overrides: Any) -> SendFailed:
    settings = relay_settings("sqlite://", server, **overrides)  # no database is opened
    with pytest.raises(SendFailed) as caught:
        asyncio.run(send(settings, one_message(), timeout=timeout))
    return caught.value


def test_send_needs_a_host(smtp_server: SmtpServer) -> None:
    failed = failure(smtp_server, smtp_host=None)
    assert (failed.reason, failed.permanent) == ("SCHEDULER_SMTP_HOST is not set", False)


def test_starttls_when_configured_is_required(smtp_server: SmtpServer) -> None:
    """A relay that does not offer STARTTLS gets nothing in the clear (aiosmtpd here has no
    certificate, so it offers none)."""
    failed = failure(smtp_server, smtp_starttls=True)
    assert not failed.permanent
    assert "STARTTLS" in failed.reason and "SCHEDULER_SMTP_STARTTLS" in failed.reason
    assert smtp_server.messages == []


def self_signed() -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1))
        .not_valid_after(datetime(2040, 1, 1))
        .sign(key, hashes.SHA256())
    )
    with tempfile.TemporaryDirectory() as root:
        cert, private = Path(root) / "cert.pem", Path(root) / "key.pem"
        cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, private)
    return context


def test_starttls_checks_the_certificate() -> None:
    """STARTTLS is taken when offered and the relay's certificate is verified: one that is
    self-signed gets nothing."""
    server = SmtpServer(starttls=self_signed()).start()
    try:
        failed = failure(server, smtp_starttls=True)
    finally:
        server.stop()
    assert not failed.permanent and "CERTIFICATE_VERIFY_FAILED" in failed.reason
    assert server.messages == []


def test_a_failed_login_never_shows_the_password(
    engine: Engine,
    database_url: str,
    smtp_server: SmtpServer,
    pinned_now: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    [row] = add_rows(engine, 1, due=pinned_now)
    secret = "hunter2-correct-horse"
    login = relay_settings(database_url, smtp_server, smtp_username="u", smtp_password=secret)
    caplog.set_level("DEBUG")

    assert dispatch(engine, login, pinned_now) == 1

    waiting = load(engine)[row.id]
    assert waiting.status == "pending" and waiting.last_error is not None
    assert "AUTH" in waiting.last_error
    assert secret not in waiting.last_error and secret not in caplog.text
    assert secret not in repr(login)


def test_a_refused_connection_is_temporary(smtp_server: SmtpServer) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    failed = failure(smtp_server, smtp_port=port)
    assert not failed.permanent and "cannot use the relay" in failed.reason


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_silent_relay_times_out(smtp_server: SmtpServer, silent_port: int) -> None:
    failed = failure(smtp_server, 0.2, smtp_port=silent_port)
    assert not failed.permanent and "did not answer within 0.2 s" in failed.reason

"""A real aiosmtpd SMTP server on loopback for tests, and the `smtp_server` fixture.

Use it from a test module with
`from tests.invitations.smtp_server import smtp_fixture  # noqa: F401`
and a test parameter named `smtp_server`: one server runs for the session (whichever modules
import it); each test gets it running, emptied, and answering everyone with 250.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

_STASH_KEY = pytest.StashKey["SmtpServer"]()
_HOLD_SECONDS = 10.0  # a held DATA is answered after this at the latest

Stage = Literal["rcpt", "data"]


@dataclass(frozen=True)
class Received:
    """One message as the server took it: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Hold:
    """The next DATA waits (its message not yet taken) until :meth:`release`."""

    reached: threading.Event = field(default_factory=threading.Event)
    _released: threading.Event = field(default_factory=threading.Event)
    reply: str | None = None  # the answer once released; None: take the message

    def release(self, reply: str | None = None) -> None:
        self.reply = reply
        self._released.set()


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        self._server._greeted(hostname)
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self._server._refusal(address, "rcpt")
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        for address in envelope.rcpt_tos:
            refusal = self._server._refusal(address, "data")
            if refusal is not None:
                return refusal
        hold = self._server._take_hold()
        if hold is not None:
            hold.reached.set()
            await asyncio.to_thread(hold._released.wait, _HOLD_SECONDS)
            if hold.reply is not None:
                return hold.reply
        content = envelope.content
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._server._add(Received(str(envelope.mail_from), list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd in a thread on 127.0.0.1. :meth:`stop` and :meth:`start` again keep the port,
    for outages; :meth:`refuse` makes it answer a recipient's RCPT or DATA with a reply."""

    def __init__(self, starttls: ssl.SSLContext | None = None) -> None:
        self.port = 0
        self._starttls = starttls  # offered with this certificate, and required
        self._controller: Controller | None = None
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._refusals: dict[str, tuple[Stage, str]] = {}
        self._holds: list[Hold] = []
        self.greetings: list[str] = []  # the EHLO name of each SMTP session, in order

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpServer:
        if self._controller is not None:
            return self
        self.port = self.port or _free_port()
        controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="localhost",  # not socket.getfqdn(): no DNS
            ready_timeout=5.0,
            tls_context=self._starttls,
            require_starttls=self._starttls is not None,
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._refusals.clear()
            self._holds.clear()
            self.greetings.clear()
        self.start()

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def message_ids(self) -> Counter[str]:
        """How many times each Message-ID arrived."""
        return Counter(str(r.message["Message-ID"]) for r in self.messages)

    def refuse(self, recipient: str, reply: str, at: Stage = "rcpt") -> None:
        """Answer ``reply`` (e.g. "550 5.1.1 No such user") to ``recipient``'s RCPT, or to
        the DATA of a message for them; :meth:`accept` undoes it."""
        with self._lock:
            self._refusals[recipient.lower()] = (at, reply)

    def accept(self, recipient: str) -> None:
        with self._lock:
            self._refusals.pop(recipient.lower(), None)

    def hold_next_data(self) -> Hold:
        """The next message's DATA is answered only when the returned hold is released."""
        hold = Hold()
        with self._lock:
            self._holds.append(hold)
        return hold

    def _refusal(self, address: str, stage: Stage) -> str | None:
        with self._lock:
            found = self._refusals.get(address.lower())
        return found[1] if found is not None and found[0] == stage else None

    def _take_hold(self) -> Hold | None:
        with self._lock:
            return self._holds.pop(0) if self._holds else None

    def _greeted(self, hostname: str) -> None:
        with self._lock:
            self.greetings.append(hostname)

    def _add(self, received: Received) -> None:
        with self._lock:
            self._messages.append(received)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(name="smtp_server")
def smtp_fixture(request: pytest.FixtureRequest) -> Iterator[SmtpServer]:
    """The session's server, running, with no messages and no refusals. Each importing
    module gets its own fixture definition, so the server itself is kept in the stash."""
    stash = request.config.stash
    if _STASH_KEY not in stash:
        server = SmtpServer()
        stash[_STASH_KEY] = server
        request.config.add_cleanup(server.stop)
    server = stash[_STASH_KEY]
    server.reset()
    yield server

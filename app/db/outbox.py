"""The outbox dispatcher: sends the ``delivery`` rows that are due, each claimed by exactly one
worker, and records what became of them (sent, failed, or tried again later with backoff).

What it guarantees, on SQLite and PostgreSQL, with any number of workers and replicas:

* **One claimer.** :func:`claim` gives a due row (``pending``, ``next_attempt_at`` passed, no
  live lease) to one worker for :data:`LEASE`. On PostgreSQL the candidates are locked with
  ``SELECT … FOR UPDATE SKIP LOCKED`` and leased in the same transaction, so workers claiming
  at once take disjoint rows without waiting for each other. On SQLite (one writer at a
  time, no ``FOR UPDATE``) a single ``UPDATE … WHERE id IN (due and free rows) RETURNING``
  chooses and leases under the write lock, so a claimer that waited chooses among the rest.
* **Sent only under a live lease.** Before rendering, the row is read again and must still be
  this worker's; a message is only started while its longest possible send
  (:data:`~app.invitations.smtp.SEND_TIMEOUT`) plus a margin fits in the lease. What a
  worker did not get to is released at once for others.
* **Recorded only by the lease holder.** Every outcome is written with
  ``WHERE lease_owner = <this worker>``: a worker whose lease ran out and was taken over
  changes nothing.
* **So each message is sent once**, except when a worker dies (or the relay's "250" is lost)
  after the relay took a message and before it was recorded: the lease runs out and the row
  is sent again with the same ``Message-ID`` (:attr:`Delivery.message_id`, stamped on every
  message here), by which a receiver drops the duplicate. At least once on the wire, once
  per Message-ID.
* **Nothing is lost silently.** A row stays ``pending`` until it is sent, refused for good
  (a 5xx reply to the message), found unsendable by the renderer (``failed`` with the
  renderer's reason, no attempt counted), or has failed temporarily for more than
  :data:`GIVE_UP_AFTER` since its first attempt. With no SMTP host configured nothing is
  claimed at all: messages wait, no attempt counted, until there is one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Literal

from sqlalchemy import Engine, and_, or_, update
from sqlmodel import Session, col, select

from app.db.models import Delivery
from app.invitations.smtp import SEND_TIMEOUT, Relay, SendFailed
from app.settings import Settings

log = logging.getLogger("app.db.outbox")

LEASE = timedelta(minutes=2)  # a batch normally takes well under a second
MARGIN = timedelta(seconds=15)  # left in the lease after the longest send, for the record
GIVE_UP_AFTER = timedelta(hours=24)  # of temporary failures, from the first attempt
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
BATCH = 50  # rows one worker claims at once (sent over one SMTP connection)

# The message of a row as things now stand, or why there is none (the row then fails with
# that reason). It reads in the session it is given; nothing it writes is kept.
Render = Callable[[Session, Delivery], EmailMessage | str]


def backoff(attempts: int, delivery_id: uuid.UUID) -> timedelta:
    """How long after its ``attempts``-th failure a row is tried again: 30 s, doubling up
    to 1 h, plus up to 10 % fixed per row (rows that failed together come back spread out).

    >>> backoff(1, uuid.UUID(int=0)), backoff(3, uuid.UUID(int=0))
    (datetime.timedelta(seconds=30), datetime.timedelta(seconds=120))
    >>> backoff(20, uuid.UUID(int=100))  # the cap, plus 10 %
    datetime.timedelta(seconds=3960)
    """
    delay = min(FIRST_RETRY * (1 << min(max(attempts, 1) - 1, 20)), LONGEST_RETRY)
    return delay * (1 + (delivery_id.int % 101) / 1000)


def _due_and_free(now: datetime) -> Any:
    return and_(
        col(Delivery.status) == "pending",
        col(Delivery.next_attempt_at) <= now,
        or_(col(Delivery.lease_until).is_(None), col(Delivery.lease_until) <= now),
    )


def claim(engine: Engine, owner: str, now: datetime, limit: int) -> list[uuid.UUID]:
    """Lease up to ``limit`` due rows to ``owner`` until ``now + LEASE``, oldest due first;
    no other worker gets them meanwhile (see the module's guarantees)."""
    due = (
        select(Delivery.id)
        .where(_due_and_free(now))
        .order_by(col(Delivery.next_attempt_at), col(Delivery.id))
        .limit(limit)
    )
    lease = (
        update(Delivery)
        .values(lease_owner=owner, lease_until=now + LEASE)
        .returning(col(Delivery.id), col(Delivery.next_attempt_at))
        .execution_options(synchronize_session=False)
    )
    with Session(engine) as session:
        if engine.dialect.name == "postgresql":
            # Rows another claimer has locked are skipped, not waited for; the lease is
            # taken before the locks go with the commit.
            candidates = session.exec(due.with_for_update(skip_locked=True)).all()
            if not candidates:
                return []
            taken = session.execute(lease.where(col(Delivery.id).in_(candidates))).all()
        else:
            # One statement under SQLite's single write lock chooses and leases, so a
            # claimer that waited for another's lease chooses among the rows still free.
            taken = session.execute(lease.where(col(Delivery.id).in_(due))).all()
        session.commit()
    return [delivery_id for delivery_id, _ in sorted(taken, key=lambda row: (row[1], row[0]))]


@dataclass(frozen=True)
class _Unsendable:
    reason: str  # the renderer's


Outcome = SendFailed | _Unsendable | Literal["sent"]


async def dispatch_once(
    engine: Engine,
    settings: Settings,
    render: Render,
    clock: Callable[[], datetime],
    owner: str,
    limit: int = BATCH,
) -> int:
    """Claim the rows that are due, send them one after the other over one SMTP connection,
    record each as soon as it is sent. Returns how many rows this worker settled (sent,
    failed, or put back for a retry): less than ``limit`` means nothing more is due now.
    Database work runs in threads; no transaction is open while the relay is talked to."""
    if not settings.smtp_host:
        return 0  # messages wait, unclaimed and unattempted, until a relay is configured
    now = clock()
    waiting = await asyncio.to_thread(claim, engine, owner, now, limit)
    last_start = now + LEASE - MARGIN - timedelta(seconds=SEND_TIMEOUT)
    settled = 0
    try:
        async with Relay(settings, timeout=SEND_TIMEOUT) as relay:
            while waiting and clock() <= last_start:
                prepared = await asyncio.to_thread(_prepare, engine, render, owner, waiting.pop(0))
                if prepared is None:
                    continue  # deleted, or no longer ours
                delivery, outcome = prepared
                if isinstance(outcome, EmailMessage):
                    try:
                        await relay.send(outcome, [delivery.recipient])
                        outcome = "sent"
                    except SendFailed as failed:
                        outcome = failed
                if await asyncio.to_thread(_record, engine, owner, delivery, outcome, clock()):
                    settled += 1
    finally:
        if waiting:  # the lease is running out, or we are being stopped: others may go on
            await asyncio.to_thread(_release, engine, owner, waiting)
    return settled


def _prepare(
    engine: Engine, render: Render, owner: str, delivery_id: uuid.UUID
) -> tuple[Delivery, EmailMessage | Outcome] | None:
    """The row, if still this worker's, with its message or why there is none."""
    with Session(engine, expire_on_commit=False) as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.lease_owner != owner or delivery.status != "pending":
            return None
        try:
            message = render(session, delivery)
        except Exception as exc:  # one row's bad data or a bug must not stop the others
            log.exception("delivery %s: rendering failed", delivery_id)
            return delivery, SendFailed(f"rendering failed: {type(exc).__name__}: {exc}", False)
    # Closed uncommitted: the renderer reads, and nothing it changed is kept.
    if isinstance(message, str):
        return delivery, _Unsendable(message)
    if message["Message-ID"] != delivery.message_id:  # the receiver's duplicate check
        del message["Message-ID"]
        message["Message-ID"] = delivery.message_id
    return delivery, message


def _record(
    engine: Engine, owner: str, delivery: Delivery, outcome: Outcome, now: datetime
) -> bool:
    """Write what became of a row, if its lease is still this worker's."""
    # updated_at is left alone: it dates the row's content (the renderer's DTSTAMP), so a
    # retry renders the same message.
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
    first = delivery.first_attempt_at or now
    if isinstance(outcome, _Unsendable):
        values.update(status="failed", last_error=outcome.reason[:1000])
    elif isinstance(outcome, SendFailed):
        attempts = delivery.attempts + 1
        values.update(attempts=attempts, first_attempt_at=first)
        if outcome.permanent:
            values.update(status="failed", last_error=outcome.reason[:1000])
        elif now - first > GIVE_UP_AFTER:
            reason = f"gave up after {attempts} attempts since {first:%Y-%m-%d %H:%M} UTC: "
            values.update(status="failed", last_error=(reason + outcome.reason)[:1000])
        else:
            values.update(
                last_error=outcome.reason[:1000],
                next_attempt_at=now + backoff(attempts, delivery.id),
            )
    else:
        values.update(
            status="sent",
            sent_at=now,
            attempts=delivery.attempts + 1,
            first_attempt_at=first,
            last_error=None,
        )
    with Session(engine) as session:
        result = session.execute(
            update(Delivery)
            .where(col(Delivery.id) == delivery.id, col(Delivery.lease_owner) == owner)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        log.warning(
            "delivery %s: the lease ran out before its outcome (%s) was recorded",
            delivery.id,
            "sent" if outcome == "sent" else "not sent",
        )
        return False
    return True


def _release(engine: Engine, owner: str, delivery_ids: list[uuid.UUID]) -> None:
    with Session(engine) as session:
        session.execute(
            update(Delivery)
            .where(col(Delivery.id).in_(delivery_ids), col(Delivery.lease_owner) == owner)
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        session.commit()


# --- the background loop ----------------------------------------------------------------


class Dispatcher:
    """Each worker's background loop: every ``mail_poll_seconds`` (or at once after
    :meth:`wake`), send what is due, batch after batch while batches come back full.
    Workers race for the rows; the database decides (see :func:`claim`)."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        render: Render,
        clock: Callable[[], datetime],
    ) -> None:
        self._engine, self._settings, self._render, self._clock = engine, settings, render, clock
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup = asyncio.Event()
        self._stopping = False

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if not self._settings.smtp_host:
            log.warning("SCHEDULER_SMTP_HOST is not set: invitations wait in the outbox")
        self._task = self._loop.create_task(self._run())

    def wake(self) -> None:
        """Look for due rows now (from any thread, e.g. after a commit that wrote one)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.mail_poll_seconds):
                    await self._wakeup.wait()
            self._wakeup.clear()
            try:
                while not self._stopping and await self._round() == BATCH:
                    pass  # a full batch: more may be due
            except Exception:  # the database is down, say: try again next round
                log.exception("mail dispatch round failed")

    async def _round(self) -> int:
        return await dispatch_once(
            self._engine, self._settings, self._render, self._clock, self.owner
        )

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Let the batch being sent finish (up to ``grace_seconds``), then stop."""
        self._stopping = True
        self._wakeup.set()
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), grace_seconds)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

"""Every table. The schema itself comes only from Alembic migrations in ``migrations/``."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime, utcnow

# Set before any model so constraint names are stable across SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, **kw)


def _fk(target: str, *, nullable: bool = False, ondelete: str = "CASCADE") -> Any:
    return Field(
        sa_column_args=[ForeignKey(target, ondelete=ondelete)],
        nullable=nullable,
        index=True,
    )


def _counter() -> Any:
    return Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})


class Versioned(SQLModel):
    """Rows that clients edit: timestamps and a version that drives ETag / If-Match."""

    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    version: int = Field(default=1, nullable=False)


class Workspace(Versioned, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    slack_team_id: str | None = Field(default=None, max_length=32, unique=True)
    # Bumped by every write that a feed could show (app.db.content_version).
    content_version: int = _counter()
    # Bumped, beside content_version, by writes of one kind of content each: an API answer
    # kept in memory (app.api.read_cache) stays good while the kinds it shows are unchanged.
    party_version: int = _counter()
    participant_version: int = _counter()
    # Only a participant's scheduling values (party, zone, hours, holidays, stretch), or one
    # added or removed: the planner's view of them.
    availability_version: int = _counter()
    time_off_version: int = _counter()
    series_version: int = _counter()
    occurrence_version: int = _counter()
    # The Slack app's install (OAuth v2, app.slack.install): the bot token sealed with
    # SCHEDULER_SECRET_KEY, and the bot's own user id.
    slack_bot_token_sealed: str | None = Field(default=None, sa_type=Text)
    slack_bot_user_id: str | None = Field(default=None, max_length=32)
    slack_installed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SlackInstall(SQLModel, table=True):
    """One install link (``POST /v1/workspace/slack/install-link``): its OAuth ``state`` is
    kept as a hash, good once, until ``expires_at``."""

    __tablename__ = "slack_install"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    workspace_id: uuid.UUID = _fk("workspace.id")
    state_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _ts()


class SlackPost(SQLModel, table=True):
    """A message for a series' Slack channel (a reminder before an occurrence, or the
    announcement of a re-plan), written in the transaction that causes it and posted by
    exactly one worker (app.slack.posts). ``key`` makes it one row per thing to say: a
    change before it is posted updates the row; after, ``ts`` lets it be edited in place."""

    __tablename__ = "slack_post"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    workspace_id: uuid.UUID = _fk("workspace.id")
    series_id: uuid.UUID = Field(index=True)
    occurrence_id: uuid.UUID | None = Field(default=None)
    kind: str = Field(max_length=16)  # "reminder" or "announcement"
    key: str = Field(max_length=200, unique=True)
    channel: str = Field(max_length=32)
    text: str = Field(default="", sa_type=Text)
    blocks: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    status: str = Field(default="pending", max_length=8)  # "pending", "sent" or "failed"
    due_at: datetime = Field(sa_type=UTCDateTime, index=True)
    attempts: int = _counter()
    last_error: str | None = Field(default=None, max_length=1000)
    first_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ts: str | None = Field(default=None, max_length=32)  # Slack's id of the posted message
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    workspace_id: uuid.UUID = _fk("workspace.id")
    # SHA-256 of the key; the key itself is shown once and never stored.
    key_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = _ts()
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Party(Versioned, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    workspace_id: uuid.UUID = _fk("workspace.id")
    name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    timezone: str = Field(max_length=64)
    working_hours: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    holiday_country: str | None = Field(default=None, max_length=8)
    holiday_subdivision: str | None = Field(default=None, max_length=16)


class Participant(Versioned, table=True):
    __table_args__ = (
        UniqueConstraint("workspace_id", "slack_user_id", name="uq_participant_slack_user"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    workspace_id: uuid.UUID = _fk("workspace.id")
    party_id: uuid.UUID = Field(
        sa_column_args=[ForeignKey("party.id", ondelete="RESTRICT")], index=True
    )
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    timezone: str | None = Field(default=None, max_length=64)
    working_hours: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    holiday_country: str | None = Field(default=None, max_length=8)
    holiday_subdivision: str | None = Field(default=None, max_length=16)
    max_stretch_minutes: int = Field(default=180)
    slack_user_id: str | None = Field(default=None, max_length=32)
    # The Slack team the user belongs to, when it is not the workspace's own: a vendor's
    # user in a Slack Connect channel shared with the client (app.slack).
    slack_team_id: str | None = Field(default=None, max_length=32)


class TimeOff(SQLModel, table=True):
    __tablename__ = "time_off"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    workspace_id: uuid.UUID = _fk("workspace.id")
    participant_id: uuid.UUID = _fk("participant.id")
    start_date: date
    end_date: date
    note: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts()


class CalendarSource(SQLModel, table=True):
    """A participant's own calendar, read for busy times (app.db.calendars). Only the busy
    intervals are kept, never what the events are; a CalDAV password only sealed."""

    __tablename__ = "calendar_source"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    workspace_id: uuid.UUID = _fk("workspace.id")
    participant_id: uuid.UUID = _fk("participant.id")
    kind: str = Field(max_length=8)  # "ics" or "caldav"
    url: str = Field(max_length=2000)
    username: str | None = Field(default=None, max_length=320)
    password_sealed: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default="pending", max_length=8)  # "ok", "error" or "pending"
    last_synced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # last success
    last_error: str | None = Field(default=None, max_length=1000)
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Conditional fetches of an ICS address, and what its busy times were read as (the zone
    # and email they were read in: a change of either reads the calendar afresh).
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    read_as: str = Field(default="", max_length=400)
    # [[start, end], ...] in UTC minutes since 1970 (app.scheduling.model.BusyTimes).
    busy: list[list[int]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    busy_digest: str = Field(default="", max_length=64)
    # Background refresh: due at next_sync_at; a worker holds a source until lease_until.
    next_sync_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _ts()


class Series(Versioned, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    workspace_id: uuid.UUID = _fk("workspace.id")
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    duration_minutes: int
    recurrence: str = Field(max_length=500)
    start_date: date
    count: int | None = None
    until: date | None = None
    anchor_timezone: str = Field(max_length=64)
    policy: str = Field(max_length=16)
    step_minutes: int = Field(default=15)
    location: str | None = Field(default=None, max_length=2000)
    # Bumped by every schedule run: two concurrent runs cannot both commit.
    schedule_version: int = Field(default=0, nullable=False)
    # Each party's quorum rule: [{"party_id": "<uuid>", "min_attendees": k}].
    quorum: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # "auto": a change that makes a stored future occurrence infeasible re-schedules at once.
    replan: str = Field(default="manual", max_length=8)
    # Burden carried from before the service: [{"participant_id", "burden_minutes", "note"}].
    opening_balance: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # Invitations by email (app.db.invitations): the SEQUENCE of the series' iCalendar
    # object, and a digest of what the invitation shows, so a change that moves nothing in
    # anyone's calendar sends nothing. rsvp_epoch: bumping it revokes every RSVP link.
    # A channel for reminders before each occurrence and announcements of re-plans.
    slack_channel_id: str | None = Field(default=None, max_length=32)
    # (Defaults are the API's, 60 and 15: a model default would turn an explicit null back
    # into the default on insert.)
    slack_reminder_minutes: int | None = Field(default=None)
    send_invitations: bool = Field(default=False)
    organizer_email: str | None = Field(default=None, max_length=320)
    reminder_minutes: int | None = Field(default=None)
    invitation_sequence: int = _counter()
    invitation_digest: str = Field(default="", max_length=64)
    rsvp_epoch: int = _counter()


class SeriesParticipant(SQLModel, table=True):
    __tablename__ = "series_participant"

    series_id: uuid.UUID = Field(
        sa_column_args=[ForeignKey("series.id", ondelete="CASCADE")], primary_key=True
    )
    participant_id: uuid.UUID = Field(
        sa_column_args=[ForeignKey("participant.id", ondelete="RESTRICT")],
        primary_key=True,
        index=True,
    )
    # "required", "quorum" (counted when they can attend, see Series.quorum) or "optional".
    attendance: str = Field(default="required", max_length=8)
    # Their answer to the series' invitation ("accepted", "declined", "proposed"), and
    # whether they stopped its invitations (one-click unsubscribe).
    response: str | None = Field(default=None, max_length=8)
    unsubscribed: bool = Field(default=False)

    @property
    def required(self) -> bool:
        return self.attendance == "required"

    @property
    def counted(self) -> bool:
        """Their burden counts in fairness (required, or a quorum member who attends)."""
        return self.attendance != "optional"


class Occurrence(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("series_id", "date"),
        Index("ix_occurrence_workspace_start", "workspace_id", "start"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    workspace_id: uuid.UUID = _fk("workspace.id")
    series_id: uuid.UUID = _fk("series.id")
    index: int
    date: date
    start: datetime = Field(sa_type=UTCDateTime)
    end: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="scheduled", max_length=16)
    sequence: int = Field(default=0)
    # participant_id -> burden minutes as scheduled; fixed once the occurrence is past.
    burden: dict[str, int] = Field(sa_column=Column(JSON, nullable=False))
    notices: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Quorum members who cannot attend: participant_id -> why (they carry no burden).
    absent: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Kept as it is by `schedule` (set by a hand move, a swap, or PATCH pinned).
    pinned: bool = Field(default=False)
    # Members who agreed to a time past their max stretch (a forced turn).
    forced_for: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # False: a past occurrence that did not take place (it counts nowhere).
    held: bool = Field(default=True)
    # Members who did not attend a past occurrence (their burden of it counts nowhere).
    not_attended: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Answers to this occurrence's RSVP links: participant_id -> "accepted" | "declined" |
    # "proposed" (a quorum member's decline makes them absent).
    responses: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))

    def counts_for(self, participant_id: str) -> bool:
        """Whether this occurrence's burden of ``participant_id`` counts (ledger, fairness)."""
        return self.status == "scheduled" and self.held and participant_id not in self.not_attended

    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Delivery(SQLModel, table=True):
    """One message to send (a transactional outbox row, app.db.invitations): written in the
    transaction of the change that causes it, sent by exactly one dispatcher. The message is
    rendered when sent, from the series as it then stands; ``snapshot`` keeps what a CANCEL
    needs after the series or the member is gone."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    workspace_id: uuid.UUID = _fk("workspace.id")
    series_id: uuid.UUID = Field(index=True)  # no foreign key: a deleted series is cancelled
    participant_id: uuid.UUID | None = Field(default=None, index=True)
    recipient: str = Field(max_length=320)
    method: str = Field(max_length=8)  # "REQUEST" or "CANCEL"
    only_date: date | None = None  # a CANCEL of one occurrence (its RECURRENCE-ID)
    sequence: int = Field(default=0)
    status: str = Field(default="pending", max_length=8)  # "pending", "sent" or "failed"
    attempts: int = _counter()
    last_error: str | None = Field(default=None, max_length=1000)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    first_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()

    @property
    def message_id(self) -> str:
        """Stable across retries: a receiver drops a duplicate sent after a crash."""
        return f"<delivery-{self.id}@meeting-scheduler>"


class Feed(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    workspace_id: uuid.UUID = _fk("workspace.id")
    scope: str = Field(max_length=16)
    target_id: uuid.UUID | None = None
    token_hash: str = Field(max_length=64, unique=True)
    # The token sealed with SCHEDULER_SECRET_KEY (app.secret_box), so its URL can be shown
    # again; lookups use only the hash. None for feeds made before it was kept.
    token_sealed: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _ts()
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ShareLink(SQLModel, table=True):
    __tablename__ = "share_link"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    workspace_id: uuid.UUID = _fk("workspace.id")
    series_id: uuid.UUID = _fk("series.id")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts()
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SlackRequest(SQLModel, table=True):
    """A signed Slack request already received: the same (timestamp, signature) is refused
    while Slack's 5-minute window would still accept it (app.slack.verify), on every worker."""

    __tablename__ = "slack_request"

    timestamp: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    signature: str = Field(primary_key=True, max_length=100)

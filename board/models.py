"""SQLModel tables: SQL is the source of truth for everything the board shows."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

DEFAULT_SEGMENTS = ["citoyen", "étudiant", "agent public"]


class AnswerStatus(StrEnum):
    PENDING = "pending"
    PUBLISHED = "published"
    HIDDEN = "hidden"
    REJECTED = "rejected"


WITHHELD = (AnswerStatus.HIDDEN, AnswerStatus.REJECTED)
"""Set aside by a moderator: the text is never published, not even under the answer it was merged into."""


class ThreadStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class EventStatus(StrEnum):
    """An event's lifecycle: a draft is the organisers' alone; closed shows results; archived is read-only."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    ARCHIVED = "archived"


class Reason(StrEnum):
    """Why an answer was hidden or rejected."""

    OFFTOPIC = "offtopic"
    ABUSIVE = "abusive"
    DUPLICATE = "duplicate"
    PERSONAL_DATA = "personal-data"
    OTHER = "other"


REASONS = tuple(Reason)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True, index=True)
    title: str = Field(max_length=200)
    place: str = Field(default="", max_length=200)
    date: str = Field(default="", max_length=40)
    organisers: str = Field(default="", max_length=300)
    description: str = Field(default="")
    moderation: str = Field(default="post", max_length=8)
    voting: str = Field(default="agree-disagree", max_length=20)
    segments: list[str] = Field(default_factory=lambda: list(DEFAULT_SEGMENTS), sa_column=Column(JSON))
    screen_thread_id: int | None = Field(default=None)
    status: str = Field(default=EventStatus.OPEN, max_length=10)
    code: str | None = Field(default=None, max_length=6, index=True)
    retention_days: int = Field(default=180)
    closed_at: datetime | None = Field(default=None)
    responsible: str = Field(default="", max_length=300)
    contact: str = Field(default="", max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    accent: str = Field(default="", max_length=7)
    """`#rrggbb`, or empty for the board's own blue."""
    logo_version: str | None = Field(default=None, max_length=16)
    """What pages need to draw the logo without reading it: its hash (in its URL), width and height."""
    logo_width: int | None = Field(default=None)
    logo_height: int | None = Field(default=None)


class EventLogo(SQLModel, table=True):
    """An event's logo as uploaded and checked, served by the board itself (`/e/{slug}/logo`)."""

    event_id: int = Field(foreign_key="event.id", primary_key=True)
    media_type: str = Field(max_length=20)
    sha256: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Thread(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    prompt: str = Field(max_length=500)
    position: int = Field(default=0)
    status: str = Field(default=ThreadStatus.OPEN, max_length=8)
    timer_ends_at: datetime | None = Field(default=None)
    timer_auto_close: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)


class Participant(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("event_id", "external_id", name="uq_participant_event_external_id"),)

    id: str = Field(primary_key=True, max_length=32)
    event_id: int = Field(foreign_key="event.id", index=True)
    segment: str | None = Field(default=None, max_length=40)
    name: str | None = Field(default=None, max_length=40)
    banned: bool = Field(default=False)
    external_id: str | None = Field(default=None, max_length=80)
    """Who the participant was elsewhere (`polis:{voter-id}` for an imported Pol.is voter); never published."""
    created_at: datetime = Field(default_factory=utcnow)


class Answer(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("participant_id", "client_key", name="uq_answer_participant_client_key"),
        Index("ix_answer_thread_status", "thread_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    thread_id: int = Field(foreign_key="thread.id")
    participant_id: str = Field(foreign_key="participant.id", index=True, max_length=32)
    body: str = Field(max_length=500)
    status: str = Field(default=AnswerStatus.PUBLISHED, max_length=10)
    reason: str | None = Field(default=None, max_length=20)
    pinned: bool = Field(default=False)
    merged_into: int | None = Field(default=None, foreign_key="answer.id")
    client_key: str | None = Field(default=None, max_length=36)
    agree: int = Field(default=0)
    disagree: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow)


class Vote(SQLModel, table=True):
    answer_id: int = Field(foreign_key="answer.id", primary_key=True)
    participant_id: str = Field(foreign_key="participant.id", primary_key=True, max_length=32)
    value: int
    updated_at: datetime = Field(default_factory=utcnow)


class ImportedPass(SQLModel, table=True):
    """A pass brought in with an imported conversation: seen, neither agreed nor disagreed.

    The board records no pass itself and no count includes them; only the opinion groups read them, as
    Pol.is does. They go with their participant or answer (erasure, retention)."""

    answer_id: int = Field(foreign_key="answer.id", primary_key=True, ondelete="CASCADE")
    participant_id: str = Field(
        foreign_key="participant.id", primary_key=True, max_length=32, ondelete="CASCADE"
    )


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, unique=True, index=True)
    password_hash: str = Field(max_length=200)
    is_admin: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)


class EventRole(SQLModel, table=True):
    account_id: int = Field(foreign_key="account.id", primary_key=True)
    event_id: int = Field(foreign_key="event.id", primary_key=True)
    role: str = Field(max_length=12)


class AuditEntry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    event_id: int | None = Field(default=None, foreign_key="event.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    actor: str = Field(max_length=80)
    action: str = Field(max_length=40)
    target: str = Field(default="", max_length=200)
    reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class Invitation(SQLModel, table=True):
    """A one-time link that gives a role on an event: only a hash of its token is kept."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    role: str = Field(max_length=12)
    label: str = Field(default="", max_length=120)
    token_hash: str = Field(max_length=64, unique=True)
    created_by: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = Field(default=None)
    used_by: int | None = Field(default=None, foreign_key="account.id")
    revoked_at: datetime | None = Field(default=None)


class PasswordReset(SQLModel, table=True):
    """A one-time link to choose a new password, printed by `board account reset`."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = Field(default=None)


class RecordEntry(SQLModel, table=True):
    """One link of an event's public hash chain; `at` is kept as the text that was hashed."""

    __table_args__ = (UniqueConstraint("event_id", "seq", name="uq_record_entry_event_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id")
    seq: int
    kind: str = Field(max_length=20)
    at: str = Field(max_length=40)
    detail: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    text_sha256: str | None = Field(default=None, max_length=64)
    prev: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class RetainedTally(SQLModel, table=True):
    """Votes on an answer per segment ('' for none), kept as counts once the votes are unlinked."""

    answer_id: int = Field(foreign_key="answer.id", primary_key=True)
    segment: str = Field(primary_key=True, max_length=40)
    agree: int = Field(default=0)
    disagree: int = Field(default=0)


class Retention(SQLModel, table=True):
    """An event whose people were unlinked, with how many had taken part."""

    event_id: int = Field(foreign_key="event.id", primary_key=True)
    participants: int = Field(default=0)
    applied_at: datetime = Field(default_factory=utcnow)


class RetainedOpinions(SQLModel, table=True):
    """A thread's opinion groups as computed when retention unlinked its votes: the public payload (JSON,
    no participant id), served from then on since the votes that made it are gone."""

    thread_id: int = Field(foreign_key="thread.id", primary_key=True)
    payload: str


class ForgottenParticipant(SQLModel, table=True):
    """The SHA-256 of an erased participant id, so that a stale cookie never brings it back."""

    id_sha256: str = Field(primary_key=True, max_length=64)
    event_id: int = Field(foreign_key="event.id", index=True)

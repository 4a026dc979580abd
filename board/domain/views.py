"""Plain, frozen data handed to templates and the API: never lazy ORM objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from board.live.counters import ThreadCounts
from board.models import AnswerStatus, EventStatus, ThreadStatus


@dataclass(frozen=True)
class Logo:
    """Enough to draw the logo without reading it: its address changes with its content."""

    slug: str
    version: str
    width: int
    height: int

    @property
    def url(self) -> str:
        return f"/e/{self.slug}/logo?v={self.version}"


@dataclass(frozen=True)
class EventView:
    id: int
    slug: str
    title: str
    place: str
    date: str
    organisers: str
    description: str
    moderation: str
    voting: str
    segments: tuple[str, ...]
    screen_thread_id: int | None
    status: str = EventStatus.OPEN
    code: str | None = None
    retention_days: int = 180
    closed_at: datetime | None = None
    responsible: str = ""
    contact: str = ""
    created_at: datetime | None = None
    accent: str = ""
    logo: Logo | None = None

    @property
    def is_open(self) -> bool:
        return self.status == EventStatus.OPEN

    @property
    def is_over(self) -> bool:
        """Closed or archived: the results stand, nobody answers or votes any more."""
        return self.status in (EventStatus.CLOSED, EventStatus.ARCHIVED)


@dataclass(frozen=True)
class ThreadView:
    id: int
    event_id: int
    prompt: str
    position: int
    status: str
    counts: ThreadCounts = field(default_factory=ThreadCounts)
    timer_ends_at: datetime | None = None
    timer_auto_close: bool = False

    @property
    def is_open(self) -> bool:
        return self.status == ThreadStatus.OPEN


@dataclass(frozen=True)
class ParticipantView:
    id: str
    event_id: int
    segment: str | None
    name: str | None
    banned: bool


@dataclass(frozen=True)
class AnswerView:
    id: int
    thread_id: int
    body: str
    status: str
    reason: str | None
    pinned: bool
    agree: int
    disagree: int
    created_at: datetime
    author_name: str | None = None
    mine: bool = False
    my_vote: int = 0
    merged: tuple[str, ...] = ()

    @property
    def score(self) -> int:
        return self.agree - self.disagree

    @property
    def is_published(self) -> bool:
        return self.status == AnswerStatus.PUBLISHED

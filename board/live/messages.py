"""The messages the board sends on its channels, one dataclass each, with one way in and out of JSON.

Streams decode a message once per process however many listen, so decoded messages are shared:
they are frozen, and their mappings are never changed after decoding.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from board.live.counters import ThreadCounts


@dataclass(frozen=True)
class Counts:
    """Absolute counts: a thread's totals and some of its answers, or an event's participants."""

    thread: int | None
    totals: ThreadCounts | None = None
    answers: Mapping[int, tuple[int, int]] = field(default_factory=dict)
    participants: int | None = None
    event_id: int | None = None


@dataclass(frozen=True)
class NewAnswer:
    """An answer just posted: published ones reach every page, pending ones only the moderators."""

    thread: int
    id: int
    body: str
    status: str
    created_at: datetime
    totals: ThreadCounts
    author: str | None = None
    """The display name its author chose to show beside their answers, if any."""

    @property
    def published(self) -> bool:
        return self.status == "published"


@dataclass(frozen=True)
class Status:
    """Something changed that pages redraw rather than patch: `answers`, `threads`, `present`, `timer`,
    `moderation`, or `event` (the event's own lifecycle: `event_status` says which).

    `totals`, when given, are the thread's counts after the change. `thread_status`, when given, says the
    message carries the thread's whole state (status, timer and the thread on the projector), so that
    pages apply it as it is instead of fetching it again.
    """

    status: str
    thread: int | None = None
    totals: ThreadCounts | None = None
    thread_status: str | None = None
    timer_ends_at: datetime | None = None
    auto_close: bool = False
    on_screen: int | None = None
    event_status: str | None = None

    @property
    def has_thread_state(self) -> bool:
        return self.thread_status is not None

    def public(self) -> dict[str, Any]:
        """What a page is told: the kind, and the thread's or the event's state when the message has it."""
        data: dict[str, Any] = {"status": self.status, "thread": self.thread}
        if self.has_thread_state:
            data.update(
                thread_status=self.thread_status,
                timer_ends_at=None if self.timer_ends_at is None else self.timer_ends_at.isoformat(),
                auto_close=self.auto_close,
                on_screen=self.on_screen,
            )
        if self.event_status is not None:
            data["event_status"] = self.event_status
        return data


@dataclass(frozen=True)
class Ping:
    """Said by a quiet stream so that proxies keep it open; never published."""


Message = Counts | NewAnswer | Status | Ping
REFRESH = Status("answers")
"""Told to pages whose stream may have missed messages: they redraw what they show."""


def _totals(raw: Mapping[str, int] | None) -> ThreadCounts | None:
    return None if raw is None else ThreadCounts(raw["answers"], raw["pending"], raw["votes"])


def _plain(totals: ThreadCounts | None) -> dict[str, int] | None:
    return (
        None
        if totals is None
        else {"answers": totals.answers, "pending": totals.pending, "votes": totals.votes}
    )


def encode(message: Message) -> bytes:
    data: dict[str, Any]
    if isinstance(message, Counts):
        data = {
            "type": "counts",
            "thread": message.thread,
            "totals": _plain(message.totals),
            "answers": {str(a): list(c) for a, c in message.answers.items()},
            "participants": message.participants,
            "event_id": message.event_id,
        }
    elif isinstance(message, NewAnswer):
        data = {
            "type": "answer",
            "thread": message.thread,
            "id": message.id,
            "body": message.body,
            "status": message.status,
            "created_at": message.created_at.isoformat(),
            "totals": _plain(message.totals),
            "author": message.author,
        }
    elif isinstance(message, Status):
        data = {**message.public(), "type": "status", "totals": _plain(message.totals)}
    else:
        data = {"type": "ping"}
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


@lru_cache(maxsize=512)
def decode(raw: bytes | str) -> Message:
    """The message behind `raw`; once per distinct message and process, shared by every stream."""
    data = json.loads(raw)
    kind = data.get("type")
    if kind == "counts":
        return Counts(
            thread=data.get("thread"),
            totals=_totals(data.get("totals")),
            answers={int(a): (c[0], c[1]) for a, c in (data.get("answers") or {}).items()},
            participants=data.get("participants"),
            event_id=data.get("event_id"),
        )
    if kind == "answer":
        return NewAnswer(
            thread=data["thread"],
            id=data["id"],
            body=data["body"],
            status=data["status"],
            created_at=datetime.fromisoformat(data["created_at"]),
            totals=_totals(data["totals"]) or ThreadCounts(),
            author=data.get("author"),
        )
    if kind == "status":
        ends = data.get("timer_ends_at")
        return Status(
            data["status"],
            data.get("thread"),
            _totals(data.get("totals")),
            thread_status=data.get("thread_status"),
            timer_ends_at=None if ends is None else datetime.fromisoformat(ends),
            auto_close=bool(data.get("auto_close")),
            on_screen=data.get("on_screen"),
            event_status=data.get("event_status"),
        )
    return Ping()


def merge_counts(older: Counts, newer: Counts) -> Counts:
    """Counts are absolute, so the newer value of each answer, and the newer totals, win."""
    return Counts(
        thread=newer.thread,
        totals=newer.totals or older.totals,
        answers={**older.answers, **newer.answers},
        participants=newer.participants if newer.participants is not None else older.participants,
        event_id=newer.event_id if newer.event_id is not None else older.event_id,
    )

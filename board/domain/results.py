"""Results as the API and the screen give them: counts per segment and bridge answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from board.domain import answers as answers_domain
from board.domain.answers import Sort
from board.domain.context import BoardContext
from board.domain.errors import NotFound
from board.domain.events import event_view, thread_view
from board.domain.tally import recount_answers
from board.domain.views import AnswerView, ThreadView
from board.models import Event, EventStatus, Thread, ThreadStatus

BRIDGE_APPROVAL = 0.6
BRIDGE_MIN_SEGMENTS = 2
SEGMENT_MIN_VOTERS = 5
"""A segment's counts on an answer are published only once this many of its people voted on it,
so that nobody's vote can be read from them (one vote is one person: a participant votes once)."""


def published_segment(counts: tuple[int, int] | None) -> tuple[int, int] | None:
    """A segment's (agree, disagree) on an answer, or None while too few of its people voted."""
    if counts is None or counts[0] + counts[1] < SEGMENT_MIN_VOTERS:
        return None
    return counts


def is_bridge(segments: Mapping[str, tuple[int, int]]) -> bool:
    """At least 60 % approval in every published segment, and at least two published segments."""
    counted = [c for c in map(published_segment, segments.values()) if c is not None]
    return len(counted) >= BRIDGE_MIN_SEGMENTS and all(a / (a + d) >= BRIDGE_APPROVAL for a, d in counted)


def segment_counts(
    names: tuple[str, ...], segments: Mapping[str, tuple[int, int]]
) -> dict[str, dict[str, int] | None]:
    """Every segment of the event, with its counts or None while they are not published."""
    shown = {name: published_segment(segments.get(name)) for name in names}
    return {name: None if c is None else {"agree": c[0], "disagree": c[1]} for name, c in shown.items()}


@dataclass(frozen=True)
class AnswerResult:
    id: int
    body: str
    agree: int
    disagree: int
    score: int
    pinned: bool
    bridge: bool
    segments: dict[str, dict[str, int] | None]
    merged: list[str]
    created_at: datetime


async def public_thread(ctx: BoardContext, thread_id: int) -> tuple[ThreadView, tuple[str, ...]]:
    """A thread anyone may read, with its event's segments; NotFound for a draft (thread or event) or an
    unknown id."""
    async with ctx.db.session() as session:
        row = (
            await session.exec(
                select(Thread, Event)
                .join(Event, col(Event.id) == col(Thread.event_id))
                .where(Thread.id == thread_id)
            )
        ).first()
    if row is None or row[0].status == ThreadStatus.DRAFT or row[1].status == EventStatus.DRAFT:
        raise NotFound("Ce fil de discussion n'existe pas.")
    return thread_view(row[0]), event_view(row[1]).segments


async def answer_results(
    ctx: BoardContext, thread: ThreadView, segments: tuple[str, ...], *, sort: Sort = "top", limit: int = 100
) -> list[AnswerResult]:
    listed = await answers_domain.list_answers(ctx, thread, sort=sort, limit=limit)
    return await _with_segments(ctx, listed, segments)


async def _with_segments(
    ctx: BoardContext, listed: list[AnswerView], segments: tuple[str, ...]
) -> list[AnswerResult]:
    """Answers with their per-segment counts, recounted from the votes of these answers only."""
    async with ctx.db.connect() as conn:
        counts = await recount_answers(conn, [a.id for a in listed])
    results = []
    for a in listed:
        segs = counts[a.id].segments
        results.append(
            AnswerResult(
                id=a.id,
                body=a.body,
                agree=a.agree,
                disagree=a.disagree,
                score=a.score,
                pinned=a.pinned,
                bridge=is_bridge(segs),
                segments=segment_counts(segments, segs),
                merged=list(a.merged),
                created_at=a.created_at,
            )
        )
    return results


def _shown(counts: dict[str, int] | None) -> tuple[int, int]:
    return (0, 0) if counts is None else (counts["agree"], counts["disagree"])


@dataclass(frozen=True)
class SegmentBar:
    """A segment's approval on the screen; zero votes when its counts are not published."""

    name: str
    agree: int
    disagree: int

    @property
    def votes(self) -> int:
        return self.agree + self.disagree

    @property
    def approval(self) -> int | None:
        """Approval in percent, or None before anyone of the segment voted."""
        return round(100 * self.agree / self.votes) if self.votes else None

    @property
    def counted(self) -> bool:
        return self.votes >= SEGMENT_MIN_VOTERS


@dataclass(frozen=True)
class ScreenAnswer:
    id: int
    rank: int
    body: str
    agree: int
    disagree: int
    pinned: bool
    bridge: bool
    merged: int
    segments: tuple[SegmentBar, ...]
    agree_width: int
    disagree_width: int

    @property
    def score(self) -> int:
        return self.agree - self.disagree

    @property
    def approval(self) -> int | None:
        total = self.agree + self.disagree
        return round(100 * self.agree / total) if total else None


@dataclass(frozen=True)
class ThreadResults:
    thread: ThreadView
    answers: list[ScreenAnswer]
    only: str | None = None


SHOW_FILTERS = ("pinned", "bridges")


async def thread_results(
    ctx: BoardContext,
    thread: ThreadView,
    segments: tuple[str, ...],
    *,
    limit: int = 8,
    only: str | None = None,
) -> ThreadResults:
    """The top answers as the projector shows them: bars scaled to the most-voted answer shown.

    Only the answers shown are recounted by segment, except for bridges, which need every answer's.
    Pinned answers come first in the ranking, so the first `limit` hold every pinned one shown.
    """
    listed = await answers_domain.list_answers(ctx, thread, limit=500 if only == "bridges" else limit)
    if only == "pinned":
        listed = [a for a in listed if a.pinned]
    ranked = await _with_segments(ctx, listed, segments)
    if only == "bridges":
        ranked = [r for r in ranked if r.bridge]
    shown = ranked[:limit]
    widest = max((r.agree + r.disagree for r in shown), default=0) or 1
    answers = [
        ScreenAnswer(
            id=r.id,
            rank=rank,
            body=r.body,
            agree=r.agree,
            disagree=r.disagree,
            pinned=r.pinned,
            bridge=r.bridge,
            merged=len(r.merged),
            segments=tuple(SegmentBar(name, *(_shown(r.segments.get(name)))) for name in segments),
            agree_width=round(100 * r.agree / widest),
            disagree_width=round(100 * r.disagree / widest),
        )
        for rank, r in enumerate(shown)
    ]
    return ThreadResults(thread, answers, only if only in SHOW_FILTERS else None)

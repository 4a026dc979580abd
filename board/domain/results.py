"""Results as the API and the screen give them: counts per segment and bridge answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from board.domain import answers as answers_domain
from board.domain.answers import Sort
from board.domain.context import BoardContext
from board.domain.counts import recount_answers
from board.domain.views import ThreadView

BRIDGE_APPROVAL = 0.6
BRIDGE_MIN_VOTES = 3
BRIDGE_MIN_SEGMENTS = 2


def is_bridge(segments: Mapping[str, tuple[int, int]]) -> bool:
    """At least 60 % approval in every segment with 3 votes or more, and at least two such segments."""
    counted = [(a, d) for a, d in segments.values() if a + d >= BRIDGE_MIN_VOTES]
    return len(counted) >= BRIDGE_MIN_SEGMENTS and all(a / (a + d) >= BRIDGE_APPROVAL for a, d in counted)


@dataclass(frozen=True)
class AnswerResult:
    id: int
    body: str
    agree: int
    disagree: int
    score: int
    pinned: bool
    bridge: bool
    segments: dict[str, dict[str, int]]
    merged: list[str]
    created_at: datetime


async def answer_results(
    ctx: BoardContext, thread: ThreadView, *, sort: Sort = "top", limit: int = 100
) -> list[AnswerResult]:
    listed = await answers_domain.list_answers(ctx, thread, sort=sort, limit=limit)
    async with ctx.db.engine.connect() as conn:
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
                segments={name: {"agree": ag, "disagree": dis} for name, (ag, dis) in segs.items()},
                merged=list(a.merged),
                created_at=a.created_at,
            )
        )
    return results


@dataclass(frozen=True)
class SegmentBar:
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
        return self.votes >= BRIDGE_MIN_VOTES


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
    """The top answers as the projector shows them: bars scaled to the most-voted answer shown."""
    ranked = await answer_results(ctx, thread, sort="top", limit=500)
    if only == "pinned":
        ranked = [r for r in ranked if r.pinned]
    elif only == "bridges":
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
            segments=tuple(
                SegmentBar(
                    name,
                    r.segments.get(name, {}).get("agree", 0),
                    r.segments.get(name, {}).get("disagree", 0),
                )
                for name in segments
            ),
            agree_width=round(100 * r.agree / widest),
            disagree_width=round(100 * r.disagree / widest),
        )
        for rank, r in enumerate(shown)
    ]
    return ThreadResults(thread, answers, only if only in SHOW_FILTERS else None)

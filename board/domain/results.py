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

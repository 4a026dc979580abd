"""What the moderation console reads: the queue, each thread's answers by tab a page at a time, and the
search that finds a merge target, so that no page ever lists every answer of a large thread."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, or_
from sqlmodel import col, select

from board.domain.context import BoardContext
from board.domain.moderation import ModAnswer, answers_with_authors, mod_answers
from board.domain.views import EventView
from board.models import WITHHELD, Answer, AnswerStatus, Thread

TABS = ("pending", "published", "hidden", "pinned")
PAGE_SIZE = 50
PREVIEW = 3
FOUND_MAX = 8
QUERY_MAX = 200
NUMBER = re.compile(r"(?:n°|#|no)?\s*(\d{1,9})", re.IGNORECASE)


@dataclass(frozen=True)
class TabCounts:
    pending: int = 0
    published: int = 0
    hidden: int = 0
    pinned: int = 0

    def of(self, tab: str) -> int:
        return int(getattr(self, tab))


@dataclass(frozen=True)
class AnswerPage:
    answers: list[ModAnswer]
    total: int
    page: int
    pages: int


def clean_query(q: str | None) -> str:
    """What a moderator typed, as searched: invisible and NUL characters out, bounded."""
    text = " ".join("".join(c for c in (q or "") if c.isprintable()).split())
    return text[:QUERY_MAX]


def _in_tab(tab: str) -> list[Any]:
    if tab == "pending":
        return [Answer.status == AnswerStatus.PENDING]
    if tab == "hidden":
        return [col(Answer.status).in_(WITHHELD)]
    if tab == "pinned":
        return [Answer.status == AnswerStatus.PUBLISHED, col(Answer.pinned)]
    return [Answer.status == AnswerStatus.PUBLISHED]


def _order(tab: str) -> list[Any]:
    if tab == "pending":
        return [col(Answer.created_at), col(Answer.id)]
    if tab == "hidden":
        return [col(Answer.created_at).desc(), col(Answer.id).desc()]
    return [
        col(Answer.pinned).desc(),
        (col(Answer.agree) - col(Answer.disagree)).desc(),
        col(Answer.created_at).desc(),
        col(Answer.id).desc(),
    ]


def _matching(q: str) -> Any:
    """The text anywhere in the answer, or its number (« 12 », « #12 », « n° 12 »)."""
    number = NUMBER.fullmatch(q)
    by_text = col(Answer.body).icontains(q, autoescape=True)
    return or_(by_text, col(Answer.id) == int(number.group(1))) if number else by_text


async def tab_counts(ctx: BoardContext, thread_ids: list[int]) -> dict[int, TabCounts]:
    """Every tab of every thread given, in one grouped query."""
    if not thread_ids:
        return {}
    pinned = case((col(Answer.pinned) & (Answer.status == AnswerStatus.PUBLISHED), 1), else_=0)
    query = (
        select(Answer.thread_id, Answer.status, func.count(), func.sum(pinned))
        .where(col(Answer.thread_id).in_(thread_ids), col(Answer.merged_into).is_(None))
        .group_by(col(Answer.thread_id), col(Answer.status))
    )
    raw: dict[int, dict[str, int]] = {t: {} for t in thread_ids}
    async with ctx.db.session() as session:
        for thread_id, status, n, n_pinned in await session.exec(query):
            tab = "hidden" if status in WITHHELD else status
            counts = raw[thread_id]
            counts[tab] = counts.get(tab, 0) + int(n)
            counts["pinned"] = counts.get("pinned", 0) + int(n_pinned or 0)
    return {t: TabCounts(**{k: v for k, v in c.items() if k in TABS}) for t, c in raw.items()}


async def answer_page(
    ctx: BoardContext, event: EventView, thread_id: int, tab: str, q: str, page: int
) -> AnswerPage:
    """One page of a thread's tab, optionally narrowed to answers matching `q`."""
    where = [Thread.event_id == event.id, Answer.thread_id == thread_id, *_in_tab(tab)]
    if q:
        where.append(_matching(q))
    async with ctx.db.session() as session:
        total = (
            await session.exec(
                select(func.count())
                .select_from(Answer)
                .join(Thread, col(Thread.id) == col(Answer.thread_id))
                .where(col(Answer.merged_into).is_(None), *where)
            )
        ).one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    query = answers_with_authors().where(*where).order_by(*_order(tab))
    answers = await mod_answers(ctx, query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    return AnswerPage(answers, total, page, pages)


async def queue(ctx: BoardContext, event: EventView) -> tuple[list[ModAnswer], int]:
    """The oldest pending answers of the whole event (a page of them) and how many wait in all."""
    where = [Thread.event_id == event.id, Answer.status == AnswerStatus.PENDING]
    query = answers_with_authors().where(*where).order_by(*_order("pending")).limit(PAGE_SIZE)
    return await mod_answers(ctx, query), await pending_total(ctx, event)


async def previews(ctx: BoardContext, event: EventView, thread_ids: list[int]) -> dict[int, list[ModAnswer]]:
    """The first published answers of each thread, as the console's overview shows them."""
    shown: dict[int, list[ModAnswer]] = {}
    for thread_id in thread_ids:
        query = (
            answers_with_authors()
            .where(Thread.event_id == event.id, Answer.thread_id == thread_id, *_in_tab("published"))
            .order_by(*_order("published"))
            .limit(PREVIEW)
        )
        shown[thread_id] = await mod_answers(ctx, query)
    return shown


async def search_published(
    ctx: BoardContext, event: EventView, q: str, thread_id: int | None = None, exclude: int | None = None
) -> list[ModAnswer]:
    """Published answers of the event matching `q`, best first: the merge targets a moderator can pick."""
    if not q:
        return []
    where = [Thread.event_id == event.id, *_in_tab("published"), _matching(q)]
    if thread_id is not None:
        where.append(Answer.thread_id == thread_id)
    if exclude is not None:
        where.append(Answer.id != exclude)
    query = answers_with_authors().where(*where).order_by(*_order("published")).limit(FOUND_MAX)
    return await mod_answers(ctx, query)


async def one_answer(ctx: BoardContext, event: EventView, answer_id: int) -> ModAnswer | None:
    found = await mod_answers(
        ctx, answers_with_authors().where(Thread.event_id == event.id, Answer.id == answer_id)
    )
    return found[0] if found else None


async def pending_total(ctx: BoardContext, event: EventView) -> int:
    async with ctx.db.session() as session:
        return (
            await session.exec(
                select(func.count())
                .select_from(Answer)
                .join(Thread, col(Thread.id) == col(Answer.thread_id))
                .where(
                    Thread.event_id == event.id,
                    Answer.status == AnswerStatus.PENDING,
                    col(Answer.merged_into).is_(None),
                )
            )
        ).one()

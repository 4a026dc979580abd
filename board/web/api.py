"""The read-only JSON API: published content only, never a participant id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from litestar import Controller, Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery

from board.domain import counts, events, results
from board.domain.results import AnswerResult
from board.models import EventStatus
from board.web.deps import Ctx, Id


@dataclass(frozen=True)
class ThreadSummary:
    id: int
    prompt: str
    status: str
    answers: int
    votes: int
    timer_ends_at: datetime | None


@dataclass(frozen=True)
class ApiError:
    status_code: int
    detail: str


NOT_FOUND = {404: ResponseSpec(data_container=ApiError, description="Unknown event or thread")}


@dataclass(frozen=True)
class EventSummary:
    slug: str
    title: str
    status: str
    code: str | None
    participants: int
    threads: list[ThreadSummary]


class ApiController(Controller):
    path = "/api"
    tags = ["public"]  # noqa: RUF012

    @get(
        "/events/{slug:str}",
        name="api_event",
        summary="An event and its public threads, with counts",
        responses=NOT_FOUND,
    )
    async def event(self, request: Request, ctx: Ctx, slug: FromPath[str]) -> EventSummary:
        event = await events.get_event(ctx, slug)
        threads = await counts.with_counts(ctx, await events.list_threads(ctx, event.id))
        return EventSummary(
            slug=event.slug,
            title=event.title,
            status=event.status,
            code=event.code if event.status == EventStatus.OPEN else None,
            participants=await counts.participants(ctx, event.id),
            threads=[
                ThreadSummary(t.id, t.prompt, t.status, t.counts.answers, t.counts.votes, t.timer_ends_at)
                for t in threads
            ],
        )

    @get(
        "/threads/{thread_id:int}/answers",
        name="api_answers",
        summary="A thread's published answers",
        responses=NOT_FOUND,
    )
    async def answers(
        self,
        request: Request,
        ctx: Ctx,
        thread_id: Id,
        sort: FromQuery[str] = "top",
        limit: FromQuery[int] = 50,
    ) -> list[AnswerResult]:
        thread, segments = await results.public_thread(ctx, thread_id)
        order: results.Sort = "new" if sort == "new" else "top"
        return await results.answer_results(ctx, thread, segments, sort=order, limit=max(1, min(limit, 500)))

"""The read-only JSON API: published content only, never a participant id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Controller, Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery

from board.domain import counts, events, results
from board.domain.results import AnswerResult
from board.models import EventStatus
from board.web.deps import Ctx, Id, Opinions


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
class OpinionGroup:
    id: int
    size: int


@dataclass(frozen=True)
class AnswerOpinion:
    id: int
    consensus: float
    """Group-informed consensus: the product of every group's approval, high only when all approve."""
    approval: dict[str, float | None]
    """Group id → share of the group's votes that agree (Laplace-corrected); null before the group voted."""
    representative_of: int | None
    """The group this answer sets apart: agreed within it markedly more than by the rest of the room."""
    bridge: bool
    """« Passerelle » by opinion groups: at least 60 % approval in every group (at least two groups)."""


@dataclass(frozen=True)
class ThreadOpinions:
    computed_at: str | None
    """When the groups were computed; null until a thread's first computation ends (ask again shortly)."""
    participants: int
    groups: list[OpinionGroup]
    """Groups of at least five people; members of smaller groups are on the map without a group."""
    answers: list[AnswerOpinion]
    map: list[list[float | int | None]]
    """[x, y, group id or null] per participant who voted, in no particular person's order."""

    @classmethod
    def of(cls, data: dict[str, Any]) -> ThreadOpinions:
        return cls(
            computed_at=data["computed_at"],
            participants=data["participants"],
            groups=[OpinionGroup(**g) for g in data["groups"]],
            answers=[AnswerOpinion(**a) for a in data["answers"]],
            map=data["map"],
        )


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

    @get(
        "/threads/{thread_id:int}/opinions",
        name="api_opinions",
        summary="A thread's opinion groups, found from the votes alone",
        description=(
            "Participants with similar votes form opinion groups (PCA of the vote matrix, k-means, 2 to 5 "
            "groups chosen by silhouette, as Pol.is does). Recomputed at most every few seconds while votes "
            "arrive; `computed_at` says when. No participant id; groups under five people are not published."
        ),
        responses=NOT_FOUND,
    )
    async def opinions(self, request: Request, ctx: Ctx, opinions: Opinions, thread_id: Id) -> ThreadOpinions:
        thread, _ = await results.public_thread(ctx, thread_id)
        [thread] = await counts.with_counts(ctx, [thread])
        data = await opinions.latest(thread, wait=True)
        if data is None:
            return ThreadOpinions(computed_at=None, participants=0, groups=[], answers=[], map=[])
        return ThreadOpinions.of(data)

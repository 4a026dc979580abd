"""Reading events and their threads."""

from __future__ import annotations

from sqlmodel import col, select

from board.domain.context import BoardContext
from board.domain.errors import NotFound
from board.domain.views import EventView, ThreadView
from board.models import Event, Thread


def event_view(event: Event) -> EventView:
    assert event.id is not None
    return EventView(
        id=event.id,
        slug=event.slug,
        title=event.title,
        place=event.place,
        date=event.date,
        organisers=event.organisers,
        description=event.description,
        moderation=event.moderation,
        voting=event.voting,
        segments=tuple(event.segments or ()),
        screen_thread_id=event.screen_thread_id,
    )


def thread_view(thread: Thread) -> ThreadView:
    assert thread.id is not None
    return ThreadView(
        id=thread.id,
        event_id=thread.event_id,
        prompt=thread.prompt,
        position=thread.position,
        status=thread.status,
    )


async def list_events(ctx: BoardContext) -> list[EventView]:
    async with ctx.db.session() as session:
        rows = await session.exec(select(Event).order_by(col(Event.created_at).desc()))
        return [event_view(e) for e in rows]


async def get_event(ctx: BoardContext, slug: str) -> EventView:
    async with ctx.db.session() as session:
        event = (await session.exec(select(Event).where(Event.slug == slug))).first()
    if event is None:
        raise NotFound("Cet événement n'existe pas.")
    return event_view(event)


async def list_threads(ctx: BoardContext, event_id: int, *, public: bool = True) -> list[ThreadView]:
    """The event's threads in order; participants do not see drafts."""
    query = select(Thread).where(Thread.event_id == event_id)
    if public:
        query = query.where(Thread.status != "draft")
    async with ctx.db.session() as session:
        rows = await session.exec(query.order_by(col(Thread.position), col(Thread.id)))
        return [thread_view(t) for t in rows]


async def get_thread(
    ctx: BoardContext, event: EventView, thread_id: int, *, public: bool = True
) -> ThreadView:
    async with ctx.db.session() as session:
        thread = await session.get(Thread, thread_id)
    if thread is None or thread.event_id != event.id or (public and thread.status == "draft"):
        raise NotFound("Ce fil de discussion n'existe pas.")
    return thread_view(thread)

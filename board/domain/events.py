"""Reading events and their threads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from board.domain.context import BoardContext
from board.domain.errors import NotFound
from board.domain.views import EventView, Logo, ThreadView
from board.models import Event, EventStatus, Thread, ThreadStatus


def event_view(event: Event | Row[Any]) -> EventView:
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
        status=event.status,
        retention_days=event.retention_days,
        closed_at=event.closed_at,
        responsible=event.responsible,
        contact=event.contact,
        created_at=event.created_at,
        code=event.code,
        accent=event.accent or "",
        logo=_logo(event),
    )


def _logo(event: Event | Row[Any]) -> Logo | None:
    if not (event.logo_version and event.logo_width and event.logo_height):
        return None
    return Logo(event.slug, event.logo_version, event.logo_width, event.logo_height)


def thread_view(thread: Thread | Row[Any]) -> ThreadView:
    assert thread.id is not None
    return ThreadView(
        id=thread.id,
        event_id=thread.event_id,
        prompt=thread.prompt,
        position=thread.position,
        status=thread.status,
        timer_ends_at=thread.timer_ends_at,
        timer_auto_close=bool(thread.timer_auto_close),
    )


async def list_events(ctx: BoardContext, *, public: bool = True) -> list[EventView]:
    """Newest first; participants see every event but drafts."""
    query = select(Event).order_by(col(Event.created_at).desc(), col(Event.id).desc())
    if public:
        query = query.where(Event.status != EventStatus.DRAFT)
    async with ctx.db.session() as session:
        return [event_view(e) for e in await session.exec(query)]


_EVENTS = Event.__table__  # type: ignore[attr-defined]
_THREADS = Thread.__table__  # type: ignore[attr-defined]
_EVENT_BY_SLUG = sa_select(_EVENTS).where(_EVENTS.c.slug == bindparam("slug"))
_ALL_THREADS = (
    sa_select(_THREADS)
    .where(_THREADS.c.event_id == bindparam("event"))
    .order_by(_THREADS.c.position, _THREADS.c.id)
)
_PUBLIC_THREADS = _ALL_THREADS.where(_THREADS.c.status != ThreadStatus.DRAFT)
_THREAD_BY_ID = sa_select(_THREADS).where(_THREADS.c.id == bindparam("thread"))


async def get_event(ctx: BoardContext, slug: str, *, public: bool = True) -> EventView:
    """Read on every participant request: plain rows, no ORM objects.

    A draft is the organisers' alone: to the public it does not exist. No slug holds NUL, and
    PostgreSQL would reject it as a parameter: such a slug is simply unknown.
    """
    if "\x00" in slug:
        raise NotFound("Cet événement n'existe pas.")
    async with ctx.db.connect() as conn:
        event = (await conn.execute(_EVENT_BY_SLUG, {"slug": slug})).first()
    if event is None or (public and event.status == EventStatus.DRAFT):
        raise NotFound("Cet événement n'existe pas.")
    return event_view(event)


async def list_threads(ctx: BoardContext, event_id: int, *, public: bool = True) -> list[ThreadView]:
    """The event's threads in order; participants do not see drafts."""
    async with ctx.db.connect() as conn:
        rows = await conn.execute(_PUBLIC_THREADS if public else _ALL_THREADS, {"event": event_id})
        return [thread_view(t) for t in rows]


async def get_thread(
    ctx: BoardContext, event: EventView, thread_id: int, *, public: bool = True
) -> ThreadView:
    async with ctx.db.connect() as conn:
        thread = (await conn.execute(_THREAD_BY_ID, {"thread": thread_id})).first()
    if thread is None or thread.event_id != event.id or (public and thread.status == ThreadStatus.DRAFT):
        raise NotFound("Ce fil de discussion n'existe pas.")
    return thread_view(thread)

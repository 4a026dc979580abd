"""What organisers do with whole events: create, edit, open and close them, and see them all at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from board.domain import record as public_record
from board.domain.accounts import AccountView
from board.domain.audit import Actor, record
from board.domain.context import BoardContext
from board.domain.errors import Conflict, InvalidFields, NotFound
from board.domain.event_spec import EventSpec, read_spec, read_status
from board.domain.events import event_view, get_event
from board.domain.join_codes import give_code
from board.domain.lifecycle import ARCHIVED, closed_at_after
from board.domain.room import announce_event_status
from board.domain.views import EventView
from board.models import Answer, Event, EventRole, EventStatus, Participant, Thread, ThreadStatus, utcnow

SLUG_TAKEN = "L'adresse « {slug} » est déjà prise par un autre événement."
SLUG_FIXED = "L'adresse d'un événement ne change plus une fois ouvert : téléphones et QR code s'en servent."


@dataclass(frozen=True)
class EventOverview:
    """One line of the organisers' overview."""

    event: EventView
    role: str
    participants: int
    answers: int


def _fill(event: Event, spec: EventSpec) -> None:
    event.slug = spec.slug
    event.title = spec.title
    event.place = spec.place
    event.date = spec.date
    event.organisers = spec.organisers
    event.description = spec.description
    event.segments = list(spec.segments)
    event.moderation = spec.moderation
    event.voting = spec.voting
    event.retention_days = spec.retention_days
    event.responsible = spec.responsible
    event.contact = spec.contact
    event.accent = spec.accent


async def _slug_taken(session: AsyncSession, slug: str) -> bool:
    return (await session.exec(select(Event.id).where(Event.slug == slug))).first() is not None


async def _flush(session: AsyncSession, slug: str) -> None:
    """Two organisers may claim the same slug at once: the unique index decides, as a 409."""
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(SLUG_TAKEN, slug=slug) from None


async def create_event(ctx: BoardContext, actor: Actor, spec: EventSpec) -> EventView:
    """A new event, as a draft with its first threads: participants see nothing until it opens."""
    async with ctx.db.writing() as session:
        if await _slug_taken(session, spec.slug):
            raise Conflict(SLUG_TAKEN, slug=spec.slug)
        event = Event(slug=spec.slug, title=spec.title, status=EventStatus.DRAFT)
        _fill(event, spec)
        session.add(event)
        await _flush(session, spec.slug)
        assert event.id is not None
        threads = [
            Thread(event_id=event.id, prompt=t.prompt, position=position, status=t.status)
            for position, t in enumerate(spec.threads, start=1)
        ]
        session.add_all(threads)
        await session.flush()
        event.screen_thread_id = next((t.id for t in threads if t.status == ThreadStatus.OPEN), None)
        session.add(event)
        record(session, event.id, actor, "event-create", f"event {spec.slug}")
        await session.commit()
    return event_view(event)


async def update_event(
    ctx: BoardContext, actor: Actor, slug: str, fields: Mapping[str, object], status: object
) -> EventView:
    """Change an event's description and its state; an archived event only changes state.

    Every problem with the form is reported at once. Leaving `closed` or `archived` forgets when it
    closed; closing sets it.
    """
    current = await get_event(ctx, slug, public=False)
    problems: dict[str, tuple[str, dict[str, object]]] = {}
    try:
        wanted = read_status(status)
    except InvalidFields as exc:
        problems.update(exc.fields)
        wanted = current.status
    spec = None
    if current.status != EventStatus.ARCHIVED:
        try:
            spec = read_spec(fields)
        except InvalidFields as exc:
            problems.update(exc.fields)
        if spec is not None and spec.slug != slug and current.status != EventStatus.DRAFT:
            problems["slug"] = (SLUG_FIXED, {})
    if problems:
        raise InvalidFields(problems)
    async with ctx.db.writing() as session:
        event = (await session.exec(select(Event).where(Event.slug == slug).with_for_update())).first()
        if event is None or event.id is None:
            raise NotFound("Cet événement n'existe pas.")
        was = event.status
        if was == EventStatus.ARCHIVED and (spec is not None or wanted == EventStatus.ARCHIVED):
            raise Conflict(ARCHIVED)
        if spec is not None:
            if spec.slug != event.slug and was != EventStatus.DRAFT:
                raise InvalidFields({"slug": (SLUG_FIXED, {})})
            if spec.slug != event.slug and await _slug_taken(session, spec.slug):
                raise Conflict(SLUG_TAKEN, slug=spec.slug)
            _fill(event, spec)
        event.status = wanted
        event.closed_at = closed_at_after(wanted, event.closed_at, utcnow())
        session.add(event)
        await _flush(session, event.slug)
        await give_code(session, event.id)
        if wanted != was:
            await (await session.connection()).run_sync(public_record.event_change, event.id, wanted)
        action = "event-edit" if wanted == was else f"event-{wanted}"
        record(session, event.id, actor, action, f"event {event.slug}")
        thread_ids = list(await session.exec(select(Thread.id).where(Thread.event_id == event.id)))
        await session.commit()
    if wanted != was:
        announce_event_status(ctx, event.slug, [t for t in thread_ids if t is not None], wanted)
    return event_view(event)


async def overview(ctx: BoardContext, account: AccountView) -> list[EventOverview]:
    """Every event for an admin; for other staff, the events where they hold a role. Newest first."""
    query = select(Event).order_by(col(Event.created_at).desc(), col(Event.id).desc())
    roles: dict[int, str] = {}
    async with ctx.db.session() as session:
        if not account.is_admin:
            held = await session.exec(
                select(EventRole.event_id, EventRole.role).where(EventRole.account_id == account.id)
            )
            roles = dict(held.all())
            query = query.where(col(Event.id).in_(list(roles)))
        events = [event_view(e) for e in await session.exec(query)]
        ids = [e.id for e in events]
        people = dict(
            (
                await session.exec(
                    select(Participant.event_id, func.count())
                    .where(col(Participant.event_id).in_(ids))
                    .group_by(col(Participant.event_id))
                )
            ).all()
        )
        answers = dict(
            (
                await session.exec(
                    select(Thread.event_id, func.count())
                    .join(Answer, col(Answer.thread_id) == col(Thread.id))
                    .where(col(Thread.event_id).in_(ids))
                    .group_by(col(Thread.event_id))
                )
            ).all()
        )
    return [
        EventOverview(e, roles.get(e.id, "admin"), int(people.get(e.id, 0)), int(answers.get(e.id, 0)))
        for e in events
    ]

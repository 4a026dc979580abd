"""Managing threads: create, edit, open, close, reorder and put on the projector."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select

from board.domain import record as public_record
from board.domain.answers import has_visible
from board.domain.audit import Actor, record
from board.domain.context import BoardContext
from board.domain.errors import Conflict, Invalid, NotFound
from board.domain.events import thread_view
from board.domain.room import announce_thread
from board.domain.timers import Timer
from board.domain.views import EventView, ThreadView
from board.models import Event, Thread, ThreadStatus

PROMPT_MAX = 500
THREAD_ACTIONS = ("open", "close", "present", "up", "down", "edit", "timer")
FACILITATOR_ACTIONS = ("open", "close", "present", "up", "down", "timer")


def clean_prompt(prompt: str | None) -> str:
    """NUL cannot be stored on PostgreSQL: refused with a message, like a prompt of invisible characters."""
    if "\x00" in (prompt or ""):
        raise Invalid("La question contient un caractère nul (U+0000) : retirez-le puis réessayez.")
    text = " ".join((prompt or "").split())
    if not has_visible(text):
        raise Invalid("La question est vide.")
    if len(text) > PROMPT_MAX:
        raise Invalid(
            "La question fait {n} caractères ; {most} au plus sont acceptés.", n=len(text), most=PROMPT_MAX
        )
    return text


async def create_thread(ctx: BoardContext, event: EventView, actor: Actor, prompt: str) -> ThreadView:
    """A new thread, as a draft at the end of the list: participants see it once it is opened."""
    text = clean_prompt(prompt)
    async with ctx.db.writing() as session:
        last = (
            await session.exec(select(func.max(Thread.position)).where(Thread.event_id == event.id))
        ).one()
        thread = Thread(event_id=event.id, prompt=text, position=(last or 0) + 1, status=ThreadStatus.DRAFT)
        session.add(thread)
        await session.flush()
        record(session, event.id, actor, "create-thread", f"thread {thread.id}")
        state = thread_view(thread)
        await session.commit()
    announce_thread(ctx, event.slug, state, event.screen_thread_id, "threads")
    return state


async def act_on_thread(
    ctx: BoardContext,
    event: EventView,
    actor: Actor,
    thread_id: int,
    action: str,
    prompt: str | None = None,
    timer: Timer | None = None,
) -> None:
    """`timer` is required by the `timer` action: a countdown from now, or none to stop it."""
    if action not in THREAD_ACTIONS:
        raise Invalid("Action inconnue : choisissez parmi {choices}.", choices=", ".join(THREAD_ACTIONS))
    text = clean_prompt(prompt) if action == "edit" else None
    if action == "timer" and timer is None:
        raise Invalid("Indiquez la durée du minuteur en secondes (seconds).")
    reason = None
    previous: int | None = None
    async with ctx.db.writing() as session:
        thread = await session.get(Thread, thread_id)
        if thread is None or thread.event_id != event.id:
            raise NotFound("Ce fil de discussion n'existe pas.")
        if action == "timer" and timer is not None:
            if timer.seconds and thread.status != ThreadStatus.OPEN:
                raise Conflict("Ce fil n'est pas ouvert : ouvrez-le avant de lancer un minuteur.")
            thread.timer_ends_at = timer.ends_at()
            thread.timer_auto_close = bool(timer.seconds) and timer.auto_close
            reason = timer.describe()
        elif action == "edit" and text is not None:
            thread.prompt = text
        elif action in ("open", "close"):
            was = thread.status
            thread.status = ThreadStatus.OPEN if action == "open" else ThreadStatus.CLOSED
            thread.timer_ends_at, thread.timer_auto_close = None, False
            if thread.status != was:
                session.add(thread)
                await session.flush()
                await (await session.connection()).run_sync(
                    public_record.thread_change, event.id, thread, thread.status
                )
        elif action == "present":
            row = await session.get(Event, event.id)
            assert row is not None
            previous = row.screen_thread_id if row.screen_thread_id != thread_id else None
            row.screen_thread_id = thread_id
            if thread.status == ThreadStatus.DRAFT:
                thread.status = ThreadStatus.OPEN
                await (await session.connection()).run_sync(
                    public_record.thread_change, event.id, thread, thread.status
                )
            session.add(row)
        else:
            siblings = list(
                await session.exec(
                    select(Thread)
                    .where(Thread.event_id == event.id)
                    .order_by(col(Thread.position), col(Thread.id))
                )
            )
            index = next(i for i, t in enumerate(siblings) if t.id == thread_id)
            other = index - 1 if action == "up" else index + 1
            if 0 <= other < len(siblings):
                siblings[index], siblings[other] = siblings[other], siblings[index]
            for position, sibling in enumerate(siblings, start=1):
                sibling.position = position
                session.add(sibling)
        session.add(thread)
        record(session, event.id, actor, f"thread-{action}", f"thread {thread_id}", reason)
        shown = await session.get(Event, event.id)
        on_screen = shown.screen_thread_id if shown is not None else None
        state = thread_view(thread)
        await session.commit()
    kind = "timer" if action == "timer" else "present" if action == "present" else "threads"
    announce_thread(ctx, event.slug, state, on_screen, kind, also=previous)

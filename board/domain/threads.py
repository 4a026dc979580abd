"""Managing threads: create, edit, open, close, reorder and put on the projector."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select

from board.domain.answers import has_visible
from board.domain.audit import Actor, record
from board.domain.context import BoardContext
from board.domain.errors import Invalid, NotFound
from board.domain.events import thread_view
from board.domain.views import EventView, ThreadView
from board.live.channels import event_channel, mod_channel, thread_channel
from board.live.messages import Status
from board.models import Event, Thread, ThreadStatus

PROMPT_MAX = 500
THREAD_ACTIONS = ("open", "close", "present", "up", "down", "edit")
FACILITATOR_ACTIONS = ("open", "close", "present", "up", "down")


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
        await session.commit()
    _publish(ctx, event, thread.id or 0, "threads")
    return thread_view(thread)


async def act_on_thread(
    ctx: BoardContext, event: EventView, actor: Actor, thread_id: int, action: str, prompt: str | None = None
) -> None:
    if action not in THREAD_ACTIONS:
        raise Invalid("Action inconnue : choisissez parmi {choices}.", choices=", ".join(THREAD_ACTIONS))
    text = clean_prompt(prompt) if action == "edit" else None
    async with ctx.db.writing() as session:
        thread = await session.get(Thread, thread_id)
        if thread is None or thread.event_id != event.id:
            raise NotFound("Ce fil de discussion n'existe pas.")
        if action == "edit" and text is not None:
            thread.prompt = text
        elif action in ("open", "close"):
            thread.status = ThreadStatus.OPEN if action == "open" else ThreadStatus.CLOSED
        elif action == "present":
            row = await session.get(Event, event.id)
            assert row is not None
            row.screen_thread_id = thread_id
            if thread.status == ThreadStatus.DRAFT:
                thread.status = ThreadStatus.OPEN
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
        record(session, event.id, actor, f"thread-{action}", f"thread {thread_id}")
        await session.commit()
    _publish(ctx, event, thread_id, "present" if action == "present" else "threads")


def _publish(ctx: BoardContext, event: EventView, thread_id: int, status: str) -> None:
    ctx.live.channels.send(
        Status(status, thread_id),
        [thread_channel(thread_id), event_channel(event.slug), mod_channel(event.slug)],
    )

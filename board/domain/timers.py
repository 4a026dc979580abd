"""Thread timers: a facilitator's countdown, and the thread closed at zero when asked, by the server.

The deadline is stored on the thread, so a reload, a second projector or a restarted worker all see the
same countdown; every worker looks for due timers, and a conditional update lets one close each thread.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select

from board.domain import record as public_record
from board.domain.context import BoardContext
from board.domain.errors import Invalid
from board.domain.events import event_view, thread_view
from board.domain.room import announce_thread
from board.models import AuditEntry, Event, Thread, ThreadStatus, utcnow

log = logging.getLogger(__name__)

MAX_SECONDS = 3 * 60 * 60
LOOK_EVERY = 1.0
"""Seconds between two looks for due timers: also the bound on how late a thread closes after zero."""
TIMER_ACTOR = "minuteur"


@dataclass(frozen=True)
class Timer:
    """A countdown of `seconds` from when it is set; 0 stops it."""

    seconds: int
    auto_close: bool = False

    def ends_at(self, now: datetime | None = None) -> datetime | None:
        return None if self.seconds == 0 else (now or utcnow()) + timedelta(seconds=self.seconds)

    def describe(self) -> str:
        if self.seconds == 0:
            return "stop"
        return f"{self.seconds} s" + (", auto-close" if self.auto_close else "")


def parse_timer(seconds: object, auto_close: object = None) -> Timer:
    """The form's `seconds` (0 stops) and `auto_close` (1 closes the thread at zero)."""
    raw = str(seconds if seconds is not None else "").strip()
    if not raw.isascii() or not raw.isdigit():
        raise Invalid("La durée du minuteur (seconds) doit être un nombre entier de secondes.")
    value = int(raw)
    if value > MAX_SECONDS:
        raise Invalid("Le minuteur dure au plus {most} secondes.", most=MAX_SECONDS)
    return Timer(value, str(auto_close or "").strip().lower() in ("1", "true", "on", "yes"))


_DUE = (
    select(Thread.id, Thread.timer_ends_at)
    .where(col(Thread.timer_auto_close), col(Thread.timer_ends_at).is_not(None))
    .where(Thread.status == ThreadStatus.OPEN)
)


async def close_due(ctx: BoardContext, now: datetime | None = None) -> float | None:
    """Close every thread whose auto-closing timer has run out; returns the seconds to the next deadline."""
    now = now or utcnow()
    async with ctx.db.session() as session:
        rows = list(await session.exec(_DUE))
    upcoming: list[float] = []
    for thread_id, ends in rows:
        if thread_id is None or ends is None:
            continue
        if ends <= now:
            await _close(ctx, thread_id, ends)
        else:
            upcoming.append((ends - now).total_seconds())
    return min(upcoming, default=None)


async def _close(ctx: BoardContext, thread_id: int, ends: datetime) -> None:
    """Only the worker whose update still finds the timer running closes it, and announces it once."""
    async with ctx.db.writing() as session:
        closed = await (await session.connection()).execute(
            update(Thread)
            .where(col(Thread.id) == thread_id, col(Thread.status) == ThreadStatus.OPEN)
            .where(col(Thread.timer_auto_close), col(Thread.timer_ends_at) == ends)
            .values(status=ThreadStatus.CLOSED, timer_ends_at=None, timer_auto_close=False)
        )
        if closed.rowcount != 1:
            await session.rollback()
            return
        thread = await session.get(Thread, thread_id)
        assert thread is not None
        await session.refresh(thread)
        event = await session.get(Event, thread.event_id)
        assert event is not None
        session.add(
            AuditEntry(
                event_id=event.id, actor=TIMER_ACTOR, action="thread-close", target=f"thread {thread_id}"
            )
        )
        assert event.id is not None
        await (await session.connection()).run_sync(
            public_record.thread_change, event.id, thread, ThreadStatus.CLOSED
        )
        state, where = thread_view(thread), event_view(event)
        await session.commit()
    announce_thread(ctx, where.slug, state, where.screen_thread_id, "threads")


async def close_timers_forever(ctx: BoardContext) -> None:
    """Runs in every worker: a thread closes at zero even when no page is open."""
    while True:
        try:
            wait = await close_due(ctx)
        except Exception:
            log.warning("closing due timers failed; will try again", exc_info=True)
            wait = None
        await asyncio.sleep(LOOK_EVERY if wait is None else min(LOOK_EVERY, max(wait, 0.02)))

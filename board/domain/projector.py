"""What projectors show, the same for every screen: read once per coalescing interval and shared.

A hall may run several screens, each redrawing on every live message; these reads go through
`ctx.shared`, so the database sees one read per thread and interval in each worker, however many
screens are open, and no screen is shown data older than the message that made it redraw.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from board.domain import counts, events, results, words
from board.domain.context import BoardContext
from board.domain.errors import NotFound
from board.domain.results import ThreadResults
from board.domain.views import EventView, ThreadView
from board.domain.words import Word

T = TypeVar("T")
SHOWN_ANSWERS = 16
"""Sent to the screen, which hides, whole, those that do not fit its height."""


@dataclass(frozen=True)
class ScreenState:
    """The event, its public threads with their counts, the thread to show and the people taking part."""

    event: EventView
    threads: list[ThreadView]
    thread: ThreadView
    participants: int


def _shared(ctx: BoardContext, key: tuple[object, ...], compute: Callable[[], Awaitable[T]]) -> Awaitable[T]:
    """Shared by every screen that asks meanwhile, and read on one connection of its own."""

    async def on_one_connection() -> T:
        async with ctx.db.one_connection():
            return await compute()

    return ctx.shared.read(key, on_one_connection)


async def _state(ctx: BoardContext, slug: str, thread_id: int | None) -> ScreenState:
    event = await events.get_event(ctx, slug)
    listed = await counts.with_counts(ctx, await events.list_threads(ctx, event.id))
    if not listed:
        raise NotFound("Cet événement n'a pas encore de question.")
    wanted = thread_id if thread_id is not None else event.screen_thread_id
    thread = next((t for t in listed if t.id == wanted), None)
    if thread is None:
        if thread_id is not None:
            raise NotFound("Ce fil de discussion n'existe pas.")
        thread = next((t for t in listed if t.is_open), listed[0])
    return ScreenState(event, listed, thread, await counts.participants(ctx, event.id))


async def screen_state(ctx: BoardContext, slug: str, thread_id: int | None = None) -> ScreenState:
    """The state of the event's screen: the thread on screen, or the one asked for."""
    if "\x00" in slug:
        raise NotFound("Cet événement n'existe pas.")
    return await _shared(ctx, ("state", slug, thread_id), lambda: _state(ctx, slug, thread_id))


async def screen_results(ctx: BoardContext, state: ScreenState, only: str | None) -> ThreadResults:
    """The thread's top answers as bars, all of them or only the pinned or bridge ones."""
    thread, segments = state.thread, state.event.segments
    return await _shared(
        ctx,
        ("results", thread.id, only),
        lambda: results.thread_results(ctx, thread, segments, limit=SHOWN_ANSWERS, only=only),
    )


async def screen_words(ctx: BoardContext, state: ScreenState) -> list[Word]:
    """The word cloud of the thread's published answers."""
    thread_id = state.thread.id
    return await _shared(ctx, ("words", thread_id), lambda: words.thread_words(ctx, thread_id))

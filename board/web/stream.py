"""Server-sent events for participants and screens: new answers and coalesced counts of a thread or an event."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar import Controller, Request, get
from litestar.params import FromPath

from board.domain import answers, counts, events
from board.domain.context import BoardContext
from board.domain.views import AnswerView, EventView, ThreadView
from board.live.channels import event_channel, thread_channel
from board.live.messages import Counts, Message, NewAnswer, Ping, Status
from board.web.deps import Ctx, Id
from board.web.render import Fragments
from board.web.sse import (
    PING,
    RETRY_MS,
    CountedStream,
    Event,
    counts_event,
    counts_html,
    encoded,
    participant_slots,
    status_event,
)

THREAD_PAGE_STATUSES = ("answers", "threads", "present", "timer", "event")
"""What a thread's page reacts to; moderation's own statuses are not for participants."""
OPINIONS = encoded("opinions", "opinions")


def _answer_html(fragments: Fragments, event: EventView, thread: ThreadView, message: NewAnswer) -> str:
    view = AnswerView(
        id=message.id,
        thread_id=message.thread,
        body=message.body,
        status=message.status,
        reason=None,
        pinned=False,
        agree=0,
        disagree=0,
        created_at=message.created_at,
        author_name=message.author,
    )
    return fragments.macro("components/answer_card.html", "answer_card", view, event, thread)


_totals: dict[int, tuple[Message, Counts]] = {}


def _totals_of(message: Counts | NewAnswer | Status) -> Counts:
    """The thread's totals a message carries, without per-answer counts; one object per message object,
    so that every stream sending it finds its encoded event by identity (see `counts_event`)."""
    known = _totals.get(id(message))
    if known is not None and known[0] is message:
        return known[1]
    if isinstance(message, Counts):
        totals = Counts(
            message.thread, message.totals, participants=message.participants, event_id=message.event_id
        )
    else:
        totals = Counts(message.thread, message.totals)
    if len(_totals) > 256:
        _totals.clear()
    _totals[id(message)] = (message, totals)
    return totals


async def _thread_snapshot(ctx: BoardContext, fragments: Fragments, thread: ThreadView) -> bytes:
    """The thread's counts as they stand, read in a call of its own so that a stream, which lives for
    hours, keeps none of the answers it read."""
    [current] = await counts.with_counts(ctx, [thread])
    listed = await answers.list_answers(ctx, current)
    snapshot = Counts(thread.id, current.counts, {a.id: (a.agree, a.disagree) for a in listed})
    return encoded("counts", counts_html(fragments, snapshot), retry=RETRY_MS)


async def _event_snapshots(ctx: BoardContext, fragments: Fragments, event: EventView) -> list[bytes]:
    threads = await counts.with_counts(ctx, await events.list_threads(ctx, event.id))
    return [
        encoded("counts", counts_html(fragments, Counts(t.id, t.counts)), retry=RETRY_MS) for t in threads
    ]


async def _thread_events(
    ctx: BoardContext, fragments: Fragments, event: EventView, thread: ThreadView
) -> AsyncGenerator[Event, None]:
    async with ctx.live.channels.subscribe([thread_channel(thread.id)]) as stream:
        yield await _thread_snapshot(ctx, fragments, thread)
        async for message in stream:
            if isinstance(message, Counts):
                yield counts_event(fragments, message)
            elif isinstance(message, NewAnswer):
                yield encoded("answer", _answer_html(fragments, event, thread, message))
                yield counts_event(fragments, _totals_of(message))
            elif isinstance(message, Ping):
                yield PING
            elif message.status in THREAD_PAGE_STATUSES:
                yield status_event(message)
                if message.totals is not None:
                    yield counts_event(fragments, _totals_of(message))


async def _event_events(
    ctx: BoardContext, fragments: Fragments, event: EventView
) -> AsyncGenerator[Event, None]:
    async with ctx.live.channels.subscribe([event_channel(event.slug)]) as stream:
        for snapshot in await _event_snapshots(ctx, fragments, event):
            yield snapshot
        async for message in stream:
            if isinstance(message, Status):
                if message.status == "opinions":
                    yield OPINIONS
                else:
                    yield status_event(message)
            elif isinstance(message, Counts | NewAnswer):
                yield counts_event(fragments, _totals_of(message))
            else:
                yield PING


class StreamController(Controller):
    include_in_schema = False

    @get("/e/{slug:str}/t/{thread_id:int}/stream", name="thread_stream")
    async def thread_stream(
        self, request: Request, ctx: Ctx, slug: FromPath[str], thread_id: Id
    ) -> CountedStream:
        event = await events.get_event(ctx, slug)
        thread = await events.get_thread(ctx, event, thread_id)
        release = participant_slots(ctx, request, event)
        return CountedStream(_thread_events(ctx, request.app.state.fragments, event, thread), release)

    @get("/e/{slug:str}/stream", name="event_stream")
    async def event_stream(self, request: Request, ctx: Ctx, slug: FromPath[str]) -> CountedStream:
        event = await events.get_event(ctx, slug)
        release = participant_slots(ctx, request, event)
        return CountedStream(_event_events(ctx, request.app.state.fragments, event), release)

"""What the room's pages (phones and projectors) are told about a thread or the event, in one message each."""

from __future__ import annotations

from board.domain.context import BoardContext
from board.domain.views import ThreadView
from board.live.channels import event_channel, mod_channel, thread_channel
from board.live.messages import Status


def announce_thread(
    ctx: BoardContext,
    slug: str,
    thread: ThreadView,
    on_screen: int | None,
    status: str,
    also: int | None = None,
) -> None:
    """The thread's whole state (status, timer, the thread on the projector), so that phones apply it
    as it is instead of fetching it again. `also`: another thread whose pages must hear it too (the
    thread that was on the projector until now)."""
    message = Status(
        status,
        thread.id,
        thread_status=thread.status,
        timer_ends_at=thread.timer_ends_at,
        auto_close=thread.timer_auto_close,
        on_screen=on_screen,
    )
    channels = [thread_channel(thread.id), event_channel(slug), mod_channel(slug)]
    if also is not None:
        channels.append(thread_channel(also))
    ctx.live.channels.send(message, channels)


def announce_event_status(ctx: BoardContext, slug: str, thread_ids: list[int], event_status: str) -> None:
    """The event's lifecycle changed (e.g. closed): every page of the event, thread pages included, is told,
    so that phones stop offering forms and point to the results."""
    channels = [event_channel(slug), mod_channel(slug), *(thread_channel(t) for t in thread_ids)]
    ctx.live.channels.send(Status("event", event_status=event_status), channels)

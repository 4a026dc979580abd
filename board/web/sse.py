"""What every live stream shares: slots that cap open streams, the response that gives them back,
and the counts fragment rendered once however many streams send it."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from functools import lru_cache
from typing import Any

from litestar import Request
from litestar.response import ServerSentEventMessage, Stream
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Scope, Send

from board.domain.context import BoardContext
from board.domain.errors import TooFast
from board.domain.views import EventView
from board.live.messages import Counts, Status, encode
from board.web.i18n import current
from board.web.identity import client_address, read_participant
from board.web.render import Fragments
from board.web.staff import SESSION_COOKIE

RETRY_MS = 3000
STREAMS_RETRY_AFTER = 15
TOO_MANY_HERE = "Trop de pages en direct ouvertes sur cet appareil : fermez-en, puis réessayez dans {wait} s."
TOO_MANY_FROM_NETWORK = "Trop de connexions en direct depuis ce réseau : réessayez dans {wait} s."


class StreamSlots:
    """The SSE streams open in this worker, counted per client address and per participant or staff
    session, so that one client cannot open thousands of them (each holds memory and a subscription).
    Counted in memory: the caps apply per worker.
    """

    def __init__(self) -> None:
        self._open: Counter[str] = Counter()

    def take(self, caps: Sequence[tuple[str, int, str]]) -> Callable[[], None]:
        """One slot under each (key, cap, refusal) or TooFast; returns the release, safe to call twice."""
        for key, cap, refusal in caps:
            if self._open[key] >= cap:
                raise TooFast(refusal, STREAMS_RETRY_AFTER)
        keys = [key for key, _, _ in caps]
        self._open.update(keys)
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._open.subtract(keys)
            for key in keys:
                if self._open[key] <= 0:
                    del self._open[key]

        return release


def stream_slots(request: Request) -> StreamSlots:
    """The app's slots: one app per worker process."""
    slots: StreamSlots = request.app.state.setdefault("stream_slots", StreamSlots())
    return slots


def address_cap(ctx: BoardContext, request: Request) -> tuple[str, int, str]:
    address = client_address(request, ctx.settings.trusted_proxies)
    return f"address:{address}", ctx.settings.stream_limit_address, TOO_MANY_FROM_NETWORK


Event = ServerSentEventMessage | bytes
"""What a stream yields: a message, or one already encoded (shared by every stream that sends it)."""

PING = ServerSentEventMessage(comment="ping").encode()
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_HEADERS = {"Cache-Control": "no-cache", "Connection": "keep-alive", "X-Accel-Buffering": "no"}


def encoded(event: str, data: str, retry: int | None = None) -> bytes:
    """An event as `ServerSentEventMessage.encode` writes it, for a stream to share rather than rebuild."""
    lines = "".join(f"data: {line}\r\n" for line in _LINE_BREAK.split(data))
    retried = "" if retry is None else f"retry: {retry}\r\n"
    return f"event: {event}\r\n{lines}{retried}\r\n".encode()


class _Live(ASGIResponse):
    """Sends a stream's events until they end or the client leaves, then gives its slots back however it
    ended (finished, client gone, cancelled). A `finally` in the stream's generator would not do: it never
    runs if the generator never started, and runs only when collected if it was left at a `yield`.

    Leaner than Litestar's streaming response, which a worker holds a thousand of: one task waits for
    the client to leave and cancels the sending, where Litestar keeps a task group and a thread hop.
    The headers go with the first event (the counts as they stand): that read is made on the request's
    own connection, given back as the response starts, so an open stream holds no connection."""

    __slots__ = ("_events", "_inner", "_release")

    def __init__(
        self, inner: ASGIResponse, events: AsyncIterable[Event], release: Callable[[], None]
    ) -> None:
        self._inner = inner
        self._events = events
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            events = aiter(self._events)
            first = await anext(events, None)
            await self._inner.start_response(send)
            await _send_events(events, first, send, receive)
        finally:
            self._release()


def _bytes(event: Event) -> bytes:
    return event if isinstance(event, bytes) else event.encode()


async def _until_gone(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send_events(
    events: AsyncIterator[Event], first: Event | None, send: Send, receive: Receive
) -> None:
    sending = asyncio.current_task()
    assert sending is not None
    done = False

    def client_left(_: object) -> None:
        if not done:
            sending.cancel()

    watcher = asyncio.ensure_future(_until_gone(receive))
    watcher.add_done_callback(client_left)
    try:
        if first is not None:
            await send({"type": "http.response.body", "body": _bytes(first), "more_body": True})
        async for event in events:
            await send({"type": "http.response.body", "body": _bytes(event), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        if not watcher.done() or watcher.cancelled() or sending.cancelling() > 1:
            raise
        sending.uncancel()
    finally:
        done = True
        watcher.remove_done_callback(client_left)
        watcher.cancel()
        if watcher.done() and not watcher.cancelled():
            watcher.exception()
        closing = getattr(events, "aclose", None)
        if closing is not None:
            await closing()


class CountedStream(Stream):
    """An SSE response holding stream slots until it ends."""

    __slots__ = ("events", "release")

    def __init__(self, events: AsyncIterable[Event], release: Callable[[], None]) -> None:
        super().__init__((), media_type="text/event-stream", headers=_HEADERS)
        self.events = events
        self.release = release

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIResponse:
        try:
            return _Live(super().to_asgi_response(*args, **kwargs), self.events, self.release)
        except BaseException:
            self.release()
            raise


@lru_cache(maxsize=256)
def status_data(message: Status) -> str:
    """A status event's data, JSON, encoded once however many streams send it."""
    return json.dumps(message.public(), separators=(",", ":"))


@lru_cache(maxsize=256)
def status_event(message: Status) -> bytes:
    return encoded("status", status_data(message))


_rendered: dict[tuple[str, bytes], str] = {}
_events: dict[tuple[str, bytes], bytes] = {}


def counts_html(fragments: Fragments, message: Counts) -> str:
    """Rendered once per distinct message and language, however many streams send it."""
    key = (current(), encode(message))
    html = _rendered.get(key)
    if html is None:
        if len(_rendered) > 1024:
            _rendered.clear()
        html = _rendered[key] = _render_counts(fragments, message)
    return html


_by_object: dict[tuple[int, str], tuple[Counts, bytes]] = {}


def counts_event(fragments: Fragments, message: Counts) -> bytes:
    """The `counts` event, encoded once per distinct message and language, however many streams send it.

    Every stream of a worker receives the same decoded message object, so it is looked up by identity
    first (the entry keeps the object alive, so its id is not reused meanwhile): encoding it again to
    find it would cost each of a thousand streams about 20 µs."""
    language = current()
    known = _by_object.get((id(message), language))
    if known is not None and known[0] is message:
        return known[1]
    key = (language, encode(message))
    event = _events.get(key)
    if event is None:
        if len(_events) > 1024:
            _events.clear()
        event = _events[key] = encoded("counts", counts_html(fragments, message))
    if len(_by_object) > 256:
        _by_object.clear()
    _by_object[(id(message), language)] = (message, event)
    return event


def _render_counts(fragments: Fragments, message: Counts) -> str:
    return fragments.macro(
        "components/counts_oob.html",
        "counts_oob",
        answers=message.answers,
        thread_id=message.thread,
        totals=message.totals,
        participants=message.participants,
        event_id=message.event_id,
    )


def participant_slots(ctx: BoardContext, request: Request, event: EventView) -> Callable[[], None]:
    """Per address and, with a valid cookie, per participant; without one, per address only."""
    caps = []
    found = read_participant(request, ctx.settings.secret_key, event.slug, event.id)
    if found is not None:
        caps.append(
            (f"participant:{found[0]}:{found[1]}", ctx.settings.stream_limit_participant, TOO_MANY_HERE)
        )
    return stream_slots(request).take([*caps, address_cap(ctx, request)])


def staff_slots(ctx: BoardContext, request: Request) -> Callable[[], None]:
    """Per address and per staff session (the caller has checked the session)."""
    session = f"staff:{request.cookies.get(SESSION_COOKIE)}"
    caps = [(session, ctx.settings.stream_limit_participant, TOO_MANY_HERE), address_cap(ctx, request)]
    return stream_slots(request).take(caps)

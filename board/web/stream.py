"""Server-sent events: new answers and coalesced counts for a thread or an event."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import ServerSentEvent, ServerSentEventMessage

from board.domain import answers, counts, events
from board.domain.context import BoardContext
from board.domain.views import AnswerView, EventView, ThreadView
from board.live.channels import Message, event_channel, thread_channel
from board.web.deps import Id, board_context
from board.web.i18n import current
from board.web.render import Fragments

RETRY_MS = 3000


_rendered: dict[str, str] = {}


def counts_html(fragments: Fragments, message: Message) -> str:
    """Rendered once per distinct message and language, however many streams send it."""
    key = f"{current()}|{json.dumps(message, sort_keys=True, separators=(',', ':'))}"
    html = _rendered.get(key)
    if html is None:
        if len(_rendered) > 1024:
            _rendered.clear()
        html = _rendered[key] = _render_counts(fragments, message)
    return html


def _render_counts(fragments: Fragments, message: Message) -> str:
    return fragments.macro(
        "components/live.html",
        "counts_oob",
        answers={int(k): v for k, v in message.get("answers", {}).items()},
        thread_id=message.get("thread"),
        totals=message.get("totals"),
        participants=message.get("participants"),
        event_id=message.get("event_id"),
    )


def _answer_html(fragments: Fragments, event: EventView, thread: ThreadView, message: Message) -> str:
    data = message["answer"]
    view = AnswerView(
        id=data["id"],
        thread_id=message["thread"],
        body=data["body"],
        status=data["status"],
        reason=None,
        pinned=False,
        agree=0,
        disagree=0,
        created_at=_parse_time(data["created_at"]),
    )
    return fragments.macro("components/answer.html", "answer_card", view, event, thread)


def _parse_time(raw: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(raw)


async def _thread_events(
    ctx: BoardContext, fragments: Fragments, event: EventView, thread: ThreadView
) -> AsyncGenerator[ServerSentEventMessage, None]:
    async with ctx.live.channels.subscribe([thread_channel(thread.id)]) as stream:
        [current] = await counts.with_counts(ctx, [thread])
        listed = await answers.list_answers(ctx, current)
        snapshot = {
            "thread": thread.id,
            "answers": {str(a.id): [a.agree, a.disagree] for a in listed},
            "totals": current.counts.__dict__,
        }
        yield ServerSentEventMessage(event="counts", data=counts_html(fragments, snapshot), retry=RETRY_MS)
        async for message in stream:
            kind = message.get("type")
            if kind == "counts":
                yield ServerSentEventMessage(event="counts", data=counts_html(fragments, message))
            elif kind == "answer":
                yield ServerSentEventMessage(
                    event="answer", data=_answer_html(fragments, event, thread, message)
                )
                yield ServerSentEventMessage(event="counts", data=counts_html(fragments, message))
            elif kind == "ping":
                yield ServerSentEventMessage(comment="ping")
            elif kind == "status" and message.get("status") in ("answers", "threads"):
                yield ServerSentEventMessage(event="status", data=str(message.get("status")))
                if message.get("totals"):
                    yield ServerSentEventMessage(event="counts", data=counts_html(fragments, message))


async def _event_events(
    ctx: BoardContext, fragments: Fragments, event: EventView
) -> AsyncGenerator[ServerSentEventMessage, None]:
    async with ctx.live.channels.subscribe([event_channel(event.slug)]) as stream:
        for thread in await counts.with_counts(ctx, await events.list_threads(ctx, event.id)):
            snapshot = {"thread": thread.id, "totals": thread.counts.__dict__}
            yield ServerSentEventMessage(
                event="counts", data=counts_html(fragments, snapshot), retry=RETRY_MS
            )
        async for message in stream:
            if message.get("type") == "status":
                yield ServerSentEventMessage(event="status", data=str(message.get("status", "")))
            elif message.get("type") in {"counts", "answer"}:
                totals_only = {
                    "thread": message.get("thread"),
                    "totals": message.get("totals"),
                    "participants": message.get("participants"),
                    "event_id": message.get("event_id"),
                }
                yield ServerSentEventMessage(event="counts", data=counts_html(fragments, totals_only))
            elif message.get("type") == "ping":
                yield ServerSentEventMessage(comment="ping")


class StreamController(Controller):
    include_in_schema = False

    @get("/e/{slug:str}/t/{thread_id:int}/stream", name="thread_stream")
    async def thread_stream(self, request: Request, slug: FromPath[str], thread_id: Id) -> ServerSentEvent:
        ctx = board_context(request)
        event = await events.get_event(ctx, slug)
        thread = await events.get_thread(ctx, event, thread_id)
        return ServerSentEvent(_thread_events(ctx, request.app.state.fragments, event, thread))

    @get("/e/{slug:str}/stream", name="event_stream")
    async def event_stream(self, request: Request, slug: FromPath[str]) -> ServerSentEvent:
        ctx = board_context(request)
        event = await events.get_event(ctx, slug)
        return ServerSentEvent(_event_events(ctx, request.app.state.fragments, event))

"""The projector: a thread's live results, its word cloud or the join slide (`?show=`), the join QR, and every
thread's results for print."""

from __future__ import annotations

import asyncio
import base64
import io
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import segno
from litestar import Controller, Request, get
from litestar.datastructures import CacheControlHeader
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template

from board.domain import accounts, counts, events, projector, record, results
from board.domain.context import BoardContext
from board.domain.opinion_groups import OpinionGroups
from board.domain.opinion_views import OpinionMap, opinion_map
from board.domain.projector import ScreenState
from board.domain.results import ThreadResults
from board.domain.views import EventView, ThreadView
from board.domain.words import Word
from board.models import EventStatus
from board.web.deps import Ctx, Id
from board.web.render import page
from board.web.staff import signed_in


@dataclass(frozen=True)
class ScreenPage:
    state: ScreenState
    show: str
    join_url: str
    short_url: str
    follows_present: bool
    show_qr: bool
    only: str | None
    can_steer: bool
    results: ThreadResults | None = None
    words: list[Word] = field(default_factory=list)
    opinions: OpinionMap | None = None

    @property
    def event(self) -> EventView:
        return self.state.event

    @property
    def thread(self) -> ThreadView:
        return self.state.thread

    @property
    def threads(self) -> list[ThreadView]:
        return self.state.threads

    @property
    def participants(self) -> int:
        return self.state.participants

    @property
    def path(self) -> str:
        """This screen's own address: the event's, which follows the thread on screen, or one thread's."""
        if self.follows_present:
            return f"/e/{self.event.slug}/screen"
        return f"/e/{self.event.slug}/t/{self.thread.id}/screen"

    @property
    def code(self) -> str | None:
        """The join code as people read it aloud: two groups of three digits."""
        code = self.event.code if self.event.status == EventStatus.OPEN else None
        return f"{code[:3]} {code[3:]}" if code else None

    @property
    def address_parts(self) -> list[str]:
        """The short address cut after each `/`, the only places where it may wrap."""
        return [part for part in re.split(r"(?<=/)", self.short_url) if part]

    def neighbour(self, step: int) -> ThreadView | None:
        ids = [t.id for t in self.threads]
        if self.thread.id not in ids:
            return None
        index = ids.index(self.thread.id) + step
        return self.threads[index] if 0 <= index < len(self.threads) else None

    def query(self, **changes: Any) -> str:
        """This screen's query string with some settings changed, for the toggle links."""
        state = {
            "show": None if self.show == "board" else self.show,
            "only": self.only,
            "qr": None if self.show_qr else "0",
        }
        state.update(changes)
        pairs = [f"{k}={v}" for k, v in state.items() if v]
        return "?" + "&".join(pairs) if pairs else "?"


def join_url(base: str, slug: str) -> str:
    return f"{base}/e/{slug}"


async def _with_results(request: Request, ctx: BoardContext, data: ScreenPage) -> ScreenPage:
    return replace(data, results=await projector.screen_results(ctx, data.state, data.only))


async def _with_words(request: Request, ctx: BoardContext, data: ScreenPage) -> ScreenPage:
    return replace(data, words=await projector.screen_words(ctx, data.state))


async def _as_is(request: Request, ctx: BoardContext, data: ScreenPage) -> ScreenPage:
    return data


async def _with_opinions(request: Request, ctx: BoardContext, data: ScreenPage) -> ScreenPage:
    """The projector never waits for a computation: it redraws when one ends, and on counts, since a read
    of a thread whose votes moved is what starts its next recomputation."""
    return replace(data, opinions=await _opinions(request, ctx, data.thread))


@dataclass(frozen=True)
class Show:
    """One way to fill the screen: what it reads, and the live messages that make it redraw."""

    read: Callable[[Request, BoardContext, ScreenPage], Awaitable[ScreenPage]]
    redraw_on: str


SHOWS: dict[str, Show] = {
    "board": Show(_with_results, "sse:counts, sse:status, sse:answer"),
    "join": Show(_as_is, "sse:status"),
    "words": Show(_with_words, "sse:counts, sse:status, sse:answer"),
    "opinions": Show(_with_opinions, "sse:counts, sse:opinions, sse:status"),
}
"""`?show=NAME`; each is drawn by templates/screen/show_NAME.html. Anything else shows the board."""


BLOCKS = ("board", "controls")
"""What a screen redraws on its own: the show, and the facilitator's controls when the thread changes."""


async def _screen(
    request: Request,
    ctx: BoardContext,
    slug: str,
    thread_id: int | None,
    only: str | None,
    qr: str | None,
    block: str | None,
    show: str | None,
) -> Template:
    state = await projector.screen_state(ctx, slug, thread_id)
    name = show if show in SHOWS else "board"
    account = await signed_in(ctx, request)
    role = await accounts.role_on(ctx, account, state.event.id) if account else None
    url = join_url(ctx.settings.public_url, state.event.slug)
    short = urlsplit(url)
    data = ScreenPage(
        state=state,
        show=name,
        join_url=url,
        short_url=f"{short.netloc}{short.path}",
        follows_present=thread_id is None,
        show_qr=qr != "0",
        only=only if only in results.SHOW_FILTERS else None,
        can_steer=accounts.allows(role, "facilitator"),
    )
    data = await SHOWS[name].read(request, ctx, data)
    context = {"page": data, "redraw_on": SHOWS[name].redraw_on}
    return page(request, "screen/screen.html", context, block=block if block in BLOCKS else None)


async def _opinions(request: Request, ctx: BoardContext, thread: ThreadView) -> OpinionMap | None:
    """The projector never waits for a computation (it redraws when one ends); the results page does,
    for all its threads at once."""
    return await opinion_map(ctx, await request.app.state.opinions.latest(thread))


class ScreenController(Controller):
    include_in_schema = False

    @get("/e/{slug:str}/screen", name="screen")
    async def screen(
        self,
        request: Request,
        ctx: Ctx,
        slug: FromPath[str],
        only: FromQuery[str | None] = None,
        qr: FromQuery[str | None] = None,
        block: FromQuery[str | None] = None,
        show: FromQuery[str | None] = None,
    ) -> Template:
        return await _screen(request, ctx, slug, None, only, qr, block, show)

    @get("/e/{slug:str}/t/{thread_id:int}/screen", name="thread_screen")
    async def thread_screen(
        self,
        request: Request,
        ctx: Ctx,
        slug: FromPath[str],
        thread_id: Id,
        only: FromQuery[str | None] = None,
        qr: FromQuery[str | None] = None,
        block: FromQuery[str | None] = None,
        show: FromQuery[str | None] = None,
    ) -> Template:
        return await _screen(request, ctx, slug, thread_id, only, qr, block, show)

    @get("/e/{slug:str}/results", name="results")
    async def results_page(self, request: Request, ctx: Ctx, slug: FromPath[str]) -> Template:
        event = await events.get_event(ctx, slug)
        listed = await counts.with_counts(ctx, await events.list_threads(ctx, event.id))
        every = [await results.thread_results(ctx, t, event.segments, limit=10) for t in listed]
        groups: OpinionGroups = request.app.state.opinions
        latest = await asyncio.gather(*(groups.latest(t, wait=True) for t in listed))
        maps = {t.id: await opinion_map(ctx, payload) for t, payload in zip(listed, latest, strict=True)}
        return Template(
            "screen/results.html",
            context={
                "event": event,
                "threads": every,
                "opinions": maps,
                "participants": await counts.participants(ctx, event.id),
                "record": record_seal(ctx.settings.public_url, event.slug, await record.head(ctx, event.id)),
            },
        )

    @get(
        "/e/{slug:str}/qr.svg",
        name="qr",
        media_type="image/svg+xml",
        cache_control=CacheControlHeader(max_age=300, public=True),
    )
    async def qr(self, request: Request, ctx: Ctx, slug: FromPath[str]) -> Response[bytes]:
        event = await events.get_event(ctx, slug)
        return Response(qr_svg(join_url(ctx.settings.public_url, event.slug)), media_type="image/svg+xml")


@dataclass(frozen=True)
class RecordSeal:
    """The record's head hash and where to check it, for a photo of the results to be a receipt."""

    url: str
    head: str
    qr_data_uri: str


def record_seal(base: str, slug: str, head: str) -> RecordSeal:
    url = f"{base}/e/{slug}/record.json"
    return RecordSeal(url, head, "data:image/svg+xml;base64," + base64.b64encode(qr_svg(url)).decode())


def qr_svg(url: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m").save(
        out, kind="svg", scale=10, border=2, xmldecl=False, title=url, dark="#000", light="#fff"
    )
    return out.getvalue()

"""The projector: one thread's live results with the join QR, and every thread's results for print."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import segno
from litestar import Controller, Request, get
from litestar.datastructures import CacheControlHeader
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template

from board.domain import accounts, counts, events, results
from board.domain.context import BoardContext
from board.domain.errors import NotFound
from board.domain.opinion_views import OpinionMap, opinion_map
from board.domain.results import ThreadResults
from board.domain.views import EventView, ThreadView
from board.web.deps import Ctx, Id
from board.web.render import page
from board.web.staff import signed_in


@dataclass(frozen=True)
class ScreenPage:
    event: EventView
    results: ThreadResults
    threads: list[ThreadView]
    participants: int
    join_url: str
    short_url: str
    follows_present: bool
    show_qr: bool
    only: str | None
    can_steer: bool
    show: str | None = None
    opinions: OpinionMap | None = None

    @property
    def thread(self) -> ThreadView:
        return self.results.thread

    def neighbour(self, step: int) -> ThreadView | None:
        ids = [t.id for t in self.threads]
        if self.thread.id not in ids:
            return None
        index = ids.index(self.thread.id) + step
        return self.threads[index] if 0 <= index < len(self.threads) else None

    def query(self, **changes: Any) -> str:
        """This screen's query string with some settings changed, for the toggle links."""
        state = {"show": self.show, "only": self.only, "qr": None if self.show_qr else "0"}
        state.update(changes)
        pairs = [f"{k}={v}" for k, v in state.items() if v]
        return "?" + "&".join(pairs) if pairs else "?"


def join_url(base: str, slug: str) -> str:
    return f"{base}/e/{slug}"


SHOWS = ("opinions",)


async def _screen(
    request: Request,
    ctx: BoardContext,
    slug: str,
    thread_id: int | None,
    only: str | None,
    qr: str | None,
    block: str | None,
    show: str | None = None,
) -> Template:
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
    filter_ = only if only in results.SHOW_FILTERS else None
    shown = await results.thread_results(ctx, thread, event.segments, only=filter_)
    account = await signed_in(ctx, request)
    role = await accounts.role_on(ctx, account, event.id) if account else None
    url = join_url(ctx.settings.public_url, event.slug)
    short = urlsplit(url)
    data = ScreenPage(
        event=event,
        results=shown,
        threads=listed,
        participants=await counts.participants(ctx, event.id),
        join_url=url,
        short_url=f"{short.netloc}{short.path}",
        follows_present=thread_id is None,
        show_qr=qr != "0",
        only=filter_,
        can_steer=accounts.allows(role, "facilitator"),
        show=show if show in SHOWS else None,
        opinions=await _opinions(request, ctx, thread) if show == "opinions" else None,
    )
    return page(request, "screen/screen.html", {"page": data}, block="board" if block == "board" else None)


async def _opinions(
    request: Request, ctx: BoardContext, thread: ThreadView, *, wait: bool = False
) -> OpinionMap | None:
    """The projector never waits for a computation (it redraws when one ends); the results page does."""
    return await opinion_map(ctx, await request.app.state.opinions.latest(thread, wait=wait))


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
        maps = {t.id: await _opinions(request, ctx, t, wait=True) for t in listed}
        return Template(
            "screen/results.html",
            context={
                "event": event,
                "threads": every,
                "opinions": maps,
                "participants": await counts.participants(ctx, event.id),
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


def qr_svg(url: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m").save(
        out, kind="svg", scale=10, border=2, xmldecl=False, title=url, dark="#000", light="#fff"
    )
    return out.getvalue()

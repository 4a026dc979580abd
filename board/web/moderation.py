"""Moderation pages: the live queue, threads, decisions with reasons, bans, settings, export, audit."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field, replace
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Response, ServerSentEventMessage, Template

from board.domain import accounts, audit, console, counts, events, export, moderation, threads
from board.domain.context import BoardContext
from board.domain.errors import Forbidden, Invalid, NotFound
from board.domain.moderation import ModAnswer
from board.domain.threads import FACILITATOR_ACTIONS
from board.domain.timers import parse_timer
from board.domain.views import EventView, ThreadView
from board.live.channels import event_channel, mod_channel
from board.live.messages import Counts, Message, NewAnswer, Status
from board.web import audit_text
from board.web.deps import Ctx, Id, read_form
from board.web.i18n import N_, gettext
from board.web.render import ElementIds, Fragments, is_htmx, page, when
from board.web.sse import RETRY_MS, CountedStream, counts_html, staff_slots, status_data
from board.web.staff import Staff, Who, current_staff, requires_role

BLOCKS = ("board",)
TAB_LABELS = (
    ("pending", N_("En attente")),
    ("published", N_("Publiées")),
    ("hidden", N_("Masquées ou refusées")),
    ("pinned", N_("Épinglées")),
)


@dataclass(frozen=True)
class View:
    """Where the moderator is in the console: the query string of /mod/{slug}."""

    thread: int | None = None
    tab: str = "published"
    q: str = ""
    page: int = 1

    @property
    def live(self) -> bool:
        """New answers join the list only where they would be shown: the first page, unfiltered."""
        return self.page == 1 and not self.q

    def url(self, slug: str, **changes: Any) -> str:
        fields = {"thread": self.thread, "tab": self.tab, "q": self.q, "page": self.page, **changes}
        query: dict[str, Any] = {}
        if fields["thread"] is not None:
            query["thread"] = fields["thread"]
            if fields["tab"]:
                query["tab"] = fields["tab"]
            if fields["q"]:
                query["q"] = fields["q"]
            if fields["page"] and fields["page"] > 1:
                query["page"] = fields["page"]
        if fields.get("block"):
            query["block"] = fields["block"]
        return f"/mod/{slug}" + (f"?{urlencode(query)}" if query else "")


def read_view(thread: str | None, tab: str | None, q: str | None, page: str | None) -> View:
    """Lenient on purpose: a stale or hand-edited address still lands somewhere sensible."""
    number = int(page) if page and page.isdigit() and len(page) < 7 else 1
    chosen = int(thread) if thread and thread.isdigit() and len(thread) < 10 else None
    return View(chosen, tab if tab in console.TABS else "", console.clean_query(q), max(number, 1))


def view_of_url(url: str | None, slug: str) -> View:
    """The view an htmx request was made from (HX-Current-URL), if it was this event's console."""
    parts = urlsplit(url or "")
    if parts.path.rstrip("/") != f"/mod/{slug}":
        return View()
    query = parse_qs(parts.query)
    return read_view(*(query.get(key, [None])[0] for key in ("thread", "tab", "q", "page")))


@dataclass(frozen=True)
class ModPage:
    event: EventView
    staff: Staff
    view: View
    threads: list[ThreadView]
    counts: dict[int, console.TabCounts]
    queue: list[ModAnswer]
    queue_total: int
    thread: ThreadView | None = None
    answers: console.AnswerPage | None = None
    previews: dict[int, list[ModAnswer]] = field(default_factory=dict)
    message: str | None = None
    page_size: int = console.PAGE_SIZE
    preview_size: int = console.PREVIEW

    @property
    def can_moderate(self) -> bool:
        return self.staff.role in ("moderator", "admin")

    @property
    def prompts(self) -> dict[int, str]:
        return {t.id: t.prompt for t in self.threads}

    @property
    def tab_labels(self) -> list[tuple[str, str]]:
        return [(tab, gettext(label)) for tab, label in TAB_LABELS]


async def _mod_page(ctx: BoardContext, who: Staff, view: View, message: str | None = None) -> ModPage:
    listed = await counts.with_counts(ctx, await events.list_threads(ctx, who.event.id, public=False))
    tabs = await console.tab_counts(ctx, [t.id for t in listed])
    queue, queue_total = await console.queue(ctx, who.event)
    thread = next((t for t in listed if t.id == view.thread), None)
    if view.thread is not None and thread is None:
        raise NotFound("Ce fil de discussion n'existe pas.")
    if thread is None:
        previews = await console.previews(ctx, who.event, [t.id for t in listed])
        return ModPage(
            who.event, who, View(), listed, tabs, queue, queue_total, previews=previews, message=message
        )
    if not view.tab:
        view = replace(view, tab="pending" if tabs[thread.id].pending else "published")
    answers = await console.answer_page(ctx, who.event, thread.id, view.tab, view.q, view.page)
    view = replace(view, page=answers.page)
    return ModPage(who.event, who, view, listed, tabs, queue, queue_total, thread, answers, message=message)


async def _after(
    request: Request, ctx: BoardContext, who: Staff, message: str, anchor: str = ""
) -> Response[Any]:
    """htmx gets the refreshed board it was sent from; a plain form goes back where it came from."""
    slug = who.event.slug
    if is_htmx(request):
        fresh = Staff(who.account, await events.get_event(ctx, slug, public=False), who.role)
        view = view_of_url(request.headers.get("HX-Current-URL"), slug)
        data = await _mod_page(ctx, fresh, view, message)
        return page(request, "moderation/board.html", {"page": data}, block="board")
    back = str((await read_form(request)).get("next", "") or "")
    if back.startswith(f"/e/{slug}/"):
        return Redirect(back, status_code=303)
    view = view_of_url(request.headers.get("Referer"), slug)
    return Redirect(view.url(slug) + anchor, status_code=303)


DOWNLOAD_TYPES = {"csv": "text/csv", "json": "application/json"}


def _download(body: str, slug: str, kind: str) -> Response[str]:
    return Response(
        body,
        media_type=DOWNLOAD_TYPES[kind],
        headers={"Content-Disposition": f'attachment; filename="{slug}.{kind}"'},
    )


class ModerationController(Controller):
    path = "/mod/{slug:str}"
    include_in_schema = False
    cache_control = CacheControlHeader(no_store=True, private=True)
    guards = [requires_role]  # noqa: RUF012
    opt = {"role": "moderator"}  # noqa: RUF012
    dependencies = {"who": Provide(current_staff, sync_to_thread=False)}  # noqa: RUF012

    @get("/", name="mod_board", opt={"role": "facilitator"})
    async def board(
        self,
        request: Request,
        ctx: Ctx,
        who: Who,
        slug: FromPath[str],
        block: FromQuery[str | None] = None,
        thread: FromQuery[str | None] = None,
        tab: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        number: Annotated[str | None, QueryParameter(name="page")] = None,
    ) -> Template:
        data = await _mod_page(ctx, who, read_view(thread, tab, q, number))
        chosen = block if block in BLOCKS else None
        return page(request, "moderation/board.html", {"page": data}, block=chosen)

    @get("/answers/search", name="mod_search")
    async def search(
        self,
        ctx: Ctx,
        who: Who,
        slug: FromPath[str],
        q: FromQuery[str | None] = None,
        thread: FromQuery[str | None] = None,
        exclude: FromQuery[str | None] = None,
    ) -> Template:
        """Merge targets found by typing: matching published answers of the event, never all of them."""
        text = console.clean_query(q)
        thread_id = int(thread) if thread and thread.isdigit() and len(thread) < 10 else None
        left_out = int(exclude) if exclude and exclude.isdigit() and len(exclude) < 10 else None
        found = await console.search_published(ctx, who.event, text, thread_id, left_out)
        return Template("moderation/_found.html", context={"found": found, "q": text})

    @get("/stream", name="mod_stream", opt={"role": "facilitator"})
    async def stream(self, request: Request, ctx: Ctx, who: Who, slug: FromPath[str]) -> CountedStream:
        release = staff_slots(ctx, request)
        return CountedStream(_mod_events(ctx, request.app.state.fragments, who), release)

    @post("/answers/{answer_id:int}", name="mod_answer")
    async def answer(
        self, request: Request, ctx: Ctx, who: Who, slug: FromPath[str], answer_id: Id
    ) -> Response[Any]:
        form = await read_form(request)
        action = str(form.get("action", ""))
        into_raw = str(form.get("into", "") or "").strip().removeprefix("#")
        into = int(into_raw) if into_raw.isdigit() and len(into_raw) < 10 else None
        if action == "merge" and into_raw and into is None:
            raise Invalid("La réponse cible (into) doit être un numéro de réponse.")
        await moderation.act_on_answer(ctx, who.event, who.actor, answer_id, action, form.get("reason"), into)
        return await _after(
            request,
            ctx,
            who,
            gettext(ACTION_DONE.get(action, "C'est fait.")),
            f"#{ElementIds.answer(answer_id)}",
        )

    @post("/threads", name="mod_threads")
    async def create_thread(self, request: Request, ctx: Ctx, who: Who, slug: FromPath[str]) -> Response[Any]:
        form = await read_form(request)
        thread = await threads.create_thread(ctx, who.event, who.actor, str(form.get("prompt", "")))
        return await _after(
            request, ctx, who, gettext("Fil créé (brouillon)."), f"#{ElementIds.thread(thread.id)}"
        )

    @post("/threads/{thread_id:int}", name="mod_thread", opt={"role": "facilitator"})
    async def thread(
        self, request: Request, ctx: Ctx, who: Who, slug: FromPath[str], thread_id: Id
    ) -> Response[Any]:
        form = await read_form(request)
        action = str(form.get("action", ""))
        if action not in FACILITATOR_ACTIONS and not accounts.allows(who.role, "moderator"):
            raise Forbidden("Cette action est réservée aux modérateurs de l'événement.")
        timer = parse_timer(form.get("seconds"), form.get("auto_close")) if action == "timer" else None
        await threads.act_on_thread(ctx, who.event, who.actor, thread_id, action, form.get("prompt"), timer)
        if timer is not None:
            action = "timer" if timer.seconds else "timer-stop"
        return await _after(
            request,
            ctx,
            who,
            gettext(THREAD_DONE.get(action, "C'est fait.")),
            f"#{ElementIds.thread(thread_id)}",
        )

    @post("/participants/{participant_id:str}/ban", name="mod_ban")
    async def ban(
        self, request: Request, ctx: Ctx, who: Who, slug: FromPath[str], participant_id: FromPath[str]
    ) -> Response[Any]:
        await moderation.ban(ctx, who.event, who.actor, participant_id)
        return await _after(
            request,
            ctx,
            who,
            gettext("Participant suspendu : ses prochaines réponses et votes sont refusés."),
        )

    @post("/settings", name="mod_settings")
    async def settings(self, request: Request, ctx: Ctx, who: Who, slug: FromPath[str]) -> Response[Any]:
        form = await read_form(request)
        await moderation.change_settings(
            ctx, who.event, who.actor, form.get("moderation") or None, form.get("voting") or None
        )
        return await _after(request, ctx, who, gettext("Réglages enregistrés."), "#settings")

    @get("/export.csv", name="mod_export_csv")
    async def export_csv(self, request: Request, ctx: Ctx, who: Who, slug: FromPath[str]) -> Response[str]:
        return _download(await export.as_csv(ctx, who.event, ctx.settings.data_licence), slug, "csv")

    @get("/export.json", name="mod_export_json")
    async def export_json(self, request: Request, ctx: Ctx, who: Who, slug: FromPath[str]) -> Response[str]:
        return _download(await export.as_json(ctx, who.event, ctx.settings.data_licence), slug, "json")

    @get("/audit", name="mod_audit")
    async def audit_log(
        self,
        ctx: Ctx,
        who: Who,
        slug: FromPath[str],
        thread: FromQuery[str | None] = None,
        person: FromQuery[str | None] = None,
    ) -> Template:
        log = await _audit(ctx, who, thread, person)
        return Template("moderation/audit.html", context={"log": log, "event": who.event, "staff": who})

    @get("/audit.csv", name="mod_audit_csv")
    async def audit_csv(
        self,
        ctx: Ctx,
        who: Who,
        slug: FromPath[str],
        thread: FromQuery[str | None] = None,
        person: FromQuery[str | None] = None,
    ) -> Response[str]:
        log = await _audit(ctx, who, thread, person, limit=None)
        zone = ZoneInfo(ctx.settings.timezone)
        dates = {i: when(e.created_at, zone) for i, e in enumerate(log.entries)}
        body = audit_text.as_csv(log.entries, log.prompts, dates)
        return Response(
            body,
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{slug}-audit.csv"'},
        )


@dataclass(frozen=True)
class AuditLog:
    entries: list[audit.AuditView]
    prompts: dict[int, str]
    threads: list[ThreadView]
    people: list[str]
    thread: int | None
    person: str

    def sentence(self, entry: audit.AuditView) -> str:
        return audit_text.sentence(entry, self.prompts)

    @property
    def query(self) -> str:
        chosen = {"thread": self.thread or "", "person": self.person}
        return urlencode({k: v for k, v in chosen.items() if v})


async def _audit(
    ctx: BoardContext, who: Staff, thread: str | None, person: str | None, limit: int | None = 500
) -> AuditLog:
    threads_listed = await events.list_threads(ctx, who.event.id, public=False)
    thread_id = int(thread) if thread and thread.isdigit() and len(thread) < 10 else None
    name = "".join(c for c in (person or "") if c.isprintable())[:80]
    entries = await audit.entries(ctx, who.event.id, thread_id=thread_id, actor=name or None, limit=limit)
    return AuditLog(
        entries,
        {t.id: t.prompt for t in threads_listed},
        threads_listed,
        await audit.actors(ctx, who.event.id),
        thread_id,
        name,
    )


ACTION_DONE = {
    "approve": N_("Réponse publiée."),
    "reject": N_("Réponse refusée."),
    "hide": N_("Réponse masquée."),
    "restore": N_("Réponse rétablie."),
    "pin": N_("Réponse épinglée."),
    "unpin": N_("Réponse désépinglée."),
    "merge": N_("Réponses fusionnées."),
}
THREAD_DONE = {
    "open": N_("Fil ouvert."),
    "close": N_("Fil fermé."),
    "present": N_("Fil affiché au projecteur."),
    "up": N_("Fil déplacé."),
    "down": N_("Fil déplacé."),
    "edit": N_("Question modifiée."),
    "timer": N_("Minuteur lancé."),
    "timer-stop": N_("Minuteur arrêté."),
}


async def _mod_events(
    ctx: BoardContext, fragments: Fragments, who: Staff
) -> AsyncGenerator[ServerSentEventMessage, None]:
    event = who.event
    can_moderate = accounts.allows(who.role, "moderator")
    async with ctx.live.channels.subscribe([mod_channel(event.slug), event_channel(event.slug)]) as stream:
        yield ServerSentEventMessage(comment="connected", retry=RETRY_MS)
        last: Message | None = None
        async for message in stream:
            if message == last:
                continue
            last = message
            if isinstance(message, Counts):
                yield ServerSentEventMessage(event="counts", data=counts_html(fragments, message))
            elif isinstance(message, NewAnswer):
                html = await _incoming(ctx, fragments, event, message, can_moderate)
                if html:
                    yield ServerSentEventMessage(event="answer", data=html)
            elif isinstance(message, Status):
                yield ServerSentEventMessage(event="status", data=status_data(message))
            else:
                yield ServerSentEventMessage(comment="ping")


async def _incoming(
    ctx: BoardContext, fragments: Fragments, event: EventView, message: NewAnswer, can_moderate: bool
) -> str:
    """One card and the counters it moves, read for this moderator (their role decides the actions)."""
    answer = await console.one_answer(ctx, event, message.id)
    if answer is None:
        return ""
    tabs = await console.tab_counts(ctx, [answer.thread_id])
    thread = await events.get_thread(ctx, event, answer.thread_id, public=False)
    return fragments.macro(
        "components/incoming_answer.html",
        "incoming_answer",
        event.slug,
        answer,
        can_moderate,
        thread.prompt,
        tabs[answer.thread_id],
        await console.pending_total(ctx, event),
        message.totals,
    )

"""Moderation pages: the live queue, threads, decisions with reasons, bans, settings, export, audit."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, ServerSentEvent, ServerSentEventMessage, Template

from board.domain import accounts, audit, counts, events, export, moderation, threads
from board.domain.context import BoardContext
from board.domain.errors import Forbidden
from board.domain.moderation import ModAnswer
from board.domain.threads import FACILITATOR_ACTIONS
from board.domain.views import EventView, ThreadView
from board.live.channels import event_channel, mod_channel
from board.live.messages import Counts, Message, NewAnswer, Status
from board.web.deps import Ctx, Id, read_form
from board.web.i18n import N_, gettext
from board.web.render import ElementIds, Fragments, is_htmx, page
from board.web.sse import RETRY_MS, CountedStream, counts_html, staff_slots
from board.web.staff import Staff, Who, current_staff, requires_role

BLOCKS = ("queue", "threads", "board")


@dataclass(frozen=True)
class ModPage:
    event: EventView
    staff: Staff
    queue: list[ModAnswer]
    threads: list[ThreadView]
    answers: dict[int, list[ModAnswer]]
    message: str | None = None

    @property
    def can_moderate(self) -> bool:
        return self.staff.role in ("moderator", "admin")


async def _mod_page(ctx: BoardContext, who: Staff, message: str | None = None) -> ModPage:
    listed = await counts.with_counts(ctx, await events.list_threads(ctx, who.event.id, public=False))
    by_thread: dict[int, list[ModAnswer]] = {t.id: [] for t in listed}
    for answer in await moderation.thread_answers(ctx, who.event):
        by_thread.setdefault(answer.thread_id, []).append(answer)
    return ModPage(who.event, who, await moderation.queue(ctx, who.event), listed, by_thread, message)


async def _after(
    request: Request, ctx: BoardContext, who: Staff, message: str, anchor: str = ""
) -> Response[Any]:
    """htmx gets the refreshed board, a plain form goes back where it came from (this event only)."""
    if is_htmx(request):
        fresh = Staff(who.account, await events.get_event(ctx, who.event.slug, public=False), who.role)
        data = await _mod_page(ctx, fresh, message)
        return page(request, "moderation/board.html", {"page": data}, block="board")
    back = str((await read_form(request)).get("next", "") or "")
    if back.startswith(f"/e/{who.event.slug}/"):
        return Redirect(back, status_code=303)
    return Redirect(f"/mod/{who.event.slug}{anchor}", status_code=303)


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
        self, request: Request, ctx: Ctx, who: Who, slug: FromPath[str], block: FromQuery[str | None] = None
    ) -> Template:
        data = await _mod_page(ctx, who)
        chosen = block if block in BLOCKS else None
        return page(request, "moderation/board.html", {"page": data}, block=chosen)

    @get("/stream", name="mod_stream", opt={"role": "facilitator"})
    async def stream(self, request: Request, ctx: Ctx, who: Who, slug: FromPath[str]) -> ServerSentEvent:
        release = staff_slots(ctx, request)
        return CountedStream(_mod_events(ctx, request.app.state.fragments, who.event), release)

    @post("/answers/{answer_id:int}", name="mod_answer")
    async def answer(
        self, request: Request, ctx: Ctx, who: Who, slug: FromPath[str], answer_id: Id
    ) -> Response[Any]:
        form = await read_form(request)
        action = str(form.get("action", ""))
        into_raw = str(form.get("into", "") or "").strip()
        into = int(into_raw) if into_raw.isdigit() else None
        if action == "merge" and into_raw and into is None:
            from board.domain.errors import Invalid

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
        await threads.act_on_thread(ctx, who.event, who.actor, thread_id, action, form.get("prompt"))
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
    async def audit_log(self, request: Request, ctx: Ctx, who: Who, slug: FromPath[str]) -> Template:
        entries = await audit.entries(ctx, who.event.id)
        return Template(
            "moderation/audit.html", context={"event": who.event, "entries": entries, "staff": who}
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
}


async def _mod_events(
    ctx: BoardContext, fragments: Fragments, event: EventView
) -> AsyncGenerator[ServerSentEventMessage, None]:
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
                yield ServerSentEventMessage(event="answer", data=str(message.id))
            elif isinstance(message, Status):
                yield ServerSentEventMessage(event="status", data=message.status)
            else:
                yield ServerSentEventMessage(comment="ping")

"""Participant pages: join, profile, threads, answers and votes; every form works without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Response, Template

from board.domain import answers, counts, events, join_codes, moderation, similar
from board.domain.answers import Sort
from board.domain.errors import Invalid, NotFound
from board.domain.opinion_groups import OpinionGroups
from board.domain.opinion_views import group_name
from board.domain.views import AnswerView, EventView, ParticipantView, ThreadView
from board.web.deps import Ctx, Id, Opinions, actor, read_form, visitor
from board.web.i18n import gettext, translate_template
from board.web.identity import read_participant
from board.web.render import ElementIds, Fragments, is_htmx, page


@dataclass(frozen=True)
class EventPage:
    event: EventView
    threads: list[ThreadView]
    participant: ParticipantView
    participants: int
    message: str | None = None
    failed: bool = False


@dataclass(frozen=True)
class ThreadPage:
    event: EventView
    thread: ThreadView
    answers: list[AnswerView]
    participant: ParticipantView
    sort: Sort
    draft: str = ""
    error: str | None = None
    client_key: str = ""
    set_aside: tuple[tuple[str, int], ...] = ()
    my_group: str | None = None
    """The opinion group this participant's own votes place them in (their own only)."""

    @property
    def set_aside_total(self) -> int:
        return sum(n for _, n in self.set_aside)


def _with_cookies(response: Response[Any], cookies: list[Any]) -> Response[Any]:
    for cookie in cookies:
        response.set_cookie(cookie)
    return response


async def _my_group(opinions: OpinionGroups, thread_id: int, participant_id: str) -> str | None:
    group = await opinions.group_of(thread_id, participant_id)
    return None if group is None else group_name(group)


def _fresh_key() -> str:
    import uuid

    return str(uuid.uuid4())


class ParticipantController(Controller):
    include_in_schema = False

    @get("/", name="home")
    async def home(self, request: Request, ctx: Ctx) -> Template:
        return page(request, "participant/home.html", {"events": await events.list_events(ctx)})

    @get("/join", name="join")
    async def join(self, request: Request, ctx: Ctx, code: FromQuery[str] = "") -> Response[Any]:
        """A join code (or, as before codes, an event's address or slug) leads to the event."""
        if not code.strip():
            return page(request, "participant/join.html", {"code": "", "error": None})
        try:
            if join_codes.normalise(code) is not None:
                slug = await join_codes.slug_for_code(ctx, code)
            else:
                slug = (await events.get_event(ctx, code.strip().lower().rsplit("/", 1)[-1])).slug
        except NotFound:
            return page(
                request,
                "participant/join.html",
                {"code": code[:80], "error": gettext(join_codes.UNKNOWN)},
                status_code=404,
            )
        return Redirect(f"/e/{slug}", status_code=303)

    @get("/e/{slug:str}", name="event")
    async def event_page(self, request: Request, ctx: Ctx, slug: FromPath[str]) -> Response[Any]:
        event = await events.get_event(ctx, slug)
        participant, cookies = await visitor(ctx, request, event)
        threads = await counts.with_counts(ctx, await events.list_threads(ctx, event.id))
        data = EventPage(event, threads, participant, await counts.participants(ctx, event.id))
        return _with_cookies(
            page(request, "participant/event.html", {"page": data}, block="threads"), cookies
        )

    @post("/e/{slug:str}/profile", name="profile")
    async def profile(self, request: Request, ctx: Ctx, slug: FromPath[str]) -> Response[Any]:
        from board.domain import participants

        event = await events.get_event(ctx, slug)
        participant, cookies = await actor(ctx, request, event)
        form = await read_form(request)
        try:
            participant = await participants.set_profile(
                ctx, event, participant, str(form.get("segment", "")), str(form.get("name", ""))
            )
        except Invalid as exc:
            threads = await counts.with_counts(ctx, await events.list_threads(ctx, event.id))
            data = EventPage(
                event,
                threads,
                participant,
                await counts.participants(ctx, event.id),
                translate_template(exc.template, exc.params),
                failed=True,
            )
            return _with_cookies(
                page(request, "participant/event.html", {"page": data}, block="profile", status_code=422),
                cookies,
            )
        if is_htmx(request):
            threads = await counts.with_counts(ctx, await events.list_threads(ctx, event.id))
            data = EventPage(
                event,
                threads,
                participant,
                await counts.participants(ctx, event.id),
                gettext("Profil enregistré."),
            )
            return _with_cookies(
                page(request, "participant/event.html", {"page": data}, block="profile"), cookies
            )
        return _with_cookies(Redirect(f"/e/{slug}", status_code=303), cookies)

    @get("/e/{slug:str}/t/{thread_id:int}", name="thread")
    async def thread_page(
        self,
        request: Request,
        ctx: Ctx,
        opinions: Opinions,
        slug: FromPath[str],
        thread_id: Id,
        sort: FromQuery[str] = "top",
        rephrase: FromQuery[int | None] = None,
    ) -> Response[Any]:
        event = await events.get_event(ctx, slug)
        thread = await events.get_thread(ctx, event, thread_id)
        participant, cookies = await visitor(ctx, request, event)
        order: Sort = "new" if sort == "new" else "top"
        [thread] = await counts.with_counts(ctx, [thread])
        listed = await answers.list_answers(ctx, thread, sort=order, viewer=participant.id)
        draft = next((a.body for a in listed if a.id == rephrase and a.mine), "")
        data = ThreadPage(
            event,
            thread,
            listed,
            participant,
            order,
            draft=draft,
            client_key=_fresh_key(),
            set_aside=tuple(await moderation.set_aside(ctx, thread.id)),
            my_group=await _my_group(opinions, thread.id, participant.id),
        )
        return _with_cookies(
            page(request, "participant/thread.html", {"page": data}, block="answers"), cookies
        )

    @post("/e/{slug:str}/t/{thread_id:int}/answers", name="answer")
    async def post_answer(
        self, request: Request, ctx: Ctx, slug: FromPath[str], thread_id: Id
    ) -> Response[Any]:
        event = await events.get_event(ctx, slug)
        thread = await events.get_thread(ctx, event, thread_id)
        participant, cookies = await actor(ctx, request, event)
        form = await read_form(request)
        body = str(form.get("body", ""))
        key = str(form.get("client_key", "") or "") or None
        try:
            answer, _new = await answers.post(ctx, event, thread, participant, body, key)
        except Invalid as exc:
            listed: list[AnswerView] = []
            if not is_htmx(request):
                [thread] = await counts.with_counts(ctx, [thread])
                listed = await answers.list_answers(ctx, thread, viewer=participant.id)
            data = ThreadPage(
                event,
                thread,
                listed,
                participant,
                "top",
                draft=body[:2000],
                error=translate_template(exc.template, exc.params),
                client_key=key or _fresh_key(),
            )
            response = page(
                request, "participant/thread.html", {"page": data}, block="answer_form", status_code=422
            )
            response.headers.update({"HX-Retarget": "#answer-form", "HX-Reswap": "outerHTML"})
            return _with_cookies(response, cookies)
        if not is_htmx(request):
            return _with_cookies(
                Redirect(f"/e/{slug}/t/{thread_id}?sort=new#{ElementIds.answer(answer.id)}", status_code=303),
                cookies,
            )
        data = ThreadPage(event, thread, [answer], participant, "top", client_key=_fresh_key())
        status = 201 if answer.is_published else 202
        return _with_cookies(
            page(
                request,
                "participant/thread.html",
                {"page": data, "posted": answer},
                block="posted",
                status_code=status,
            ),
            cookies,
        )

    @get("/e/{slug:str}/t/{thread_id:int}/similar", name="similar")
    async def similar(
        self,
        request: Request,
        ctx: Ctx,
        slug: FromPath[str],
        thread_id: Id,
        draft: Annotated[str, QueryParameter(name="body")] = "",
    ) -> Response[Any]:
        """Answers close to a draft: an HTML fragment, or JSON when asked for. Creates no participant."""
        event = await events.get_event(ctx, slug)
        thread = await events.get_thread(ctx, event, thread_id)
        found = read_participant(request, ctx.settings.secret_key, event.slug, event.id)
        close = await similar.similar_answers(ctx, thread, draft, found[1] if found else None)
        if request.accept.best_match([MediaType.HTML, MediaType.JSON]) == MediaType.JSON:
            return Response(
                [{"id": a.id, "body": a.body, "similarity": score} for a, score in close],
                media_type=MediaType.JSON,
                headers={"Vary": "Accept"},
            )
        fragments: Fragments = request.app.state.fragments
        html = fragments.macro("components/similar_answers.html", "similar_answers", close, event, thread)
        return Response(html, media_type=MediaType.HTML, headers={"Vary": "Accept"})

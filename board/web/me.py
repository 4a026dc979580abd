"""The privacy notice, a participant's own data (see, download, erase) and the event's public record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from litestar import Controller, MediaType, Request, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from board.domain import events, privacy, record
from board.domain.privacy import MyData, Notice
from board.domain.views import EventView
from board.web.deps import Ctx, read_form
from board.web.identity import cookie_name, read_participant
from board.web.render import page

JSON_UTF8 = "application/json; charset=utf-8"


@dataclass(frozen=True)
class MePage:
    event: EventView
    notice: Notice
    data: MyData | None
    erased: bool = False


def _participant_id(ctx: Ctx, request: Request, event: EventView) -> str | None:
    found = read_participant(request, ctx.settings.secret_key, event.slug, event.id)
    return found[1] if found else None


def _forget_cookie(slug: str) -> Cookie:
    return Cookie(
        key=cookie_name(slug), value="", path=f"/e/{slug}", max_age=0, httponly=True, samesite="lax"
    )


class MeController(Controller):
    include_in_schema = False

    @get("/e/{slug:str}/privacy", name="privacy")
    async def notice(self, request: Request, ctx: Ctx, slug: FromPath[str]) -> Template:
        event = await events.get_event(ctx, slug)
        return page(
            request,
            "participant/privacy.html",
            {"page": MePage(event, await privacy.notice(ctx, event), None)},
        )

    @get("/e/{slug:str}/me", name="me")
    async def me(
        self, request: Request, ctx: Ctx, slug: FromPath[str], erased: FromQuery[bool] = False
    ) -> Template:
        event = await events.get_event(ctx, slug)
        data = await privacy.my_data(ctx, event, _participant_id(ctx, request, event))
        notice = await privacy.notice(ctx, event)
        return page(request, "participant/me.html", {"page": MePage(event, notice, data, erased)})

    @get("/e/{slug:str}/me.json", name="me_json")
    async def me_json(self, request: Request, ctx: Ctx, slug: FromPath[str]) -> Response[bytes]:
        event = await events.get_event(ctx, slug)
        data = await privacy.my_data(ctx, event, _participant_id(ctx, request, event))
        body = (
            data.as_json()
            if data
            else json.dumps({"event": slug, "participant": None, "answers": [], "votes": []}, indent=2)
        )
        return Response(
            body.encode("utf-8"),
            media_type=JSON_UTF8,
            headers={
                "Content-Disposition": f'attachment; filename="{slug}-me.json"',
                "Cache-Control": "no-store",
            },
        )

    @get("/e/{slug:str}/me/erase", name="erase_confirm")
    async def confirm(self, request: Request, ctx: Ctx, slug: FromPath[str]) -> Template:
        event = await events.get_event(ctx, slug)
        data = await privacy.my_data(ctx, event, _participant_id(ctx, request, event))
        notice = await privacy.notice(ctx, event)
        return page(request, "participant/erase.html", {"page": MePage(event, notice, data)})

    @post("/e/{slug:str}/me/erase", name="erase")
    async def erase(self, request: Request, ctx: Ctx, slug: FromPath[str]) -> Response[Any]:
        event = await events.get_event(ctx, slug)
        form = await read_form(request)
        participant_id = _participant_id(ctx, request, event)
        if participant_id:
            await privacy.erase(ctx, event, participant_id, with_answers=form.get("answers") == "1")
        response: Response[Any] = Redirect(f"/e/{slug}/me?erased=1", status_code=303)
        response.set_cookie(_forget_cookie(slug))
        return response

    @get("/e/{slug:str}/record.json", name="record", media_type=MediaType.JSON)
    async def record_json(self, ctx: Ctx, slug: FromPath[str]) -> Response[bytes]:
        event = await events.get_event(ctx, slug)
        chain = await record.chain(ctx, event.id, event.slug)
        body = json.dumps(chain.as_json(), ensure_ascii=False, indent=1)
        return Response(body.encode("utf-8"), media_type=JSON_UTF8)

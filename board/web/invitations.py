"""Staff of an event: the admin's page of roles and invitations, and the invitation link itself."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from board.domain import invitations
from board.domain.context import BoardContext
from board.domain.errors import Conflict, Invalid
from board.domain.invitations import InvitationView
from board.web.deps import Ctx, Id, read_form
from board.web.i18n import translate_template
from board.web.staff import Staff, Who, current_staff, open_session, requires_role, session_cookie, signed_in

NO_STORE = CacheControlHeader(no_store=True, private=True)


def invite_url(ctx: BoardContext, token: str) -> str:
    return f"{ctx.settings.public_url.rstrip('/')}/invite/{token}"


async def _staff_page(
    ctx: BoardContext,
    who: Staff,
    *,
    created: tuple[InvitationView, str] | None = None,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Template:
    return Template(
        "staff/staff.html",
        context={
            "event": who.event,
            "staff": who,
            "members": await invitations.staff_of(ctx, who.event),
            "admins": await invitations.admins(ctx),
            "invitations": await invitations.pending_invitations(ctx, who.event),
            "created": created[0] if created else None,
            "link": invite_url(ctx, created[1]) if created else None,
            "error": error,
            "form": form or {},
        },
        status_code=status,
    )


class StaffController(Controller):
    """Admins only: who holds which role on the event, open invitations, invite and revoke."""

    path = "/admin/events/{slug:str}"
    include_in_schema = False
    cache_control = NO_STORE
    guards = [requires_role]  # noqa: RUF012
    opt = {"role": "admin"}  # noqa: RUF012
    dependencies = {"who": Provide(current_staff, sync_to_thread=False)}  # noqa: RUF012

    @get("/staff", name="staff_page")
    async def staff_page(self, ctx: Ctx, who: Who, slug: FromPath[str]) -> Template:
        return await _staff_page(ctx, who)

    @post("/invitations", name="staff_invite")
    async def invite(self, request: Request, ctx: Ctx, who: Who, slug: FromPath[str]) -> Template:
        """The link is in this response only: it is never shown again."""
        form = await read_form(request)
        try:
            created = await invitations.invite(ctx, who.event, who.actor, form.get("role"), form.get("label"))
        except Invalid as exc:
            message = translate_template(exc.template, exc.params)
            return await _staff_page(ctx, who, status=422, error=message, form=form)
        return await _staff_page(ctx, who, created=created, status=201)

    @post("/invitations/{invitation_id:int}/withdraw", name="staff_withdraw")
    async def withdraw(self, ctx: Ctx, who: Who, slug: FromPath[str], invitation_id: Id) -> Redirect:
        await invitations.withdraw(ctx, who.event, who.actor, invitation_id)
        return Redirect(f"/admin/events/{slug}/staff", status_code=303)

    @post("/staff/{username:str}/revoke", name="staff_revoke")
    async def revoke(self, ctx: Ctx, who: Who, slug: FromPath[str], username: FromPath[str]) -> Redirect:
        await invitations.revoke_role(ctx, who.event, who.actor, username)
        return Redirect(f"/admin/events/{slug}/staff", status_code=303)


class InviteController(Controller):
    """The one-time link: choose a username and password (or, signed in, take the role) and be signed in."""

    path = "/invite/{token:str}"
    include_in_schema = False
    cache_control = NO_STORE

    @get("/", name="invite_page")
    async def page(self, request: Request, ctx: Ctx, token: FromPath[str]) -> Template:
        offered = await invitations.open_invitation(ctx, token)
        account = await signed_in(ctx, request)
        return _invite_form(offered, account.username if account else None)

    @post("/", name="invite_accept")
    async def accept(self, request: Request, ctx: Ctx, token: FromPath[str]) -> Response[Any]:
        form = await read_form(request)
        account = await signed_in(ctx, request)
        try:
            made, offered = await invitations.accept(
                ctx, token, account, form.get("username"), form.get("password")
            )
        except (Invalid, Conflict) as exc:
            offered = await invitations.open_invitation(ctx, token)
            status = 409 if isinstance(exc, Conflict) else 422
            message = translate_template(exc.template, exc.params)
            return _invite_form(
                offered, None, error=message, username=form.get("username", ""), status=status
            )
        session = await open_session(ctx, request, made)
        response: Response[Any] = Redirect(f"/mod/{offered.event_slug}", status_code=303)
        response.set_cookie(session_cookie(session, secure=ctx.settings.public_url.startswith("https://")))
        return response


def _invite_form(
    offered: InvitationView,
    account: str | None,
    *,
    error: str | None = None,
    username: str = "",
    status: int = 200,
) -> Template:
    return Template(
        "staff/invite.html",
        context={"invitation": offered, "account": account, "error": error, "username": username},
        status_code=status,
    )

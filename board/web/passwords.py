"""Changing one's password, and the one-time reset link: both end the account's other sessions."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import CacheControlHeader
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Response, Template

from board.domain import passwords
from board.domain.accounts import AccountView
from board.domain.context import BoardContext
from board.domain.errors import Forbidden, Invalid, TooFast
from board.web.accounts import login_attempt
from board.web.deps import Ctx, read_form
from board.web.i18n import translate_template
from board.web.identity import client_address
from board.web.staff import SignInRequired, open_session, session_cookie, signed_in

NO_STORE = CacheControlHeader(no_store=True, private=True)


async def _signed_in_as(
    ctx: BoardContext, request: Request, account: AccountView, target: str
) -> Response[Any]:
    """A fresh session under the account's new stamp: the sessions opened before no longer match it."""
    token = await open_session(ctx, request, account)
    response: Response[Any] = Redirect(target, status_code=303)
    response.set_cookie(session_cookie(token, secure=ctx.settings.public_url.startswith("https://")))
    return response


class PasswordController(Controller):
    include_in_schema = False
    cache_control = NO_STORE

    @get("/account/password", name="password_page")
    async def page(
        self, request: Request, ctx: Ctx, done: Annotated[str | None, QueryParameter(name="done")] = None
    ) -> Template:
        account = await signed_in(ctx, request)
        if account is None:
            raise SignInRequired()
        return Template("staff/password.html", context={"account": account, "done": done, "error": None})

    @post("/account/password", name="password_change")
    async def change(self, request: Request, ctx: Ctx) -> Response[Any]:
        account = await signed_in(ctx, request)
        if account is None:
            raise SignInRequired()
        form = await read_form(request)
        attempt = login_attempt(account.username, client_address(request, ctx.settings.trusted_proxies))
        if not await ctx.live.limits.hit("login-user", attempt):
            wait = await ctx.live.limits.retry_after("login-user", attempt) or 60
            raise TooFast("Trop de tentatives de connexion : réessayez dans {wait} s.", wait)
        try:
            changed = await passwords.change_password(
                ctx, account, form.get("current", ""), form.get("new", "")
            )
        except (Invalid, Forbidden) as exc:
            status = 422 if isinstance(exc, Invalid) else 403
            message = translate_template(exc.template, exc.params)
            return Template(
                "staff/password.html",
                context={"account": account, "done": None, "error": message},
                status_code=status,
            )
        await ctx.live.limits.clear("login-user", attempt)
        return await _signed_in_as(ctx, request, changed, "/account/password?done=changed")

    @get("/reset/{token:str}", name="reset_page")
    async def reset_page(self, ctx: Ctx, token: FromPath[str]) -> Template:
        username = await passwords.open_reset(ctx, token)
        return Template("staff/reset.html", context={"username": username, "error": None})

    @post("/reset/{token:str}", name="reset_use")
    async def reset(self, request: Request, ctx: Ctx, token: FromPath[str]) -> Response[Any]:
        form = await read_form(request)
        try:
            account = await passwords.use_reset(ctx, token, form.get("password", ""))
        except Invalid as exc:
            username = await passwords.open_reset(ctx, token)
            message = translate_template(exc.template, exc.params)
            return Template(
                "staff/reset.html", context={"username": username, "error": message}, status_code=422
            )
        return await _signed_in_as(ctx, request, account, "/account/password?done=reset")

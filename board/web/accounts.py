"""Signing in and out."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect, Response, Template

from board.domain import accounts
from board.domain.errors import TooFast
from board.web.deps import Ctx, read_form
from board.web.i18n import N_
from board.web.identity import client_address
from board.web.staff import SESSION_COOKIE, close_session, open_session, session_cookie, signed_in

FAILED = N_("Identifiant ou mot de passe incorrect.")


def login_attempt(username: str, address: str) -> str:
    """Sign-ins are limited per username from one address (and per address): guesses from
    elsewhere cannot lock the rightful person out."""
    return f"{username.lower()}|{address}"


def _safe_next(target: str | None) -> str:
    """Back where the person was going, on this site only; else the organisers' space."""
    local = target and target.startswith("/") and not target.startswith(("//", "/\\"))
    return target if local and target else "/admin"


class AccountsController(Controller):
    include_in_schema = False

    @get("/login", name="login")
    async def login_page(
        self, request: Request, ctx: Ctx, after: Annotated[str | None, QueryParameter(name="next")] = None
    ) -> Template:
        account = await signed_in(ctx, request)
        return Template("login.html", context={"next": _safe_next(after), "account": account, "error": None})

    @post("/login", name="login_post")
    async def login(self, request: Request, ctx: Ctx) -> Response[Any]:
        form = await read_form(request)
        username = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        target = _safe_next(str(form.get("next", "") or ""))
        address = client_address(request, ctx.settings.trusted_proxies)
        attempt = login_attempt(username, address)
        for kind, key in (("login-user", attempt), ("login-address", address)):
            if not await ctx.live.limits.hit(kind, key):
                wait = await ctx.live.limits.retry_after(kind, key) or 60
                raise TooFast("Trop de tentatives de connexion : réessayez dans {wait} s.", wait)
        account = await accounts.authenticate(ctx, username, password)
        if account is None:
            return Template(
                "login.html",
                context={"next": target, "account": None, "error": FAILED, "username": username},
                status_code=401,
            )
        await ctx.live.limits.clear("login-user", attempt)
        token = await open_session(ctx, request, account)
        response: Response[Any] = Redirect(target, status_code=303)
        response.set_cookie(session_cookie(token, secure=ctx.settings.public_url.startswith("https://")))
        return response

    @post("/logout", name="logout")
    async def logout(self, request: Request, ctx: Ctx) -> Response[Any]:
        await close_session(ctx, request)
        response: Response[Any] = Redirect("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

"""Moderator sessions: a random token in an HttpOnly cookie, its account id in the live layer's store.

A new token is issued at every login and deleted at logout; participant and API paths never touch it.
The stored value also holds the account's password stamp: a new password ends the sessions opened before.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.handlers.base import BaseRouteHandler

from board.domain import accounts, events, lifecycle
from board.domain.accounts import AccountView
from board.domain.audit import Actor
from board.domain.context import BoardContext
from board.domain.errors import Forbidden
from board.domain.views import EventView

SESSION_COOKIE = "board_session"
SESSION_SECONDS = 12 * 60 * 60


class SignInRequired(HTTPException):
    """Anonymous visitor on a moderation route: sent to /login."""

    status_code = 303


@dataclass(frozen=True)
class Staff:
    account: AccountView
    event: EventView
    role: str

    @property
    def actor(self) -> Actor:
        return Actor(self.account.id, self.account.username, self.role)


def session_cookie(token: str, *, secure: bool, max_age: int = SESSION_SECONDS) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        path="/",
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
    )


async def open_session(ctx: BoardContext, request: Request, account: AccountView) -> str:
    await close_session(ctx, request)
    token = secrets.token_urlsafe(32)
    await ctx.live.sessions.set(token, f"{account.id}:{account.stamp}", expires_in=SESSION_SECONDS)
    return token


async def close_session(ctx: BoardContext, request: Request) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await ctx.live.sessions.delete(token)


async def signed_in(ctx: BoardContext, request: ASGIConnection[Any, Any, Any, Any]) -> AccountView | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    raw = await ctx.live.sessions.get(token)
    if raw is None:
        return None
    account_id, _, stamp = raw.decode().partition(":")
    account = await accounts.get_account(ctx, int(account_id)) if account_id.isdigit() else None
    if account is None or account.stamp != stamp:
        return None
    return account


async def staff(
    ctx: BoardContext, request: ASGIConnection[Any, Any, Any, Any], slug: str, needed: str = "facilitator"
) -> Staff:
    """The signed-in account with at least `needed` on the event: 303 to /login, or 403.

    An archived event is read-only: its pages open, every write is refused (409).
    """
    account = await signed_in(ctx, request)
    if account is None:
        raise SignInRequired()
    event = await events.get_event(ctx, slug, public=False)
    role = await accounts.role_on(ctx, account, event.id)
    if role is None:
        raise Forbidden("Votre compte n'a pas de rôle sur cet événement.")
    if not accounts.allows(role, needed):
        if needed == "admin":
            raise Forbidden("Cette page est réservée aux administrateurs.")
        raise Forbidden("Cette action est réservée aux modérateurs de l'événement.")
    if request.scope.get("method", "GET") not in ("GET", "HEAD"):
        lifecycle.check_writable(event)
    return Staff(account, event, role)


async def requires_role(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard: the signed-in account holds at least the handler's `opt["role"]` on the path's event.

    The staff member found is kept on the connection for the `who` dependency.
    """
    ctx: BoardContext = connection.app.state.board
    needed = str(handler.opt.get("role", "facilitator"))
    connection.state.staff = await staff(ctx, connection, connection.path_params["slug"], needed)


def current_staff(request: Request) -> Staff:
    who: Staff = request.state.staff
    return who


Who = NamedDependency[Staff]
"""The staff member the `requires_role` guard let in."""

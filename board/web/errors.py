"""Error responses: HTML pages (or an htmx flash message) on HTML routes, JSON under /api."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Litestar, MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.response import Redirect, Template
from litestar.types import Receive, Scope, Send
from sqlalchemy.exc import DBAPIError

from board.domain.errors import BoardError, Conflict, Forbidden, Gone, Invalid, NotFound, TooFast
from board.web.i18n import N_, gettext, translate_template
from board.web.render import is_htmx
from board.web.staff import SignInRequired

STATUS = {NotFound: 404, Invalid: 422, Forbidden: 403, Conflict: 409, Gone: 410, TooFast: 429}
PAGE_MISSING = N_("Cette page n'existe pas.")
TITLES = {
    400: N_("Requête invalide"),
    403: N_("Accès refusé"),
    404: N_("Page introuvable"),
    405: N_("Méthode non permise"),
    409: N_("Action impossible pour l'instant"),
    410: N_("Lien expiré"),
    413: N_("Envoi trop volumineux"),
    422: N_("Saisie à corriger"),
    429: N_("Un peu trop vite"),
    500: N_("Erreur du serveur"),
}
NUL_REFUSED = "22021"
NUL_MESSAGE = N_("La saisie contient un caractère nul (U+0000) : retirez-le puis réessayez.")
TOO_LARGE_MESSAGE = N_("L'envoi dépasse la taille que cette adresse accepte.")
CSRF_MESSAGE = N_("Le jeton de sécurité du formulaire manque ou a expiré : rechargez la page puis réessayez.")


def _respond(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response[Any]:
    headers = dict(headers or {})
    if request.url.path.startswith("/api/") or request.url.path.startswith("/schema"):
        return Response({"status_code": status, "detail": message}, status_code=status, headers=headers)
    headers.setdefault("Cache-Control", "no-store")
    title = gettext(TITLES.get(status, "Erreur"))
    if is_htmx(request):
        headers.update({"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"})
        return Template(
            template_name="components/flash.html",
            context={"message": message, "level": "error"},
            status_code=status,
            headers=headers,
        )
    return Template(
        template_name="error.html",
        context={"status": status, "title": title, "message": message},
        status_code=status,
        headers=headers,
        media_type=MediaType.HTML,
    )


def board_error(request: Request, exc: BoardError) -> Response[Any]:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooFast) else None
    return _respond(request, status, translate_template(exc.template, exc.params), headers)


def http_error(request: Request, exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
        message = gettext(CSRF_MESSAGE)
    elif isinstance(exc, NotFoundException):
        message = gettext(exc.detail) if exc.detail and exc.detail != "Not Found" else gettext(PAGE_MISSING)
    elif isinstance(exc, RequestEntityTooLarge):
        message = gettext(TOO_LARGE_MESSAGE)
    elif isinstance(exc, ValidationException):
        message = gettext("La requête contient une valeur invalide.")
    else:
        message = gettext(exc.detail or TITLES.get(status, N_("Erreur")))
    return _respond(request, status, message, dict(exc.headers or {}))


def sign_in_required(request: Request, exc: SignInRequired) -> Response[Any]:
    """Anonymous on a moderation route: to /login, and back here afterwards."""
    path = request.url.path
    if request.method != "GET" or path.endswith("/stream"):
        path = "/admin" if path.startswith("/admin") else "/".join(path.split("/")[:3])
    target = f"/login?next={quote(path)}"
    if is_htmx(request):
        return Response("", status_code=200, headers={"HX-Redirect": target})
    return Redirect(target, status_code=303)


def database_error(request: Request, exc: DBAPIError) -> Response[Any]:
    """PostgreSQL refuses NUL in text (SQLSTATE 22021): that is the sender's input, not a server fault.

    The domain refuses NUL in the fields it cleans; this covers any text field that reaches SQL unchecked.
    """
    if getattr(exc.orig, "sqlstate", None) == NUL_REFUSED:
        return _respond(request, 422, gettext(NUL_MESSAGE))
    return server_error(request, exc)


def server_error(request: Request, exc: Exception) -> Response[Any]:
    request.logger.exception("unhandled error", exc_info=exc)
    return _respond(request, 500, gettext("Une erreur inattendue est survenue ; réessayez dans un instant."))


HANDLERS: dict[type[Exception] | int, Any] = {
    SignInRequired: sign_in_required,
    DBAPIError: database_error,
    BoardError: board_error,
    HTTPException: http_error,
    500: server_error,
}


def handler_for(exc: Exception) -> Any:
    """The handler Litestar would pick: an HTTP status of its own first, then the nearest class."""
    status = getattr(exc, "status_code", None)
    if isinstance(exc, HTTPException) and status in HANDLERS:
        return HANDLERS[status]
    return next((HANDLERS[kind] for kind in type(exc).__mro__ if kind in HANDLERS), server_error)


async def send_error(app: Litestar, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """Answer an error raised before Litestar's routing (the vote's own entry) as its handlers would."""
    request: Request = app.request_class(scope, receive=receive, send=send)
    response = handler_for(exc)(request, exc)
    await response.to_asgi_response(app=None, request=request)(scope, receive, send)

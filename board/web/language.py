"""Switching the interface language; the choice is remembered in a cookie."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import get
from litestar.datastructures import Cookie
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Response

from board.domain.errors import NotFound
from board.web.i18n import COOKIE, LANGUAGES


@get("/lang/{code:str}", name="language", include_in_schema=False)
async def switch_language(
    code: FromPath[str], after: Annotated[str | None, QueryParameter(name="next")] = None
) -> Response[Any]:
    if code not in LANGUAGES:
        raise NotFound("Cette langue n'est pas disponible.")
    target = after if after and after.startswith("/") and not after.startswith("//") else "/"
    response: Response[Any] = Redirect(target, status_code=303)
    response.set_cookie(Cookie(key=COOKIE, value=code, path="/", max_age=365 * 24 * 3600, samesite="lax"))
    return response

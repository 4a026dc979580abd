"""The interface language: French first, English second, from a remembered choice or Accept-Language.

Templates and error messages are written in French; English comes from a Babel catalog (.po) read at
start-up. The language of the request in progress lives in a context variable, so fragments rendered
for a stream speak the language of the browser that opened it.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import cache, lru_cache
from gettext import NullTranslations
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

LANGUAGES = ("fr", "en")
DEFAULT = "fr"
COOKIE = "lang"
CATALOGS = Path(__file__).resolve().parent.parent / "translations"

_current: ContextVar[str] = ContextVar("language", default=DEFAULT)


class SourceLanguage(NullTranslations):
    """The French source strings as they are, with French plurals: 0 and 1 take the singular."""

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return msgid2 if n > 1 else msgid1


@cache
def catalog(language: str) -> NullTranslations:
    path = CATALOGS / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT or not path.exists():
        return SourceLanguage()
    with path.open("rb") as po:
        messages = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, messages)
    compiled.seek(0)
    return Translations(fp=compiled)


def N_(message: str) -> str:
    """Marks a string for the catalog where it is translated later, by value."""
    return message


def current() -> str:
    return _current.get()


def gettext(message: str, **params: object) -> str:
    text = catalog(current()).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    text = catalog(current()).ngettext(singular, plural, n)
    return text % {"num": n, **params}


def translate_template(template: str, params: dict[str, object]) -> str:
    """A domain message (a French `str.format` template) in the current language, its decimals written
    the language's way (« 2,9 », "2.9")."""
    language = current()
    shown = {
        key: format_decimal(value, locale=language) if isinstance(value, float) else value
        for key, value in params.items()
    }
    return catalog(language).gettext(template).format(**shown)


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The remembered choice, else the first supported language the browser asks for, else French."""
    if cookie in LANGUAGES:
        return cookie
    header = accept_language or ""
    return _asked(header) if len(header) <= CACHED_HEADER else _first_supported(header)


CACHED_HEADER = 256
"""Browsers send a handful of short Accept-Language values with every request: those are parsed once."""


@lru_cache(maxsize=1024)
def _asked(accept_language: str) -> str:
    return _first_supported(accept_language)


def _first_supported(accept_language: str) -> str:
    ranked = []
    for index, part in enumerate(accept_language.split(",")):
        code, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((-weight, index, code.split("-")[0].strip().lower()))
    for _weight, _index, code in sorted(ranked):
        if code in LANGUAGES:
            return code
    return DEFAULT


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


OWN_LANGUAGE = "own_language"
"""Route `opt` key of a route that chooses its language itself, from headers it reads anyway (the vote)."""


class LanguageMiddleware(ASGIMiddleware):
    """Sets the request's language before anything renders."""

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = OWN_LANGUAGE

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        use(choose(_cookie(scope, COOKIE), _header(scope, b"accept-language")))
        await next_app(scope, receive, send)


def use(language: str) -> None:
    """Make `language` the current request's."""
    _current.set(language)


def template_gettext(message: str) -> str:
    return catalog(current()).gettext(message)


def template_ngettext(singular: str, plural: str, n: int) -> str:
    return catalog(current()).ngettext(singular, plural, n)

"""The vote route, the board's hottest: it does what a vote needs and nothing else.

A vote is a 400-byte fragment answering a 20-byte form, so it is taken before Litestar's routing
and middleware (`VoteDoor`, an ASGI wrapper around the app's handler): a URL-encoded POST to an
answer's vote URL is answered here; anything else, another content type included, goes on to
Litestar, whose `vote` route gives the same answer. Either way the request is read once: one pass
over the headers, the body as it arrives, the participant cookie verified once. The CSRF token is
checked here, as Litestar's CSRF middleware would (a token from the `x-csrftoken` header or the
form's `_csrf_token`, equal to the `csrftoken` cookie, signed by the board's secret); the page's
security headers are written into the reply; errors are answered by the app's own handlers
(board/web/errors.py). The vote itself is the writer's (board/domain/votes.py): these two files
are the whole vote path.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from litestar import Controller, Litestar, Request, post
from litestar.datastructures import Cookie
from litestar.exceptions import ClientException, NotFoundException, PermissionDeniedException
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, generate_csrf_hash
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from board.domain.context import BoardContext
from board.domain.newcomers import Forgotten
from board.domain.participants import new_participant_id
from board.domain.votes import VoteWriter, parse_value
from board.web import i18n
from board.web.connections import OWN_CONNECTIONS
from board.web.deps import MAX_ID, form_fields, read_form
from board.web.errors import send_error
from board.web.headers import PAGE_HEADERS, with_defaults
from board.web.i18n import OWN_LANGUAGE
from board.web.identity import cookie_name, forwarded_address, participant_cookie, unsign
from board.web.render import ElementIds, Fragments

MAX_VOTE_BODY = 4096
"""A vote form is a few dozen bytes; anything much larger is not a vote."""
VOTE_SCOPES = {"similar": "similar"}
"""Where else on a page an answer's vote buttons may be: their copy keeps ids of its own."""
VOTE_PATH = re.compile(r"/e/([^/\x00]+)/answers/([0-9]{1,12})/vote")
"""The vote URL as the door takes it; any other spelling goes to Litestar's router."""
CSRF_COOKIE = "csrftoken"
CSRF_HEADER = b"x-csrftoken"
FORM = b"application/x-www-form-urlencoded"
_WANTED = {
    b"hx-request",
    CSRF_HEADER,
    b"content-type",
    b"content-length",
    b"cookie",
    b"accept-language",
    b"x-forwarded-for",
}


class VoteController(Controller):
    include_in_schema = False

    @post(
        "/e/{slug:str}/answers/{answer_id:int}/vote",
        name="vote",
        opt={OWN_CONNECTIONS: True, OWN_LANGUAGE: True, "exclude_from_csrf": True},
    )
    async def vote(self, request: Request) -> Reply:
        """Cast, change or withdraw a vote: the widget's fragment for htmx, a 303 back to the answer without."""
        sent = _headers(request.scope)
        cookies = _speak(sent)
        slug: str = request.path_params["slug"]
        answer_id: int = request.path_params["answer_id"]
        _check(answer_id)
        if sent.get(b"content-type", b"").startswith(FORM):
            form = await _form(request.receive, sent)
        else:
            form = await read_form(request)
        return await _cast(request.app, request.scope, sent, cookies, slug, answer_id, form)


class VoteDoor:
    """The vote's own entry, before Litestar's router and middleware: for a vote they would parse the
    same headers again and wrap the reply in layers a 400-byte fragment does not use."""

    def __init__(self, app: Litestar, inner: ASGIApp) -> None:
        self.app = app
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (
            VOTE_PATH.fullmatch(scope["path"])
            if scope["type"] == "http" and scope.get("method") == "POST"
            else None
        )
        sent = _headers(scope) if found else {}
        if found is None or not sent.get(b"content-type", b"").startswith(FORM):
            await self.inner(scope, receive, send)
            return
        try:
            cookies = _speak(sent)
            answer_id = int(found[2])
            _check(answer_id)
            form = await _form(receive, sent)
            reply = await _cast(self.app, scope, sent, cookies, found[1], answer_id, form)
        except Exception as exc:
            await send_error(self.app, scope, receive, _secured(send), exc)
            return
        await reply(scope, receive, send)


def _secured(send: Send) -> Send:
    """`send` with the page's security headers added to a response that lacks them."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = with_defaults(list(message.get("headers", ())), PAGE_HEADERS)
        await send(message)

    return send_with_headers


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The few request headers a vote reads, the first of each name; cookies split over several
    headers (as HTTP/2 may send them) joined into one."""
    sent: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name not in _WANTED:
            continue
        if name not in sent:
            sent[name] = value
        elif name == b"cookie":
            sent[name] += b"; " + value
    return sent


def _speak(sent: dict[bytes, bytes]) -> Mapping[str, str]:
    """Answer in the participant's language; the request's cookies, read on the way."""
    cookies = _cookies(sent.get(b"cookie", b""))
    i18n.use(i18n.choose(cookies.get(i18n.COOKIE), sent.get(b"accept-language", b"").decode("latin-1")))
    return cookies


def _check(answer_id: int) -> None:
    if not 1 <= answer_id <= MAX_ID:
        raise NotFoundException("Cette réponse n'existe pas.")


async def _cast(
    app: Litestar,
    scope: Scope,
    sent: dict[bytes, bytes],
    cookies: Mapping[str, str],
    slug: str,
    answer_id: int,
    form: Mapping[str, str],
) -> Reply:
    ctx: BoardContext = app.state.board
    votes: VoteWriter = app.state.votes
    submitted = sent[CSRF_HEADER].decode("latin-1") if CSRF_HEADER in sent else form.get("_csrf_token")
    if not _csrf_matches(ctx.settings.secret_key, submitted, cookies.get(CSRF_COOKIE)):
        raise PermissionDeniedException("CSRF token verification failed")
    value = parse_value(form.get("value"))
    found = unsign(ctx.settings.secret_key, cookies.get(cookie_name(slug)))
    event_id, participant_id = found if found else (None, new_participant_id())
    client = scope.get("client")
    address = forwarded_address(
        client[0] if client else "unknown",
        sent.get(b"x-forwarded-for", b"").decode("latin-1"),
        ctx.settings.trusted_proxies,
    )
    try:
        outcome = await votes.cast(slug, event_id, answer_id, participant_id, value, address)
    except Forgotten:
        event_id, participant_id = None, new_participant_id()
        outcome = await votes.cast(slug, event_id, answer_id, participant_id, value, address)
    new_cookies: list[Cookie] = []
    if event_id is None:
        secure = ctx.settings.public_url.startswith("https://")
        key = ctx.settings.secret_key
        new_cookies.append(participant_cookie(key, slug, outcome.event_id, participant_id, secure=secure))
    if sent.get(b"hx-request") != b"true":
        back = f"/e/{slug}/t/{outcome.thread_id}#{ElementIds.answer(answer_id)}"
        return Reply.of(303, b"", new_cookies, (b"location", back.encode("latin-1")))
    fragments: Fragments = app.state.fragments
    widget = fragments.vote_widget(
        slug,
        answer_id,
        outcome.agree,
        outcome.disagree,
        outcome.value,
        outcome.voting == "upvote",
        True,
        VOTE_SCOPES.get(form.get("scope", ""), ""),
    )
    return Reply.of(200, widget.encode(), new_cookies, _HTML)


_HTML = (b"content-type", b"text/html; charset=utf-8")
_TEXT = (b"content-type", b"text/plain; charset=utf-8")
_SECURE_HTML = [*PAGE_HEADERS, (b"cache-control", b"no-store")]


@dataclass(frozen=True, slots=True)
class Reply:
    """The vote's answer as an ASGI app, its few headers encoded as they are written: a response
    object would build and search a header structure on every vote."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    @classmethod
    def of(cls, status: int, body: bytes, cookies: list[Cookie], header: tuple[bytes, bytes]) -> Reply:
        headers = [header, (b"content-length", str(len(body)).encode())]
        if header[0] != b"content-type":
            headers.append(_TEXT)
        headers.extend(cookie.to_encoded_header() for cookie in cookies)
        headers.extend(_SECURE_HTML if header is _HTML else PAGE_HEADERS)
        return cls(status, headers, body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


async def _form(receive: Receive, sent: dict[bytes, bytes]) -> Mapping[str, str]:
    """A URL-encoded form's fields (the first of each name), read straight from the ASGI messages."""
    declared = sent.get(b"content-length", b"0")
    if declared.isdigit() and int(declared) > MAX_VOTE_BODY:
        raise ClientException("Formulaire trop long.", status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientException("La requête a été interrompue.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_VOTE_BODY:
            raise ClientException("Formulaire trop long.", status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return _vote_form(b"".join(chunks))


def _read_once(
    parse: Callable[[bytes], dict[str, str]], longest: int, kept: int
) -> Callable[[bytes], Mapping[str, str]]:
    """`parse`, remembered for inputs of at most `longest` bytes: a phone sends the same cookies and
    one of a few short forms with every vote. What it returns is read-only, being shared."""
    remembered = lru_cache(maxsize=kept)(lambda raw: MappingProxyType(parse(raw)))
    return lambda raw: remembered(raw) if len(raw) <= longest else parse(raw)


def _parse_cookies(raw: bytes) -> dict[str, str]:
    """The request's cookies by name, the last of each as Litestar reads them (so that this route and
    the pages agree on a cookie sent twice); the board's own are plain tokens, never quoted."""
    found: dict[str, str] = {}
    for part in raw.decode("latin-1").split(";"):
        name, _, value = part.partition("=")
        found[name.strip()] = value.strip()
    return found


_vote_form = _read_once(form_fields, longest=160, kept=4096)
_cookies = _read_once(_parse_cookies, longest=512, kept=8192)


def _csrf_matches(secret: str, submitted: str | None, cookie: str | None) -> bool:
    """Litestar's rule: both tokens signed by the secret, with the same random part; then they are equal."""
    return bool(submitted and cookie and hmac.compare_digest(submitted, cookie) and _signed(secret, cookie))


@lru_cache(maxsize=8192)
def _signed(secret: str, token: str) -> bool:
    """Whether a CSRF token carries the secret's signature; a browser sends the same one with every vote."""
    random_part, signature = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
    return hmac.compare_digest(signature, generate_csrf_hash(random_part, secret))

"""Participant identity: a random id in a signed, HttpOnly, SameSite=Lax cookie, one per event."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from litestar import Request
from litestar.datastructures import Cookie

COOKIE_MAX_AGE = 60 * 60 * 24 * 30


def cookie_name(slug: str) -> str:
    return f"bp_{slug}"


@lru_cache(maxsize=16384)
def _mac(secret: str, value: str) -> str:
    """The cookie's signature; a phone sends the same cookie with every vote, so it is computed once."""
    digest = hmac.new(secret.encode(), value.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


def sign(secret: str, event_id: int, participant_id: str) -> str:
    value = f"{event_id}.{participant_id}"
    return f"{value}.{_mac(secret, value)}"


def unsign(secret: str, raw: str | None, event_id: int | None = None) -> tuple[int, str] | None:
    """(event id, participant id) from a cookie value, or None if it was not signed by us."""
    if not raw or raw.count(".") != 2:
        return None
    event_part, participant_id, mac = raw.split(".")
    if not hmac.compare_digest(mac, _mac(secret, f"{event_part}.{participant_id}")):
        return None
    if not event_part.isdigit() or (event_id is not None and int(event_part) != event_id):
        return None
    return int(event_part), participant_id


def read_participant(
    request: Request, secret: str, slug: str, event_id: int | None = None
) -> tuple[int, str] | None:
    return unsign(secret, request.cookies.get(cookie_name(slug)), event_id)


def participant_cookie(secret: str, slug: str, event_id: int, participant_id: str, *, secure: bool) -> Cookie:
    return Cookie(
        key=cookie_name(slug),
        value=sign(secret, event_id, participant_id),
        path=f"/e/{slug}",
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def client_address(request: Request, trusted_proxies: frozenset[str] = frozenset()) -> str:
    """The visitor's address; behind a trusted proxy, the nearest untrusted hop of X-Forwarded-For."""
    peer = request.client.host if request.client else "unknown"
    if peer not in trusted_proxies:
        return peer
    return forwarded_address(peer, request.headers.get("x-forwarded-for", ""), trusted_proxies)


def forwarded_address(peer: str, forwarded_for: str, trusted_proxies: frozenset[str]) -> str:
    """The nearest hop of X-Forwarded-For that is not a trusted proxy, else the peer itself."""
    if peer not in trusted_proxies:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted_proxies:
            return hop
    return peer

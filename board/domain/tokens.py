"""One-time link tokens: shown once to a person, kept only as a hash."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> tuple[str, str]:
    """(token, its hash): the token goes into the link, the hash into the database."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()

"""Moderator and facilitator accounts: argon2id hashes and per-event roles."""

from __future__ import annotations

import asyncio
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from board.domain.context import BoardContext
from board.domain.errors import Conflict, Invalid, NotFound
from board.models import Account, Event, EventRole

ROLES = ("moderator", "facilitator")
RANK = {"facilitator": 1, "moderator": 2, "admin": 3}
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("an unknown user still costs one verification")


@dataclass(frozen=True)
class AccountView:
    id: int
    username: str
    is_admin: bool
    stamp: str = ""
    """Changes with the password: sessions opened under another stamp are over."""


def password_stamp(password_hash: str) -> str:
    """Every hash has a fresh salt, so a new password (even the same one) gives a new stamp."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _view(account: Account) -> AccountView:
    assert account.id is not None
    return AccountView(account.id, account.username, account.is_admin, password_stamp(account.password_hash))


async def add_account(
    ctx: BoardContext,
    username: str,
    password: str,
    *,
    is_admin: bool = False,
    event_slug: str | None = None,
    role: str | None = None,
) -> AccountView:
    username = username.strip()
    if not username or len(username) > 80:
        raise Invalid("L'identifiant doit faire de 1 à 80 caractères.")
    if len(password) < 8:
        raise Invalid("Le mot de passe doit faire au moins 8 caractères.")
    if role is not None and role not in ROLES:
        raise Invalid("Le rôle doit être l'un de : {choices}.", choices=", ".join(ROLES))
    async with ctx.db.writing() as session:
        account = Account(username=username, password_hash=_hasher.hash(password), is_admin=is_admin)
        session.add(account)
        try:
            await session.flush()
        except IntegrityError:
            raise Conflict("Un compte nommé « {name} » existe déjà.", name=username) from None
        if event_slug:
            event = (await session.exec(select(Event).where(Event.slug == event_slug))).first()
            if event is None or event.id is None:
                raise NotFound("Aucun événement ne porte le code « {slug} ».", slug=event_slug)
            assert account.id is not None
            session.add(EventRole(account_id=account.id, event_id=event.id, role=role or "moderator"))
        await session.commit()
    return _view(account)


async def account_exists(ctx: BoardContext, username: str) -> bool:
    async with ctx.db.session() as session:
        return (
            await session.exec(select(Account.id).where(Account.username == username))
        ).first() is not None


class _Argon2Thread:
    """Password checks and hashes run here, one at a time: off the event loop, and never more than a core's
    worth. A forked worker (granian forks the process that started the demo, which checked its password)
    inherits the executor but not its thread, and work sent to it would wait forever: it gets its own."""

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="argon2")

    def renew(self) -> None:
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="argon2")


_verifier = _Argon2Thread()
os.register_at_fork(after_in_child=_verifier.renew)


async def hash_password(password: str) -> str:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_verifier.executor, _hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_verifier.executor, _verify, password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def authenticate(ctx: BoardContext, username: str, password: str) -> AccountView | None:
    """The account, or None; unknown users and wrong passwords take the same time and answer."""
    account = None
    if "\x00" not in username:
        async with ctx.db.session() as session:
            account = (
                await session.exec(select(Account).where(Account.username == username.strip()))
            ).first()
    valid = await verify_password(account.password_hash if account else _DUMMY_HASH, password)
    return _view(account) if account and valid else None


async def get_by_name(ctx: BoardContext, username: str) -> AccountView | None:
    if "\x00" in username:
        return None
    async with ctx.db.session() as session:
        account = (await session.exec(select(Account).where(Account.username == username))).first()
    return _view(account) if account else None


async def get_account(ctx: BoardContext, account_id: int) -> AccountView | None:
    async with ctx.db.session() as session:
        account = await session.get(Account, account_id)
    return _view(account) if account else None


async def role_on(ctx: BoardContext, account: AccountView, event_id: int) -> str | None:
    """'admin', 'moderator', 'facilitator' or None."""
    if account.is_admin:
        return "admin"
    async with ctx.db.session() as session:
        role = await session.get(EventRole, (account.id, event_id))
    return role.role if role else None


def allows(role: str | None, needed: str) -> bool:
    return role is not None and RANK.get(role, 0) >= RANK[needed]

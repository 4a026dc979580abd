"""Choosing a password: changing one's own, and the one-time reset link printed by the command line.

A new password changes the account's session stamp, which ends every session opened before it.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select

from board.domain import accounts
from board.domain.accounts import AccountView
from board.domain.context import BoardContext
from board.domain.errors import Forbidden, Gone, Invalid, NotFound
from board.domain.tokens import new_token, token_hash
from board.models import Account, PasswordReset, utcnow

MIN_LENGTH = 12
MAX_LENGTH = 200
RESET_VALID = timedelta(hours=24)


def check_new_password(password: str) -> str:
    if "\x00" in password:
        raise Invalid("Le mot de passe contient un caractère nul (U+0000) : retirez-le puis réessayez.")
    if len(password) < MIN_LENGTH:
        raise Invalid("Le mot de passe doit faire au moins {n} caractères.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise Invalid("Le mot de passe doit faire au plus {n} caractères.", n=MAX_LENGTH)
    if not password.strip():
        raise Invalid("Le mot de passe ne peut pas être fait que d'espaces.")
    return password


async def change_password(ctx: BoardContext, account: AccountView, current: str, new: str) -> AccountView:
    """The current password must be right; the account comes back with its new session stamp."""
    check_new_password(new)
    async with ctx.db.session() as session:
        row = await session.get(Account, account.id)
    if row is None or not await accounts.verify_password(row.password_hash, current):
        raise Forbidden("Le mot de passe actuel est incorrect.")
    return await _store(ctx, account.id, await accounts.hash_password(new), stamp=account.stamp)


async def _store(ctx: BoardContext, account_id: int, password_hash: str, *, stamp: str) -> AccountView:
    """Writes the hash only if the password did not change meanwhile (two changes at once: one wins)."""
    async with ctx.db.writing() as session:
        row = await session.get(Account, account_id)
        if row is None:
            raise NotFound("Ce compte n'existe plus.")
        if accounts.password_stamp(row.password_hash) != stamp:
            raise Forbidden("Le mot de passe vient d'être changé ailleurs : reconnectez-vous.")
        row.password_hash = password_hash
        session.add(row)
        await session.commit()
        view = accounts.AccountView(
            account_id, row.username, row.is_admin, accounts.password_stamp(password_hash)
        )
    return view


async def create_reset(ctx: BoardContext, username: str) -> str:
    """A one-time token to choose a new password, valid 24 hours; earlier unused ones stop working."""
    token, digest = new_token()
    now = utcnow()
    async with ctx.db.writing() as session:
        account = (await session.exec(select(Account).where(Account.username == username))).first()
        if account is None or account.id is None:
            raise NotFound("Aucun compte ne s'appelle « {name} ».", name=username)
        await (await session.connection()).execute(
            update(PasswordReset)
            .where(col(PasswordReset.account_id) == account.id, col(PasswordReset.used_at).is_(None))
            .values(used_at=now)
        )
        session.add(PasswordReset(account_id=account.id, token_hash=digest, expires_at=now + RESET_VALID))
        await session.commit()
    return token


async def open_reset(ctx: BoardContext, token: str) -> str:
    """The username the link is for; 404 unknown, 410 used or expired."""
    async with ctx.db.session() as session:
        row = (
            await session.exec(
                select(PasswordReset, Account.username)
                .join(Account, col(Account.id) == col(PasswordReset.account_id))
                .where(PasswordReset.token_hash == token_hash(token))
            )
        ).first()
    if row is None:
        raise NotFound("Ce lien de réinitialisation n'existe pas.")
    reset, username = row
    if reset.used_at is not None or reset.expires_at <= utcnow():
        raise Gone("Ce lien a déjà servi ou a expiré : demandez-en un nouveau.")
    return username


async def use_reset(ctx: BoardContext, token: str, password: str) -> AccountView:
    """Sets the password once: of two uses at the same moment, one wins and the other gets 410."""
    check_new_password(password)
    await open_reset(ctx, token)
    password_hash = await accounts.hash_password(password)
    now = utcnow()
    async with ctx.db.writing() as session:
        reset = (
            await session.exec(select(PasswordReset).where(PasswordReset.token_hash == token_hash(token)))
        ).one()
        claimed = await (await session.connection()).execute(
            update(PasswordReset)
            .where(
                col(PasswordReset.id) == reset.id,
                col(PasswordReset.used_at).is_(None),
                col(PasswordReset.expires_at) > now,
            )
            .values(used_at=now)
        )
        if claimed.rowcount != 1:
            raise Gone("Ce lien a déjà servi ou a expiré : demandez-en un nouveau.")
        account = await session.get(Account, reset.account_id)
        assert account is not None and account.id is not None
        account.password_hash = password_hash
        session.add(account)
        await session.commit()
        return AccountView(
            account.id, account.username, account.is_admin, accounts.password_stamp(password_hash)
        )

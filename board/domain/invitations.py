"""Staff of an event: one-time invitations for moderators and facilitators, and revoking a role.

A link is shown once: only the hash of its token is stored. Accepting it is a single conditional
update, so of two people opening the same link at the same moment only one gets the role.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from board.domain import accounts
from board.domain.accounts import RANK, ROLES, AccountView
from board.domain.audit import Actor, record
from board.domain.context import BoardContext
from board.domain.errors import Conflict, Gone, Invalid, NotFound
from board.domain.passwords import check_new_password
from board.domain.tokens import new_token, token_hash
from board.domain.views import EventView
from board.models import Account, Event, EventRole, Invitation, utcnow

VALID_FOR = timedelta(days=7)
LABEL_MAX = 120
USERNAME = re.compile(r"[\w.@-]{2,40}")


@dataclass(frozen=True)
class InvitationView:
    id: int
    event_slug: str
    event_title: str
    role: str
    label: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class StaffMember:
    username: str
    role: str


def clean_label(label: str | None) -> str:
    text = " ".join((label or "").split())
    if "\x00" in text:
        raise Invalid("Le nom de la personne invitée contient un caractère nul (U+0000).")
    if len(text) > LABEL_MAX:
        raise Invalid("Le nom de la personne invitée fait au plus {n} caractères.", n=LABEL_MAX)
    return text


def clean_username(username: str | None) -> str:
    name = (username or "").strip()
    if not USERNAME.fullmatch(name):
        raise Invalid(
            "L'identifiant fait de 2 à 40 caractères : lettres, chiffres, point, tiret, tiret bas ou @."
        )
    return name


async def invite(
    ctx: BoardContext, event: EventView, actor: Actor, role: str | None, label: str | None
) -> tuple[InvitationView, str]:
    """The invitation and its token, which is never readable again."""
    if role not in ROLES:
        raise Invalid("Le rôle doit être « moderator » ou « facilitator ».")
    text = clean_label(label)
    token, digest = new_token()
    now = utcnow()
    async with ctx.db.writing() as session:
        invitation = Invitation(
            event_id=event.id,
            role=role,
            label=text,
            token_hash=digest,
            created_by=actor.account_id,
            created_at=now,
            expires_at=now + VALID_FOR,
        )
        session.add(invitation)
        await session.flush()
        assert invitation.id is not None
        record(session, event.id, actor, "invite", f"invitation {invitation.id} {role}", text or None)
        await session.commit()
    return _view(invitation, event.slug, event.title), token


def _view(invitation: Invitation, slug: str, title: str) -> InvitationView:
    assert invitation.id is not None
    return InvitationView(
        invitation.id,
        slug,
        title,
        invitation.role,
        invitation.label,
        invitation.created_at,
        invitation.expires_at,
    )


def _usable(invitation: Invitation) -> bool:
    return invitation.used_at is None and invitation.revoked_at is None and invitation.expires_at > utcnow()


async def open_invitation(ctx: BoardContext, token: str) -> InvitationView:
    """What the link offers; 404 for a token never issued, 410 once used, expired or withdrawn."""
    async with ctx.db.session() as session:
        row = (
            await session.exec(
                select(Invitation, Event.slug, Event.title)
                .join(Event, col(Event.id) == col(Invitation.event_id))
                .where(Invitation.token_hash == token_hash(token))
            )
        ).first()
    if row is None:
        raise NotFound("Cette invitation n'existe pas.")
    invitation, slug, title = row
    if not _usable(invitation):
        raise Gone("Cette invitation a déjà servi, a expiré ou a été retirée : demandez-en une nouvelle.")
    return _view(invitation, slug, title)


async def accept(
    ctx: BoardContext,
    token: str,
    signed_in: AccountView | None,
    username: str | None = None,
    password: str | None = None,
) -> tuple[AccountView, InvitationView]:
    """Gives the role to the signed-in account, or to a new account made with `username` and `password`."""
    offered = await open_invitation(ctx, token)
    password_hash = None
    if signed_in is None:
        username = clean_username(username)
        password_hash = await accounts.hash_password(check_new_password(password or ""))
    now = utcnow()
    async with ctx.db.writing() as session:
        claimed = await (await session.connection()).execute(
            update(Invitation)
            .where(
                col(Invitation.id) == offered.id,
                col(Invitation.used_at).is_(None),
                col(Invitation.revoked_at).is_(None),
                col(Invitation.expires_at) > now,
            )
            .values(used_at=now)
        )
        if claimed.rowcount != 1:
            raise Gone("Cette invitation a déjà servi, a expiré ou a été retirée : demandez-en une nouvelle.")
        invitation = await session.get(Invitation, offered.id)
        assert invitation is not None
        if signed_in is None:
            assert username is not None and password_hash is not None
            account = Account(username=username, password_hash=password_hash)
            session.add(account)
            try:
                await session.flush()
            except IntegrityError:
                raise Conflict(
                    "Un compte nommé « {name} » existe déjà : choisissez un autre identifiant.", name=username
                ) from None
        else:
            found = await session.get(Account, signed_in.id)
            if found is None:
                raise NotFound("Ce compte n'existe plus.")
            account = found
        assert account.id is not None
        invitation.used_by = account.id
        session.add(invitation)
        held = await session.get(EventRole, (account.id, invitation.event_id))
        if held is None:
            session.add(EventRole(account_id=account.id, event_id=invitation.event_id, role=invitation.role))
        elif RANK[invitation.role] > RANK.get(held.role, 0):
            held.role = invitation.role
            session.add(held)
        who = Actor(account.id, account.username, invitation.role)
        record(session, invitation.event_id, who, "join", f"invitation {invitation.id} {invitation.role}")
        await session.commit()
        view = AccountView(
            account.id, account.username, account.is_admin, accounts.password_stamp(account.password_hash)
        )
    return view, offered


async def withdraw(ctx: BoardContext, event: EventView, actor: Actor, invitation_id: int) -> None:
    """An unused invitation stops working; a used one is left as it is."""
    async with ctx.db.writing() as session:
        invitation = await session.get(Invitation, invitation_id)
        if invitation is None or invitation.event_id != event.id:
            raise NotFound("Cette invitation n'existe pas.")
        if invitation.used_at is not None:
            raise Conflict("Cette invitation a déjà servi : retirez plutôt le rôle de la personne.")
        if invitation.revoked_at is None:
            invitation.revoked_at = utcnow()
            session.add(invitation)
            record(
                session,
                event.id,
                actor,
                "withdraw",
                f"invitation {invitation_id} {invitation.role}",
                invitation.label or None,
            )
        await session.commit()


async def revoke_role(ctx: BoardContext, event: EventView, actor: Actor, username: str) -> None:
    """The person keeps their account and session, but no longer has a role on this event."""
    async with ctx.db.writing() as session:
        account = (
            (await session.exec(select(Account).where(Account.username == username))).first()
            if "\x00" not in username
            else None
        )
        if account is None or account.id is None:
            raise NotFound("Aucun compte ne s'appelle « {name} ».", name=username)
        removed = await (await session.connection()).execute(
            delete(EventRole).where(
                col(EventRole.account_id) == account.id, col(EventRole.event_id) == event.id
            )
        )
        if removed.rowcount != 1:
            raise NotFound("« {name} » n'a pas de rôle sur cet événement.", name=username)
        record(session, event.id, actor, "revoke", f"account {username}")
        await session.commit()


async def staff_of(ctx: BoardContext, event: EventView) -> list[StaffMember]:
    async with ctx.db.session() as session:
        rows = await session.exec(
            select(Account.username, EventRole.role)
            .join(EventRole, col(EventRole.account_id) == col(Account.id))
            .where(EventRole.event_id == event.id)
            .order_by(col(EventRole.role), col(Account.username))
        )
        return [StaffMember(name, role) for name, role in rows]


async def admins(ctx: BoardContext) -> list[str]:
    async with ctx.db.session() as session:
        rows = await session.exec(
            select(Account.username).where(col(Account.is_admin)).order_by(col(Account.username))
        )
        return list(rows)


async def pending_invitations(ctx: BoardContext, event: EventView) -> list[InvitationView]:
    now = utcnow()
    async with ctx.db.session() as session:
        rows = await session.exec(
            select(Invitation)
            .where(
                Invitation.event_id == event.id,
                col(Invitation.used_at).is_(None),
                col(Invitation.revoked_at).is_(None),
                col(Invitation.expires_at) > now,
            )
            .order_by(col(Invitation.created_at))
        )
        return [_view(i, event.slug, event.title) for i in rows]

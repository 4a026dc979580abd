"""The audit log: every moderation and screen action, who did it, when and why."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from board.domain.context import BoardContext
from board.models import Answer, AuditEntry


@dataclass(frozen=True)
class Actor:
    """A signed-in account acting on one event, with its role there."""

    account_id: int
    username: str
    role: str


TARGET = re.compile(
    r"(?P<kind>answer|thread|participant|invitation|account) (?P<id>\S+)(?: into (?P<into>\d+))?(?: (?P<role>\w+))?"
)


@dataclass(frozen=True)
class AuditView:
    actor: str
    action: str
    target: str
    reason: str | None
    created_at: datetime
    thread_id: int | None = None
    answer_id: int | None = None
    into: int | None = None
    subject: str | None = None
    """Whom the entry is about: an account's name, or an invitation's role."""


def _parsed(entry: AuditEntry, threads_of: dict[int, int]) -> AuditView:
    found = TARGET.fullmatch(entry.target or "")
    kind = found.group("kind") if found else ""
    ident = found.group("id") if found else ""
    answer = int(ident) if kind == "answer" and ident.isdigit() else None
    thread = int(ident) if kind == "thread" and ident.isdigit() else threads_of.get(answer or 0)
    into = int(found.group("into")) if found and found.group("into") else None
    subject = (
        ident if kind == "account" else (found.group("role") if found and kind == "invitation" else None)
    )
    return AuditView(
        entry.actor, entry.action, entry.target, entry.reason, entry.created_at, thread, answer, into, subject
    )


def record(
    session: AsyncSession, event_id: int, actor: Actor, action: str, target: str, reason: str | None = None
) -> None:
    """Adds the entry to the caller's transaction, so the action and its trace commit together."""
    session.add(
        AuditEntry(
            event_id=event_id,
            account_id=actor.account_id,
            actor=actor.username,
            action=action,
            target=target,
            reason=reason,
        )
    )


async def entries(
    ctx: BoardContext,
    event_id: int,
    *,
    thread_id: int | None = None,
    actor: str | None = None,
    limit: int | None = 500,
) -> list[AuditView]:
    """Most recent first; narrowed to one thread (its answers and the thread itself) and to one person."""
    query = select(AuditEntry).where(AuditEntry.event_id == event_id)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    query = query.order_by(col(AuditEntry.created_at).desc(), col(AuditEntry.id).desc())
    async with ctx.db.session() as session:
        rows = list(await session.exec(query))
        answers = {
            int(m.group("id"))
            for e in rows
            if (m := TARGET.fullmatch(e.target or ""))
            and m.group("kind") == "answer"
            and m.group("id").isdigit()
        }
        threads_of: dict[int, int] = {}
        if answers:
            found = await session.exec(select(Answer.id, Answer.thread_id).where(col(Answer.id).in_(answers)))
            threads_of = {a: t for a, t in found if a is not None}
    views = [_parsed(e, threads_of) for e in rows]
    if thread_id is not None:
        views = [v for v in views if v.thread_id == thread_id]
    return views[:limit] if limit else views


async def actors(ctx: BoardContext, event_id: int) -> list[str]:
    """Everyone who appears in the event's log, for the filter."""
    async with ctx.db.session() as session:
        rows = await session.exec(
            select(AuditEntry.actor)
            .where(AuditEntry.event_id == event_id)
            .distinct()
            .order_by(col(AuditEntry.actor))
        )
        return list(rows)

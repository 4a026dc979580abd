"""The audit log: every moderation and screen action, who did it, when and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from board.domain.context import BoardContext
from board.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """A signed-in account acting on one event, with its role there."""

    account_id: int
    username: str
    role: str


@dataclass(frozen=True)
class AuditView:
    actor: str
    action: str
    target: str
    reason: str | None
    created_at: datetime


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


async def entries(ctx: BoardContext, event_id: int, limit: int = 500) -> list[AuditView]:
    async with ctx.db.session() as session:
        rows = await session.exec(
            select(AuditEntry)
            .where(AuditEntry.event_id == event_id)
            .order_by(col(AuditEntry.created_at).desc(), col(AuditEntry.id).desc())
            .limit(limit)
        )
        return [AuditView(e.actor, e.action, e.target, e.reason, e.created_at) for e in rows]

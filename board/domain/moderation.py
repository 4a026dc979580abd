"""Moderating answers and participants: every decision is audited, then reaches every screen live."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from board.domain import record as public_record
from board.domain.answers import answer_view
from board.domain.audit import Actor, record
from board.domain.context import BoardContext
from board.domain.counts import rebuild_threads
from board.domain.errors import Conflict, Invalid, NotFound
from board.domain.tally import recount_answers
from board.domain.views import AnswerView, EventView
from board.live.channels import event_channel, mod_channel, thread_channel
from board.live.messages import Status
from board.models import REASONS, WITHHELD, Answer, AnswerStatus, Event, Participant, Thread, Vote

ANSWER_ACTIONS = ("approve", "reject", "hide", "restore", "pin", "unpin", "merge")
NEEDS_REASON = ("reject", "hide")
ALLOWED_FROM = {
    "approve": (AnswerStatus.PENDING, AnswerStatus.REJECTED, AnswerStatus.HIDDEN),
    "reject": (AnswerStatus.PENDING,),
    "hide": (AnswerStatus.PUBLISHED,),
    "restore": WITHHELD,
    "pin": (AnswerStatus.PUBLISHED,),
    "unpin": (AnswerStatus.PUBLISHED,),
    "merge": (AnswerStatus.PUBLISHED,),
}
AFTER_MERGE = ("hide", "restore")
"""A merged answer's text is shown under the answer it joined: it can still be withdrawn, and brought back."""


@dataclass(frozen=True)
class MergedText:
    """A text merged into an answer, as moderators see it: they may still withhold it, or bring it back."""

    id: int
    body: str
    status: str

    @property
    def withheld(self) -> bool:
        return self.status in WITHHELD


@dataclass(frozen=True, kw_only=True)
class ModAnswer(AnswerView):
    """An answer as moderators see it: with its author, whom participants never see."""

    participant_id: str
    author_segment: str | None
    author_banned: bool
    merged_texts: tuple[MergedText, ...] = ()


def clean_reason(action: str, reason: str | None) -> str | None:
    reason = (reason or "").strip() or None
    if action in NEEDS_REASON and reason not in REASONS:
        raise Invalid(
            "Choisissez un motif : hors-sujet, propos abusifs, doublon, données personnelles ou autre."
        )
    return reason if action in NEEDS_REASON else None


async def act_on_answer(
    ctx: BoardContext,
    event: EventView,
    actor: Actor,
    answer_id: int,
    action: str,
    reason: str | None = None,
    into: int | None = None,
) -> None:
    if action not in ANSWER_ACTIONS:
        raise Invalid("Action inconnue : choisissez parmi {choices}.", choices=", ".join(ANSWER_ACTIONS))
    reason = clean_reason(action, reason)
    async with ctx.db.writing() as session:
        answer = await _answer_of_event(session, event, answer_id)
        if answer.merged_into is not None and action not in AFTER_MERGE:
            raise Conflict("Cette réponse a déjà été fusionnée dans une autre.")
        if answer.status not in ALLOWED_FROM[action]:
            raise Conflict(
                "Impossible de faire « {action} » sur une réponse à l'état « {status} ».",
                action=action,
                status=answer.status,
            )
        target_label = f"answer {answer_id}"
        if action == "merge":
            if into is None:
                raise Invalid("Indiquez la réponse dans laquelle fusionner (champ into).")
            target = await _answer_of_event(session, event, into)
            if target.id == answer.id or target.thread_id != answer.thread_id:
                raise Invalid("La fusion se fait vers une autre réponse du même fil.")
            if target.status != AnswerStatus.PUBLISHED or target.merged_into is not None:
                raise Conflict("La réponse cible doit être publiée et ne pas être déjà fusionnée.")
            await _move_votes(session, answer_id, into)
            answer.merged_into = into
            target_label = f"answer {answer_id} into {into}"
        elif action in ("approve", "restore"):
            answer.status, answer.reason = AnswerStatus.PUBLISHED, None
        elif action in ("reject", "hide"):
            answer.status, answer.reason = (
                (AnswerStatus.REJECTED if action == "reject" else AnswerStatus.HIDDEN),
                reason,
            )
            answer.pinned = False
        else:
            answer.pinned = action == "pin"
        session.add(answer)
        await session.flush()
        conn = await session.connection()
        touched = [answer_id] + ([into] if into is not None else [])
        counts = await recount_answers(conn, touched)
        for touched_id, c in counts.items():
            await conn.execute(
                update(Answer).where(col(Answer.id) == touched_id).values(agree=c.agree, disagree=c.disagree)
            )
        record(session, event.id, actor, action, target_label, reason)
        await conn.run_sync(public_record.decision, event.id, action, answer, reason, into)
        thread_id = answer.thread_id
        await session.commit()
    await announce(ctx, event, [thread_id])


async def _answer_of_event(session: AsyncSession, event: EventView, answer_id: int) -> Answer:
    row = (
        await session.exec(
            select(Answer, Thread.event_id)
            .join(Thread, col(Thread.id) == col(Answer.thread_id))
            .where(Answer.id == answer_id)
        )
    ).first()
    if row is None or row[1] != event.id:
        raise NotFound("Cette réponse n'existe pas.")
    answer: Answer = row[0]
    return answer


async def _move_votes(session: AsyncSession, source: int, target: int) -> None:
    """Votes move to the target; a participant who voted on both keeps the target's vote."""
    conn = await session.connection()
    both = select(Vote.participant_id).where(Vote.answer_id == target)
    await conn.execute(delete(Vote).where(col(Vote.answer_id) == source, col(Vote.participant_id).in_(both)))
    await conn.execute(update(Vote).where(col(Vote.answer_id) == source).values(answer_id=target))


async def ban(ctx: BoardContext, event: EventView, actor: Actor, participant_id: str) -> None:
    async with ctx.db.writing() as session:
        participant = await session.get(Participant, participant_id)
        if participant is None or participant.event_id != event.id:
            raise NotFound("Ce participant n'existe pas.")
        participant.banned = True
        session.add(participant)
        record(session, event.id, actor, "ban", f"participant {participant_id[:8]}")
        await (await session.connection()).run_sync(public_record.ban, event.id)
        await session.commit()
    ctx.live.channels.send(Status("moderation"), [mod_channel(event.slug)])


async def change_settings(
    ctx: BoardContext, event: EventView, actor: Actor, moderation: str | None, voting: str | None
) -> None:
    if moderation is not None and moderation not in ("pre", "post"):
        raise Invalid("La modération doit valoir « pre » ou « post ».")
    if voting is not None and voting not in ("agree-disagree", "upvote"):
        raise Invalid("Le vote doit valoir « agree-disagree » ou « upvote ».")
    async with ctx.db.writing() as session:
        row = await session.get(Event, event.id)
        assert row is not None
        changes = []
        if moderation is not None and moderation != row.moderation:
            row.moderation = moderation
            changes.append(f"moderation={moderation}")
        if voting is not None and voting != row.voting:
            row.voting = voting
            changes.append(f"voting={voting}")
        if changes:
            session.add(row)
            record(session, event.id, actor, "settings", ", ".join(changes))
        await session.commit()


async def announce(ctx: BoardContext, event: EventView, thread_ids: list[int]) -> None:
    """Recount the threads, then tell participants, screens and moderators to refresh."""
    totals = await rebuild_threads(ctx, thread_ids)
    for thread_id, counts in totals.items():
        ctx.live.channels.send(
            Status("answers", thread_id, counts),
            [thread_channel(thread_id), event_channel(event.slug), mod_channel(event.slug)],
        )


def answers_with_authors() -> Select[Answer, Participant]:
    """Answers and their authors, for a caller to narrow down; merged texts are shown under their target."""
    return (
        select(Answer, Participant)
        .join(Thread, col(Thread.id) == col(Answer.thread_id))
        .join(Participant, col(Participant.id) == col(Answer.participant_id))
        .where(col(Answer.merged_into).is_(None))
    )


async def mod_answers(ctx: BoardContext, query: Select[Answer, Participant]) -> list[ModAnswer]:
    """The answers `query` selects, as moderators see them: author, and the texts merged into each."""
    async with ctx.db.session() as session:
        rows = (await session.exec(query)).all()
        ids = [a.id for a, _ in rows]
        merged: dict[int, list[MergedText]] = {}
        if ids:
            for source_id, target, body, status in await session.exec(
                select(Answer.id, Answer.merged_into, Answer.body, Answer.status)
                .where(col(Answer.merged_into).in_(ids))
                .order_by(col(Answer.id))
            ):
                if target is not None and source_id is not None:
                    merged.setdefault(target, []).append(MergedText(source_id, body, status))
    return [
        ModAnswer(
            **{**vars(answer_view(a)), "author_name": p.name},
            participant_id=p.id,
            author_segment=p.segment,
            author_banned=p.banned,
            merged_texts=tuple(merged.get(a.id or 0, ())),
        )
        for a, p in rows
    ]


async def set_aside(ctx: BoardContext, thread_id: int) -> list[tuple[str, int]]:
    """How many answers of a thread were set aside, by reason, most frequent first."""
    async with ctx.db.session() as session:
        reasons = await session.exec(
            select(Answer.reason).where(
                Answer.thread_id == thread_id,
                col(Answer.status).in_(WITHHELD),
                col(Answer.merged_into).is_(None),
            )
        )
        tally = Counter(r or "other" for r in reasons)
    return tally.most_common()

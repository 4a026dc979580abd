"""Posting and listing answers. Every write commits, then updates the counters, then publishes."""

from __future__ import annotations

import unicodedata
import uuid
from typing import Literal

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from board.domain import record
from board.domain.context import BoardContext
from board.domain.counts import publish_participants, store_threads
from board.domain.errors import Conflict, Forbidden, Invalid, TooFast
from board.domain.lifecycle import CLOSED_TO_ANSWERS, check_open, refusal
from board.domain.newcomers import enter
from board.domain.tally import count_locked_threads, lock_threads
from board.domain.views import AnswerView, EventView, ParticipantView, ThreadView
from board.live.channels import event_channel, mod_channel, thread_channel
from board.live.counters import ThreadCounts
from board.live.messages import Counts, NewAnswer
from board.models import Answer, AnswerStatus, Event, Participant, Thread, ThreadStatus, Vote

BODY_MAX = 500
Sort = Literal["top", "new"]


BLANK_LETTERS = frozenset("\u115f\u1160\u2800\u3164\uffa0")


def has_visible(text: str) -> bool:
    """Zero-width and format characters (category Cf) draw nothing: a text of only those is empty."""
    return any(
        not ch.isspace() and ch not in BLANK_LETTERS and unicodedata.category(ch) != "Cf" for ch in text
    )


def clean_body(body: str) -> str:
    """PostgreSQL cannot store NUL, so it is refused with a message rather than failing the insert."""
    if "\x00" in body:
        raise Invalid("Votre réponse contient un caractère nul (U+0000) : retirez-le puis réessayez.")
    text = body.strip()
    if not has_visible(text):
        raise Invalid("Votre réponse est vide : écrivez au moins un caractère.")
    if len(text) > BODY_MAX:
        raise Invalid(
            "Votre réponse fait {n} caractères ; {most} au plus sont acceptés.", n=len(text), most=BODY_MAX
        )
    return text


def clean_client_key(client_key: str | None) -> str | None:
    if not client_key:
        return None
    try:
        return str(uuid.UUID(client_key.strip()))
    except ValueError:
        raise Invalid("La clé d'envoi (client_key) doit être un UUID.") from None


def answer_view(
    a: Answer,
    *,
    mine: bool = False,
    my_vote: int = 0,
    merged: tuple[str, ...] = (),
    author_name: str | None = None,
) -> AnswerView:
    assert a.id is not None
    return AnswerView(
        id=a.id,
        thread_id=a.thread_id,
        body=a.body,
        status=a.status,
        reason=a.reason,
        pinned=a.pinned,
        agree=a.agree,
        disagree=a.disagree,
        created_at=a.created_at,
        mine=mine,
        my_vote=my_vote,
        merged=merged,
        author_name=author_name,
    )


async def post(
    ctx: BoardContext,
    event: EventView,
    thread: ThreadView,
    participant: ParticipantView,
    body: str,
    client_key: str | None = None,
) -> tuple[AnswerView, bool]:
    """Store an answer once per client_key; returns it and whether it is new."""
    text = clean_body(body)
    key = clean_client_key(client_key)
    if participant.banned:
        raise Forbidden("Votre participation a été suspendue par la modération.")
    if key is not None:
        existing = await _by_client_key(ctx, participant.id, key)
        if existing is not None:
            return existing, False
    check_open(event, CLOSED_TO_ANSWERS)
    if not thread.is_open:
        raise Conflict("Ce fil est fermé : il n'accepte plus de réponses.")
    status = AnswerStatus.PENDING if event.moderation == "pre" else AnswerStatus.PUBLISHED
    answer = Answer(
        thread_id=thread.id, participant_id=participant.id, body=text, status=status, client_key=key
    )
    async with ctx.db.writing() as session:
        held = await session.get(Event, event.id)
        closed = refusal(held.status if held else "draft", CLOSED_TO_ANSWERS)
        if closed is not None:
            raise closed
        current = await session.get(Thread, thread.id)
        banned = await session.get(Participant, participant.id)
        if current is None or current.status != ThreadStatus.OPEN:
            raise Conflict("Ce fil est fermé : il n'accepte plus de réponses.")
        if banned is not None and banned.banned:
            raise Forbidden("Votre participation a été suspendue par la modération.")
        conn = await session.connection()
        await conn.run_sync(lock_threads, [thread.id])
        people = await conn.run_sync(enter, event.id, participant.id)
        session.add(answer)
        try:
            await session.flush()
        except IntegrityError:
            await session.rollback()
            again = await _by_client_key(ctx, participant.id, key) if key else None
            if again is None:
                raise
            return again, False
        await _count_once(ctx, participant.id)
        totals = await conn.run_sync(count_locked_threads, [thread.id])
        if status == AnswerStatus.PUBLISHED:
            await conn.run_sync(record.published_answer, event.id, answer)
        await store_threads(ctx, totals)
        if people is not None:
            await publish_participants(ctx, event.id, people)
        await session.commit()
    if people is not None:
        ctx.live.channels.send(
            Counts(None, participants=people.count, event_id=event.id), [event_channel(event.slug)]
        )
    view = answer_view(answer, mine=True, author_name=participant.name)
    _announce(ctx, event, view, totals[thread.id])
    return view, True


async def _count_once(ctx: BoardContext, participant_id: str) -> None:
    """Count the answer against the limit once it is known to be new, atomically, before it is kept.

    A read-then-count check lets a burst of parallel answers through; a refused or repeated
    answer counts nothing.
    """
    if not await ctx.live.limits.hit("answer", participant_id):
        wait = await ctx.live.limits.retry_after("answer", participant_id) or 60
        raise TooFast("Vous répondez très vite : réessayez dans {wait} s.", wait)


def _announce(ctx: BoardContext, event: EventView, answer: AnswerView, totals: ThreadCounts) -> None:
    message = NewAnswer(
        answer.thread_id, answer.id, answer.body, answer.status, answer.created_at, totals, answer.author_name
    )
    channels = [mod_channel(event.slug)]
    if answer.is_published:
        channels += [thread_channel(answer.thread_id), event_channel(event.slug)]
    ctx.live.channels.send(message, channels)


async def _by_client_key(ctx: BoardContext, participant_id: str, key: str) -> AnswerView | None:
    async with ctx.db.session() as session:
        found = (
            await session.exec(
                select(Answer).where(Answer.participant_id == participant_id, Answer.client_key == key)
            )
        ).first()
    return None if found is None else answer_view(found, mine=True)


async def list_answers(
    ctx: BoardContext, thread: ThreadView, *, sort: Sort = "top", viewer: str | None = None, limit: int = 500
) -> list[AnswerView]:
    """Published answers, pinned first, then by score (newest first on ties) or by date.

    The viewer also sees their own answers that are awaiting moderation or were set aside.
    """
    visible = col(Answer.status) == AnswerStatus.PUBLISHED
    if viewer:
        visible = or_(visible, col(Answer.participant_id) == viewer)
    query = select(Answer).where(Answer.thread_id == thread.id, col(Answer.merged_into).is_(None), visible)
    if sort == "new":
        query = query.order_by(
            col(Answer.pinned).desc(), col(Answer.created_at).desc(), col(Answer.id).desc()
        )
    else:
        query = query.order_by(
            col(Answer.pinned).desc(),
            (col(Answer.agree) - col(Answer.disagree)).desc(),
            col(Answer.created_at).desc(),
            col(Answer.id).desc(),
        )
    async with ctx.db.session() as session:
        answers = list(await session.exec(query.limit(limit)))
        ids = [a.id for a in answers]
        mine: dict[int, int] = {}
        if viewer and ids:
            votes = await session.exec(
                select(Vote.answer_id, Vote.value).where(
                    Vote.participant_id == viewer, col(Vote.answer_id).in_(ids)
                )
            )
            mine = dict(votes.all())
        authors = {a.participant_id for a in answers}
        names: dict[str, str] = {}
        if authors:
            rows_named = await session.exec(
                select(Participant.id, Participant.name).where(
                    col(Participant.id).in_(authors), col(Participant.name).is_not(None)
                )
            )
            names = {pid: name for pid, name in rows_named if name}
        merged: dict[int, list[str]] = {}
        if ids:
            rows = await session.exec(
                select(Answer.merged_into, Answer.body)
                .where(col(Answer.merged_into).in_(ids), Answer.status == AnswerStatus.PUBLISHED)
                .order_by(col(Answer.id))
            )
            for target, body in rows:
                if target is not None:
                    merged.setdefault(target, []).append(body)
    return [
        answer_view(
            a,
            mine=viewer is not None and a.participant_id == viewer,
            my_vote=mine.get(a.id or 0, 0),
            merged=tuple(merged.get(a.id or 0, ())),
            author_name=names.get(a.participant_id),
        )
        for a in answers
    ]

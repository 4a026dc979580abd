"""Counting from SQL, the source of truth: plain functions over a connection, with no live layer in them."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from sqlalchemy import bindparam, func, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from board.live.counters import Headcount, ThreadCounts
from board.models import Answer, AnswerStatus, Event, Participant, RetainedTally, Retention, Thread, Vote


@dataclass(frozen=True)
class AnswerCounts:
    agree: int = 0
    disagree: int = 0
    segments: Mapping[str, tuple[int, int]] = field(default_factory=dict)


async def recount_answers(conn: AsyncConnection, answer_ids: Iterable[int]) -> dict[int, AnswerCounts]:
    """`count_answers` on an async connection."""
    return await conn.run_sync(count_answers, answer_ids)


_ANSWER_COUNTS = (
    select(Vote.answer_id, Participant.segment, Vote.value, func.count())
    .join(Participant, col(Participant.id) == col(Vote.participant_id))
    .where(col(Vote.answer_id).in_(bindparam("ids", expanding=True)))
    .group_by(col(Vote.answer_id), col(Participant.segment), col(Vote.value))
)

_RETAINED = select(
    RetainedTally.answer_id, RetainedTally.segment, RetainedTally.agree, RetainedTally.disagree
).where(col(RetainedTally.answer_id).in_(bindparam("ids", expanding=True)))


def count_answers(conn: Connection, answer_ids: Iterable[int]) -> dict[int, AnswerCounts]:
    """Agree and disagree per answer, overall and per segment: the votes, plus what retention kept of them."""
    ids = sorted(set(answer_ids))
    if not ids:
        return {}
    totals: dict[int, list[int]] = {a: [0, 0] for a in ids}
    segments: dict[int, dict[str, list[int]]] = {a: {} for a in ids}
    for answer_id, segment, value, count in conn.execute(_ANSWER_COUNTS, {"ids": ids}):
        side = 0 if value > 0 else 1
        totals[answer_id][side] += count
        if segment:
            segments[answer_id].setdefault(segment, [0, 0])[side] += count
    for answer_id, segment, agree, disagree in conn.execute(_RETAINED, {"ids": ids}):
        totals[answer_id][0] += agree
        totals[answer_id][1] += disagree
        if segment:
            counted = segments[answer_id].setdefault(segment, [0, 0])
            counted[0] += agree
            counted[1] += disagree
    return {
        a: AnswerCounts(totals[a][0], totals[a][1], {s: (v[0], v[1]) for s, v in segments[a].items()})
        for a in ids
    }


_THREAD_COUNTS = (
    select(Answer.thread_id, Answer.status, func.count(), func.sum(col(Answer.agree) + col(Answer.disagree)))
    .where(col(Answer.thread_id).in_(bindparam("ids", expanding=True)), col(Answer.merged_into).is_(None))
    .group_by(col(Answer.thread_id), col(Answer.status))
)


def count_threads(conn: Connection, thread_ids: Iterable[int]) -> dict[int, ThreadCounts]:
    """Published and pending answers, and votes on published answers, per thread.

    Reads the answers' own counts, so it costs one row per answer, however many votes there are.
    """
    ids = sorted(set(thread_ids))
    if not ids:
        return {}
    answers: dict[int, dict[str, int]] = {t: {} for t in ids}
    votes: dict[int, int] = {}
    for thread_id, status, count, cast_votes in conn.execute(_THREAD_COUNTS, {"ids": ids}):
        answers[thread_id][status] = count
        if status == AnswerStatus.PUBLISHED:
            votes[thread_id] = int(cast_votes or 0)
    return {
        t: ThreadCounts(answers[t].get("published", 0), answers[t].get("pending", 0), votes.get(t, 0))
        for t in ids
    }


_LOCK_THREADS = (
    select(Thread.id)
    .where(col(Thread.id).in_(bindparam("ids", expanding=True)))
    .order_by(col(Thread.id))
    .with_for_update(key_share=True)
)


def lock_threads(conn: Connection, thread_ids: Iterable[int]) -> None:
    """Hold the threads until the transaction ends, so that their totals are counted and stored in turn.

    On PostgreSQL two workers' batches on different answers of one thread would otherwise each
    count the thread without the other's uncommitted votes, and the last to store would win. Taken
    after the answers' locks, in id order, as every writer does. SQLite's IMMEDIATE transactions
    already run one at a time.
    """
    ids = sorted(set(thread_ids))
    if ids and conn.dialect.name == "postgresql":
        conn.execute(_LOCK_THREADS, {"ids": ids})


def count_locked_threads(conn: Connection, thread_ids: Iterable[int]) -> dict[int, ThreadCounts]:
    """The threads' counts, exact until the transaction commits: `count_threads` under `lock_threads`,
    stamped with the time they were counted, so that a later writer's counts replace them and not
    the reverse, whenever each stores them."""
    lock_threads(conn, thread_ids)
    version = _clock_us(conn)
    return {t: replace(c, version=version) for t, c in count_threads(conn, thread_ids).items()}


_CLOCK_US = text("SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)")


def _clock_us(conn: Connection) -> int:
    """Now, in microseconds: the server's clock on PostgreSQL (workers may run on several machines);
    this machine's on SQLite, whose file every worker shares on one machine. Read once the locks are
    held, so that a transaction that waited for another's locks reads a later time."""
    if conn.dialect.name == "postgresql":
        return int(conn.execute(_CLOCK_US).scalar_one())
    return time.time_ns() // 1000


_LOCK_EVENT = select(Event.id).where(col(Event.id) == bindparam("event")).with_for_update(key_share=True)


def lock_event(conn: Connection, event_id: int) -> None:
    """Hold the event until the transaction ends (PostgreSQL), so that its participants are counted in turn."""
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK_EVENT, {"event": event_id})


def unlinked_id(event_id: int) -> str:
    """The one row an event's answers point to once nothing links them to their authors any more;
    not a person, so never counted (real ids are 32 hex digits)."""
    return f"unlinked-{event_id}"


_RETAINED_PEOPLE = (
    select(func.coalesce(func.sum(Retention.participants), 0))
    .where(col(Retention.event_id) == bindparam("event"))
    .scalar_subquery()
)
_PARTICIPANTS = select(
    select(func.count())
    .select_from(Participant)
    .where(col(Participant.event_id) == bindparam("event"), col(Participant.id) != bindparam("unlinked"))
    .scalar_subquery()
    + _RETAINED_PEOPLE
)


async def count_participants(conn: AsyncConnection, event_id: int) -> int:
    return await conn.run_sync(count_event_participants, event_id)


def count_locked_participants(conn: Connection, event_id: int) -> Headcount:
    """The event's participants, counted once `lock_event` holds it and stamped as
    `count_locked_threads` stamps threads: stored after the commit, the newest count stays."""
    return Headcount(count_event_participants(conn, event_id), _clock_us(conn))


def count_event_participants(conn: Connection, event_id: int) -> int:
    """People who answered, voted or set a profile, those unlinked by retention included."""
    return int(
        conn.execute(_PARTICIPANTS, {"event": event_id, "unlinked": unlinked_id(event_id)}).scalar_one()
    )


_PUBLISHED = (
    select(Answer.id, Answer.thread_id)
    .where(
        col(Answer.thread_id).in_(bindparam("ids", expanding=True)),
        Answer.status == AnswerStatus.PUBLISHED,
        col(Answer.merged_into).is_(None),
    )
    .order_by(col(Answer.id))
)
_PUBLISHED_LOCKED = _PUBLISHED.with_for_update(of=Answer.__table__)  # type: ignore[attr-defined]
_STORE = (
    update(Answer)
    .where(col(Answer.id) == bindparam("aid"))
    .values(agree=bindparam("ag"), disagree=bindparam("dis"))
)


def recount_and_store(conn: Connection, ids: list[int]) -> dict[int, ThreadCounts]:
    """Recount the threads' published answers from the votes, store those counts on the answers,
    and count the threads.

    The answers are locked first (on PostgreSQL; SQLite's transaction is IMMEDIATE), as the vote
    writer locks them, so that no batch of votes lands between the recount and the write.
    """
    published = _PUBLISHED_LOCKED if conn.dialect.name == "postgresql" else _PUBLISHED
    answer_ids = [answer_id for answer_id, _ in conn.execute(published, {"ids": ids})]
    answers = count_answers(conn, answer_ids)
    if answers:
        conn.execute(_STORE, [{"aid": a, "ag": c.agree, "dis": c.disagree} for a, c in answers.items()])
    return count_locked_threads(conn, ids)

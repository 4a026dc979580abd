"""Counting from SQL, the source of truth, and keeping the live counters equal to it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import replace

from sqlalchemy import bindparam, func, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from board.domain.context import BoardContext
from board.domain.views import ThreadView
from board.live.channels import event_channel, thread_channel
from board.live.counters import AnswerCounts, ThreadCounts
from board.models import Answer, Event, Participant, Thread, Vote

log = logging.getLogger(__name__)


async def recount_answers(conn: AsyncConnection, answer_ids: Iterable[int]) -> dict[int, AnswerCounts]:
    """Agree and disagree per answer, overall and per segment."""
    return await conn.run_sync(count_answers, answer_ids)


_ANSWER_COUNTS = (
    select(Vote.answer_id, Participant.segment, Vote.value, func.count())
    .join(Participant, col(Participant.id) == col(Vote.participant_id))
    .where(col(Vote.answer_id).in_(bindparam("ids", expanding=True)))
    .group_by(col(Vote.answer_id), col(Participant.segment), col(Vote.value))
)


def count_answers(conn: Connection, answer_ids: Iterable[int]) -> dict[int, AnswerCounts]:
    """`recount_answers` for a step that runs on a synchronous connection."""
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
    return {
        a: AnswerCounts(totals[a][0], totals[a][1], {s: (v[0], v[1]) for s, v in segments[a].items()})
        for a in ids
    }


async def read_totals(conn: AsyncConnection, answer_ids: Iterable[int]) -> dict[int, AnswerCounts]:
    """Agree and disagree as the answer rows hold them (kept by the vote writer in the same transaction)."""
    ids = sorted(set(answer_ids))
    if not ids:
        return {}
    rows = await conn.execute(select(Answer.id, Answer.agree, Answer.disagree).where(col(Answer.id).in_(ids)))
    return {answer_id: AnswerCounts(agree, disagree) for answer_id, agree, disagree in rows}


async def recount_threads(conn: AsyncConnection, thread_ids: Iterable[int]) -> dict[int, ThreadCounts]:
    """Published and pending answers and votes on published answers, per thread."""
    return await conn.run_sync(count_threads, thread_ids)


_THREAD_COUNTS = (
    select(Answer.thread_id, Answer.status, func.count(), func.sum(col(Answer.agree) + col(Answer.disagree)))
    .where(col(Answer.thread_id).in_(bindparam("ids", expanding=True)), col(Answer.merged_into).is_(None))
    .group_by(col(Answer.thread_id), col(Answer.status))
)


def count_threads(conn: Connection, thread_ids: Iterable[int]) -> dict[int, ThreadCounts]:
    """`recount_threads` for a step that runs on a synchronous connection.

    Reads the answers' own counts, so it costs one row per answer, however many votes there are.
    """
    ids = sorted(set(thread_ids))
    if not ids:
        return {}
    answers: dict[int, dict[str, int]] = {t: {} for t in ids}
    votes: dict[int, int] = {}
    for thread_id, status, count, cast_votes in conn.execute(_THREAD_COUNTS, {"ids": ids}):
        answers[thread_id][status] = count
        if status == "published":
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
    """The threads' counts, exact until the transaction commits: `count_threads` under `lock_threads`."""
    lock_threads(conn, thread_ids)
    return count_threads(conn, thread_ids)


_PARTICIPANTS = (
    select(func.count()).select_from(Participant).where(col(Participant.event_id) == bindparam("event"))
)


async def count_participants(conn: AsyncConnection, event_id: int) -> int:
    return await conn.run_sync(count_event_participants, event_id)


def count_event_participants(conn: Connection, event_id: int) -> int:
    return int(conn.execute(_PARTICIPANTS, {"event": event_id}).scalar_one())


async def with_counts(ctx: BoardContext, threads: list[ThreadView]) -> list[ThreadView]:
    """Threads with their live counts; a thread missing from the live layer is recounted and restored."""
    ids = [t.id for t in threads]
    try:
        known = await ctx.live.counters.get_threads(ids)
    except Exception:
        log.warning("live counters unreachable; counting in SQL", exc_info=True)
        known = {}
    missing = [t for t in ids if t not in known]
    if missing:
        known.update(await rebuild_threads(ctx, missing))
    return [replace(t, counts=known[t.id]) for t in threads]


async def participants(ctx: BoardContext, event_id: int) -> int:
    try:
        value = await ctx.live.counters.get_participants(event_id)
    except Exception:
        value = None
    if value is None:
        async with ctx.db.engine.connect() as conn:
            value = await count_participants(conn, event_id)
        await publish_participants(ctx, event_id, value)
    return value


async def publish_participants(ctx: BoardContext, event_id: int, count: int) -> None:
    try:
        await ctx.live.counters.set_participants(event_id, count)
    except Exception:
        log.warning("live counters unreachable; participants not stored", exc_info=True)


async def rebuild_threads(ctx: BoardContext, thread_ids: Iterable[int]) -> dict[int, ThreadCounts]:
    """Recount threads and their published answers from SQL and write them to the live counters.

    The live counters are written before the commit, while the threads are locked, so that a
    writer that counted later cannot be overwritten by this one.
    """
    ids = list(thread_ids)
    stored = False
    try:
        async with ctx.db.write_steps() as step:
            threads, by_thread, answers = await step(_recount_and_store, ids)
            stored = await store_threads(
                ctx, {t: threads[t] for t in ids}, {t: {a: answers[a] for a in by_thread[t]} for t in ids}
            )
    except BaseException:
        if stored:
            ctx.stale_threads.update(ids)
        raise
    return threads


async def store_threads(
    ctx: BoardContext,
    threads: dict[int, ThreadCounts],
    answers: dict[int, dict[int, AnswerCounts]] | None = None,
) -> bool:
    """Write threads' counts (and their answers') to the live counters; False and marked stale if unreachable."""
    try:
        for thread_id, counts in threads.items():
            if answers is not None:
                await ctx.live.counters.set_answers(thread_id, answers.get(thread_id, {}))
            await ctx.live.counters.set_thread(thread_id, counts)
    except Exception:
        log.warning("live counters unreachable; rebuild postponed", exc_info=True)
        ctx.stale_threads.update(threads)
        return False
    return True


_PUBLISHED = (
    select(Answer.id, Answer.thread_id)
    .where(
        col(Answer.thread_id).in_(bindparam("ids", expanding=True)),
        Answer.status == "published",
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


def _recount_and_store(
    conn: Connection, ids: list[int]
) -> tuple[dict[int, ThreadCounts], dict[int, list[int]], dict[int, AnswerCounts]]:
    """Recount the threads' published answers from the votes and store those counts on the answers.

    The answers are locked first (on PostgreSQL; SQLite's transaction is IMMEDIATE), as the vote
    writer locks them, so that no batch of votes lands between the recount and the write.
    """
    published = _PUBLISHED_LOCKED if conn.dialect.name == "postgresql" else _PUBLISHED
    by_thread: dict[int, list[int]] = {t: [] for t in ids}
    for answer_id, thread_id in conn.execute(published, {"ids": ids}):
        by_thread[thread_id].append(answer_id)
    answers = count_answers(conn, [a for listed in by_thread.values() for a in listed])
    if answers:
        conn.execute(_STORE, [{"aid": a, "ag": c.agree, "dis": c.disagree} for a, c in answers.items()])
    return count_locked_threads(conn, ids), by_thread, answers


HEAL_EVERY = 1.0


async def refresh_segments(ctx: BoardContext) -> None:
    """Per-segment counts of recently voted answers, recounted from SQL off the vote path."""
    if not ctx.segments_due:
        return
    ids = sorted(ctx.segments_due)
    ctx.segments_due.difference_update(ids)
    async with ctx.db.engine.connect() as conn:
        threads: dict[int, int] = dict(
            (await conn.execute(select(Answer.id, Answer.thread_id).where(col(Answer.id).in_(ids)))).all()
        )
        counts = await recount_answers(conn, ids)
    by_thread: dict[int, dict[int, AnswerCounts]] = {}
    for answer_id, value in counts.items():
        by_thread.setdefault(threads[answer_id], {})[answer_id] = value
    try:
        for thread_id, answers in by_thread.items():
            await ctx.live.counters.set_answers(thread_id, answers)
    except Exception:
        ctx.stale_threads.update(by_thread)


async def heal(ctx: BoardContext) -> list[int]:
    """Rebuild the threads whose live counters missed a write, once the live layer answers again."""
    if not ctx.stale_threads or not await ctx.live.counters.ping():
        return []
    ids = sorted(ctx.stale_threads)
    ctx.stale_threads.difference_update(ids)
    totals = await rebuild_threads(ctx, ids)
    healed = [t for t in ids if t not in ctx.stale_threads]
    for thread_id in healed:
        ctx.live.channels.publish(
            {
                "type": "status",
                "thread": thread_id,
                "status": "answers",
                "totals": totals[thread_id].__dict__,
            },
            [thread_channel(thread_id)],
        )
    if healed:
        log.info("live counters rebuilt from SQL for threads %s", healed)
    return healed


VERIFY_EVERY = 30.0

_LIVE_THREADS = (
    select(Thread.id, Event.slug)
    .join(Event, col(Event.id) == col(Thread.event_id))
    .where(Thread.status != "draft")
)


async def repair(ctx: BoardContext) -> list[int]:
    """Store SQL's counts for every thread whose live counters disagree with it; the threads repaired.

    Compared and written under the threads' locks, so a batch in flight cannot be mistaken for drift.
    """
    async with ctx.db.engine.connect() as conn:
        slugs: dict[int, str] = {t: slug for t, slug in await conn.execute(_LIVE_THREADS)}
    if not slugs:
        return []
    async with ctx.db.write_steps() as step:
        truth = await step(count_locked_threads, list(slugs))
        try:
            live = await ctx.live.counters.get_threads(list(slugs))
        except Exception:
            log.warning("live counters unreachable; repair postponed", exc_info=True)
            return []
        wrong = {t: c for t, c in truth.items() if live.get(t) != c}
        if wrong and not await store_threads(ctx, wrong):
            return []
    for thread_id, totals in wrong.items():
        ctx.live.channels.publish(
            {"type": "counts", "thread": thread_id, "answers": {}, "totals": totals.__dict__},
            [thread_channel(thread_id), event_channel(slugs[thread_id])],
        )
    drifted = sorted(t for t in wrong if t in live)
    if drifted:
        log.warning("live counters disagreed with SQL for threads %s: repaired", drifted)
    return sorted(wrong)


async def heal_forever(ctx: BoardContext) -> None:
    """Rebuild what missed a write every second; check every thread against SQL now and every half-minute."""
    loop = asyncio.get_running_loop()
    verified = -VERIFY_EVERY
    while True:
        try:
            if loop.time() - verified >= VERIFY_EVERY:
                verified = loop.time()
                await repair(ctx)
            await refresh_segments(ctx)
            await heal(ctx)
        except Exception:
            log.warning("counter healing failed; will try again", exc_info=True)
        await asyncio.sleep(HEAL_EVERY)


async def rebuild_event(ctx: BoardContext, event_id: int) -> dict[int, ThreadCounts]:
    async with ctx.db.engine.connect() as conn:
        ids = list((await conn.execute(select(Thread.id).where(Thread.event_id == event_id))).scalars())
        people = await count_participants(conn, event_id)
    await publish_participants(ctx, event_id, people)
    return await rebuild_threads(ctx, ids)

"""Keeping the live counters equal to SQL: read them, rebuild them, and repair what they missed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import replace

from sqlmodel import col, select

from board.domain.context import BoardContext
from board.domain.repairs import read_or
from board.domain.tally import count_locked_threads, count_participants, recount_and_store
from board.domain.views import ThreadView
from board.live.channels import event_channel, thread_channel
from board.live.counters import Headcount, ThreadCounts
from board.live.messages import Counts, Status
from board.models import Event, Thread, ThreadStatus

log = logging.getLogger(__name__)

HEAL_EVERY = 1.0
VERIFY_EVERY = 30.0


async def with_counts(ctx: BoardContext, threads: list[ThreadView]) -> list[ThreadView]:
    """Threads with their live counts; a thread missing from the live layer is recounted and restored."""
    ids = [t.id for t in threads]
    known = await read_or(ctx.live.counters.get_threads(ids), {}, "thread counts")
    missing = [t for t in ids if t not in known]
    if missing:
        known.update(await rebuild_threads(ctx, missing))
    return [replace(t, counts=known[t.id]) for t in threads]


async def participants(ctx: BoardContext, event_id: int) -> int:
    value = await read_or(ctx.live.counters.get_participants(event_id), None, "participants")
    if value is None:
        async with ctx.db.connect() as conn:
            value = await count_participants(conn, event_id)
        await publish_participants(ctx, event_id, Headcount(value))
    return value


async def publish_participants(ctx: BoardContext, event_id: int, count: Headcount) -> None:
    """Write an event's participants to the live counters; a count stamped earlier than the one
    stored there is left out (`Headcount(n)`, unstamped, replaces any)."""
    await ctx.repairs.attempt(ctx.live.counters.set_participants(event_id, count), (), "participants")


async def store_threads(ctx: BoardContext, threads: dict[int, ThreadCounts]) -> bool:
    """Write threads' counts to the live counters; False, and marked for repair, if unreachable.

    Counts from `count_locked_threads` carry the time they were counted: stored after the commit,
    in whatever order writers get there, the counters keep the newest.
    """
    return await ctx.repairs.attempt(ctx.live.counters.set_threads(threads), threads, "thread counts")


async def rebuild_threads(ctx: BoardContext, thread_ids: Iterable[int]) -> dict[int, ThreadCounts]:
    """Recount threads and their published answers from SQL, store them, and write the live counters."""
    ids = list(thread_ids)
    stored = False
    try:
        async with ctx.db.write_steps() as step:
            threads = await step(recount_and_store, ids)
            stored = await store_threads(ctx, threads)
    except BaseException:
        if stored:
            ctx.repairs.mark(ids)
        raise
    return threads


async def heal(ctx: BoardContext) -> list[int]:
    """Rebuild the threads whose live counters missed a write, once the live layer answers again."""
    if not ctx.repairs or not await ctx.live.counters.ping():
        return []
    ids = ctx.repairs.take()
    totals = await rebuild_threads(ctx, ids)
    healed = [t for t in ids if t not in ctx.repairs]
    for thread_id in healed:
        ctx.live.channels.send(Status("answers", thread_id, totals[thread_id]), [thread_channel(thread_id)])
    if healed:
        log.info("live counters rebuilt from SQL for threads %s", healed)
    return healed


_LIVE_THREADS = (
    select(Thread.id, Event.slug)
    .join(Event, col(Event.id) == col(Thread.event_id))
    .where(Thread.status != ThreadStatus.DRAFT)
)


async def repair(ctx: BoardContext) -> list[int]:
    """Store SQL's counts for every thread whose live counters disagree with it; the threads repaired.

    Compared and written under the threads' locks, so a batch in flight cannot be mistaken for drift.
    """
    async with ctx.db.connect() as conn:
        slugs: dict[int, str] = {t: slug for t, slug in await conn.execute(_LIVE_THREADS)}
    if not slugs:
        return []
    async with ctx.db.write_steps() as step:
        truth = await step(count_locked_threads, list(slugs))
        live = await read_or(ctx.live.counters.get_threads(list(slugs)), None, "thread counts")
        if live is None:
            return []
        wrong = {t: c for t, c in truth.items() if live.get(t) != c}
        if wrong and not await store_threads(ctx, wrong):
            return []
    for thread_id, totals in wrong.items():
        ctx.live.channels.send(
            Counts(thread_id, totals), [thread_channel(thread_id), event_channel(slugs[thread_id])]
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
            await heal(ctx)
        except Exception:
            log.warning("counter healing failed; will try again", exc_info=True)
        await asyncio.sleep(HEAL_EVERY)


async def rebuild_event(ctx: BoardContext, event_id: int) -> dict[int, ThreadCounts]:
    async with ctx.db.connect() as conn:
        ids = list((await conn.execute(select(Thread.id).where(Thread.event_id == event_id))).scalars())
        people = await count_participants(conn, event_id)
    await publish_participants(ctx, event_id, Headcount(people))
    return await rebuild_threads(ctx, ids)

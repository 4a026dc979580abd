"""Opinion groups of live threads: recomputed off the event loop, at most once per interval, cached and shared.

The vote path is left alone. A thread is recomputed when someone looks at its groups (the projector's
opinion view, the API, the results page) and its published answers or votes have moved since the
last computation (the live counters tell it), at most once per interval across all workers (a claim
in the live layer). The work runs in a separate process that reads the votes itself and has
scikit-learn loaded, never in the web process; the result goes to the shared cache, where every
screen, API call and worker reads it, and screens hear `opinions` on the event's stream. Once
retention has unlinked a thread's votes, the groups it kept for the thread are served instead.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam
from sqlmodel import col, select

from board.db import Database
from board.domain.context import BoardContext
from board.domain.views import ThreadView
from board.live import UNREACHABLE
from board.live.channels import event_channel
from board.live.messages import Status
from board.models import (
    WITHHELD,
    Answer,
    AnswerStatus,
    Event,
    ImportedPass,
    Participant,
    RetainedOpinions,
    Thread,
    Vote,
)

log = logging.getLogger(__name__)

_ANSWERS = (
    select(Answer.id, Answer.status)
    .where(
        col(Answer.thread_id) == bindparam("thread"),
        col(Answer.status).in_([AnswerStatus.PUBLISHED, *WITHHELD]),
        col(Answer.merged_into).is_(None),
    )
    .order_by(col(Answer.id))
)
_VOTES = (
    select(Vote.participant_id, Vote.answer_id, Vote.value)
    .join(Answer, col(Answer.id) == col(Vote.answer_id))
    .where(
        col(Answer.thread_id) == bindparam("thread"),
        col(Answer.status).in_([AnswerStatus.PUBLISHED, *WITHHELD]),
        col(Answer.merged_into).is_(None),
    )
)
_PASSES = (
    select(ImportedPass.participant_id, ImportedPass.answer_id)
    .join(Answer, col(Answer.id) == col(ImportedPass.answer_id))
    .where(
        col(Answer.thread_id) == bindparam("thread"),
        col(Answer.status).in_([AnswerStatus.PUBLISHED, *WITHHELD]),
        col(Answer.merged_into).is_(None),
    )
)
_RETAINED = select(RetainedOpinions.payload).where(col(RetainedOpinions.thread_id) == bindparam("thread"))
_VOTED_THREADS = (
    select(Answer.thread_id)
    .join(Thread, col(Thread.id) == col(Answer.thread_id))
    .where(
        col(Thread.event_id) == bindparam("event"),
        select(Vote.answer_id).where(Vote.answer_id == Answer.id).exists(),
    )
    .distinct()
)
_SLUG = (
    select(Event.slug)
    .join(Thread, col(Thread.event_id) == col(Event.id))
    .where(Thread.id == bindparam("thread"))
)
_EXTERNAL = select(Participant.id, Participant.external_id).where(
    and_(col(Participant.id).in_(bindparam("ids", expanding=True)), col(Participant.external_id).is_not(None))
)


async def thread_slug(ctx: BoardContext, thread_id: int) -> str | None:
    """The slug of the thread's event, None for an unknown thread."""
    async with ctx.db.connect() as conn:
        slug: str | None = (await conn.execute(_SLUG, {"thread": thread_id})).scalar()
    return slug


_worker_db: dict[tuple[str, str | None], Database] = {}


@dataclass(frozen=True)
class ThreadVotes:
    published: list[int]
    withheld: list[int]
    votes: list[tuple[str, int, int]]
    """Votes and imported passes (value 0), on published and withheld answers."""


async def _read_votes(db: Database, thread_id: int) -> ThreadVotes:
    try:
        async with db.connect() as conn:
            statuses = [(a, s) for a, s in await conn.execute(_ANSWERS, {"thread": thread_id})]
            passes = [(p, a, 0) for p, a in await conn.execute(_PASSES, {"thread": thread_id})]
            votes = [(p, a, v) for p, a, v in await conn.execute(_VOTES, {"thread": thread_id})]
    finally:
        await db.engine.dispose()
    return ThreadVotes(
        [a for a, s in statuses if s == AnswerStatus.PUBLISHED],
        [a for a, s in statuses if s != AnswerStatus.PUBLISHED],
        passes + votes,
    )


def compute_thread(
    database_url: str, schema: str | None, thread_id: int, state: bytes | None, computed_at: str
) -> tuple[bytes, bytes, dict[str, int]]:
    """Read a thread's votes and compute its groups, in the worker process: the votes never enter the web
    process, so a big thread costs the event loop nothing. (payload JSON, next state, members)."""
    key = (database_url, schema)
    if key not in _worker_db:
        _worker_db[key] = Database(database_url, schema=schema)
    read = asyncio.run(_read_votes(_worker_db[key], thread_id))
    from board.domain import opinions

    return opinions.compute(read.votes, read.published, state, computed_at, read.withheld)


async def retained(ctx: BoardContext, thread_id: int) -> bytes | None:
    """The groups retention kept for the thread, served as they are since the votes that made them are gone."""
    async with ctx.db.connect() as conn:
        payload: str | None = (await conn.execute(_RETAINED, {"thread": thread_id})).scalar()
    return None if payload is None else payload.encode()


async def external_ids(ctx: BoardContext, participant_ids: list[str]) -> dict[str, str]:
    """Participant → external id, for those imported from elsewhere."""
    found: dict[str, str] = {}
    async with ctx.db.connect() as conn:
        for start in range(0, len(participant_ids), 500):
            chunk = participant_ids[start : start + 500]
            found.update({p: e for p, e in await conn.execute(_EXTERNAL, {"ids": chunk})})
    return found


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _warm_up(parent: int) -> None:
    """numpy and scikit-learn are loaded in the worker process only: a web worker never holds them.

    The worker process ends when its parent does, however the parent ended (a killed web worker, a
    process that exits without running its exit handlers): it is no use to anyone else.
    """
    from board.domain import opinions

    threading.Thread(target=_end_with, args=(parent,), name="parent-watch", daemon=True).start()
    opinions.warm_up()


def _end_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK)
    os._exit(0)


PARENT_CHECK = 1.0


class _WorkerProcess:
    """The process's one worker process for opinion groups, started when first needed and shared by
    everything in the process that computes groups; started anew if it died."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def get(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm_up,
                initargs=(os.getpid(),),
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def discard(self, broken: Executor) -> None:
        if self._pool is broken:
            self._pool = None
            broken.shutdown(wait=False, cancel_futures=True)

    def forget(self) -> None:
        """A forked child does not own its parent's worker process."""
        self._pool = None


_WORKER = _WorkerProcess()
os.register_at_fork(after_in_child=_WORKER.forget)
atexit.register(_WORKER.close)


async def _in_worker(*args: Any) -> tuple[bytes, bytes, dict[str, int]]:
    """`compute_thread(*args)` in the worker process; a worker that died is replaced for the next call."""
    pool = _WORKER.get()
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, compute_thread, *args)
    except BrokenProcessPool:
        _WORKER.discard(pool)
        raise


FIRST_WAIT = 2.0
"""How long a reader that wants a result waits for a thread's first computation (the worker process may be
starting and loading scikit-learn); past it, the reader gets nothing yet and the computation goes on."""


def version_of(thread: ThreadView) -> str:
    """What the groups were computed from, as cheaply as the live counters tell it."""
    return f"{thread.counts.answers}:{thread.counts.votes}"


class OpinionGroups:
    """One per process: reads the shared cache and, for threads someone is looking at, recomputes them."""

    def __init__(self, ctx: BoardContext, interval: float) -> None:
        self.ctx = ctx
        self.interval = interval
        self._tasks: dict[int, asyncio.Task[bytes | None]] = {}

    async def stop(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _schedule(self, thread_id: int, version: str) -> asyncio.Task[bytes | None]:
        """One recomputation of a thread at a time in this process; a second asker shares the first's."""
        task = self._tasks.get(thread_id)
        if task is None or task.done():
            task = asyncio.create_task(self.refresh(thread_id, version), name=f"opinions-{thread_id}")
            self._tasks[thread_id] = task
        return task

    async def _claim(self, thread_id: int) -> bool:
        try:
            return await self.ctx.live.opinions.claim(thread_id, self.interval)
        except UNREACHABLE:
            return True

    async def _compute(self, thread_id: int, state: bytes | None) -> tuple[bytes, bytes, dict[str, int]]:
        return await _in_worker(self.ctx.db.url, self.ctx.settings.database_schema, thread_id, state, _now())

    async def refresh(self, thread_id: int, version: str) -> bytes | None:
        """Recompute one thread now, store the result for everyone and tell the screens."""
        slug = await thread_slug(self.ctx, thread_id)
        if slug is None:
            return None
        cache = self.ctx.live.opinions
        try:
            state = await cache.state(thread_id)
        except UNREACHABLE:
            state = None
        kept = await retained(self.ctx, thread_id)
        try:
            payload, next_state, members = (
                (kept, b"", {}) if kept is not None else await self._compute(thread_id, state)
            )
        except Exception:
            log.exception("opinion groups of thread %s failed", thread_id)
            return None
        try:
            await cache.store(thread_id, payload, version, next_state, members)
        except UNREACHABLE:
            log.warning("opinion groups of thread %s not cached: live layer unreachable", thread_id)
        self.ctx.live.channels.send(Status("opinions", thread_id), [event_channel(slug)])
        return payload

    async def latest(self, thread: ThreadView, *, wait: bool = False) -> dict[str, Any] | None:
        """The thread's groups as last computed; a recomputation starts in the background when its answers
        or votes moved and none ran for an interval. Before any computation: None, or with `wait` the
        result of one computed now (off the event loop) if it ends within FIRST_WAIT seconds."""
        version = version_of(thread)
        try:
            cached = await self.ctx.live.opinions.payload(thread.id)
        except UNREACHABLE:
            cached = None
        if cached is None:
            if wait:
                task = self._schedule(thread.id, version)
                try:
                    raw = await asyncio.wait_for(asyncio.shield(task), FIRST_WAIT)
                except TimeoutError:
                    return None
                return None if raw is None else json.loads(raw)
            if await self._claim(thread.id):
                self._schedule(thread.id, version)
            return None
        raw, computed_from = cached
        if computed_from != version and await self._claim(thread.id):
            self._schedule(thread.id, version)
        return json.loads(raw)

    def prepare(self, threads: list[ThreadView]) -> None:
        """Start computing the groups of the threads that have votes, without waiting: once an event
        closes, every phone is sent to its results page, which then finds them ready."""
        for thread in threads:
            if thread.counts.votes:
                self._schedule(thread.id, version_of(thread))

    async def group_of(self, thread_id: int, participant_id: str) -> int | None:
        """The group a participant's own votes place them in, from the cache only (never computed here)."""
        try:
            return await self.ctx.live.opinions.member(thread_id, participant_id)
        except UNREACHABLE:
            return None


async def freeze(ctx: BoardContext, event_id: int) -> dict[int, bytes]:
    """The groups of the event's threads that have votes, computed now in the worker process, for
    retention to keep once the votes are unlinked. A thread that fails is left out (and logged)."""
    async with ctx.db.connect() as conn:
        threads = [int(t) for t in (await conn.execute(_VOTED_THREADS, {"event": event_id})).scalars()]
    if not threads:
        return {}
    frozen: dict[int, bytes] = {}
    for thread_id in threads:
        try:
            state = await ctx.live.opinions.state(thread_id)
        except UNREACHABLE:
            state = None
        try:
            payload, _, _ = await _in_worker(
                ctx.db.url, ctx.settings.database_schema, thread_id, state, _now()
            )
        except Exception:
            log.exception("opinion groups of thread %s not kept for retention", thread_id)
            continue
        frozen[thread_id] = payload
    return frozen


async def forget_members(ctx: BoardContext, frozen: dict[int, bytes]) -> None:
    """Once retention applied: the cache keeps the groups and forgets who was in them."""
    for thread_id, payload in frozen.items():
        try:
            await ctx.live.opinions.store(thread_id, payload, "", b"", {})
        except UNREACHABLE:
            log.warning("opinion groups of thread %s: live layer unreachable after retention", thread_id)


@dataclass(frozen=True)
class Membership:
    """A thread's current groups with who is in them: for the organiser's command line, never published."""

    payload: dict[str, Any]
    members: dict[str, str | int]
    """Participant (external id when imported, else the internal key) → group."""


async def membership(ctx: BoardContext, thread_id: int) -> Membership | None:
    """The groups the screens show now if any were computed, else computed here (in a thread)."""
    cache = ctx.live.opinions
    cached = await cache.payload(thread_id)
    members: dict[str, int] = await cache.members(thread_id) if cached is not None else {}
    raw = None if cached is None else cached[0]
    if raw is None and (kept := await retained(ctx, thread_id)) is not None:
        raw, members = kept, {}
    if raw is None:
        if await thread_slug(ctx, thread_id) is None:
            return None
        computed, state, members = await asyncio.to_thread(
            compute_thread,
            ctx.db.url,
            ctx.settings.database_schema,
            thread_id,
            await cache.state(thread_id),
            _now(),
        )
        await cache.store(thread_id, computed, "", state, members)
        raw = computed
    names = await external_ids(ctx, sorted(members))
    return Membership(json.loads(raw), {names.get(p, p): g for p, g in sorted(members.items())})

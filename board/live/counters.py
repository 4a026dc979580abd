"""Live counters: absolute counts per answer, thread and event, in Redis or in process memory.

Writers always store absolute values recounted from SQL, never deltas, so a counter can be
rebuilt at any time and can never drift from the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from board.live.breaker import Breaker


@dataclass(frozen=True)
class AnswerCounts:
    agree: int = 0
    disagree: int = 0
    segments: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def score(self) -> int:
        return self.agree - self.disagree


@dataclass(frozen=True)
class ThreadCounts:
    answers: int = 0
    pending: int = 0
    votes: int = 0


class Counters(Protocol):
    async def set_answers(self, thread_id: int, counts: Mapping[int, AnswerCounts]) -> None: ...
    async def set_totals(
        self, thread_id: int, totals: Mapping[int, tuple[int, int]], thread: ThreadCounts | None = None
    ) -> None: ...
    async def get_answers(self, answer_ids: Iterable[int]) -> dict[int, AnswerCounts]: ...
    async def drop_answers(self, thread_id: int, answer_ids: Iterable[int]) -> None: ...
    async def top(self, thread_id: int, limit: int) -> list[int] | None: ...
    async def set_thread(self, thread_id: int, counts: ThreadCounts) -> None: ...
    async def get_threads(self, thread_ids: Iterable[int]) -> dict[int, ThreadCounts]: ...
    async def set_participants(self, event_id: int, count: int) -> None: ...
    async def get_participants(self, event_id: int) -> int | None: ...
    async def ping(self) -> bool: ...


class MemoryCounters:
    """Counters for the embedded default: one process, nothing shared."""

    def __init__(self) -> None:
        self._answers: dict[int, AnswerCounts] = {}
        self._top: dict[int, dict[int, int]] = {}
        self._threads: dict[int, ThreadCounts] = {}
        self._participants: dict[int, int] = {}

    async def set_answers(self, thread_id: int, counts: Mapping[int, AnswerCounts]) -> None:
        scores = self._top.setdefault(thread_id, {})
        for answer_id, value in counts.items():
            self._answers[answer_id] = value
            scores[answer_id] = value.score

    async def set_totals(
        self, thread_id: int, totals: Mapping[int, tuple[int, int]], thread: ThreadCounts | None = None
    ) -> None:
        if thread is not None:
            self._threads[thread_id] = thread
        scores = self._top.setdefault(thread_id, {})
        for answer_id, (agree, disagree) in totals.items():
            known = self._answers.get(answer_id, AnswerCounts())
            self._answers[answer_id] = AnswerCounts(agree, disagree, known.segments)
            scores[answer_id] = agree - disagree

    async def get_answers(self, answer_ids: Iterable[int]) -> dict[int, AnswerCounts]:
        return {a: self._answers[a] for a in answer_ids if a in self._answers}

    async def drop_answers(self, thread_id: int, answer_ids: Iterable[int]) -> None:
        scores = self._top.get(thread_id, {})
        for answer_id in answer_ids:
            self._answers.pop(answer_id, None)
            scores.pop(answer_id, None)

    async def top(self, thread_id: int, limit: int) -> list[int] | None:
        if thread_id not in self._top:
            return None
        ranked = sorted(self._top[thread_id].items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        return [answer_id for answer_id, _ in ranked[:limit]]

    async def set_thread(self, thread_id: int, counts: ThreadCounts) -> None:
        self._threads[thread_id] = counts
        self._top.setdefault(thread_id, {})

    async def get_threads(self, thread_ids: Iterable[int]) -> dict[int, ThreadCounts]:
        return {t: self._threads[t] for t in thread_ids if t in self._threads}

    async def set_participants(self, event_id: int, count: int) -> None:
        self._participants[event_id] = count

    async def get_participants(self, event_id: int) -> int | None:
        return self._participants.get(event_id)

    async def ping(self) -> bool:
        return True


def _thread_fields(counts: ThreadCounts) -> dict[str | bytes | bytearray | memoryview | int | float, int]:
    return {"answers": counts.answers, "pending": counts.pending, "votes": counts.votes}


def _answer_fields(counts: AnswerCounts) -> dict[str | bytes | bytearray | memoryview | int | float, int]:
    fields: dict[str | bytes | bytearray | memoryview | int | float, int] = {
        "agree": counts.agree,
        "disagree": counts.disagree,
    }
    for name, (agree, disagree) in counts.segments.items():
        fields[f"s:{name}:agree"] = agree
        fields[f"s:{name}:disagree"] = disagree
    return fields


def _answer_from_fields(raw: Mapping[bytes, bytes]) -> AnswerCounts:
    segments: dict[str, list[int]] = {}
    agree = disagree = 0
    for key_bytes, value_bytes in raw.items():
        key, value = key_bytes.decode(), int(value_bytes)
        if key == "agree":
            agree = value
        elif key == "disagree":
            disagree = value
        elif key.startswith("s:"):
            name, _, side = key[2:].rpartition(":")
            segments.setdefault(name, [0, 0])[0 if side == "agree" else 1] = value
    return AnswerCounts(agree, disagree, {k: (v[0], v[1]) for k, v in segments.items()})


class RedisCounters:
    """Counters shared by every worker and machine through one Redis."""

    def __init__(self, redis: Redis, prefix: str, breaker: Breaker | None = None) -> None:
        self.redis = redis
        self.prefix = prefix
        self.breaker = breaker or Breaker()

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        """Fail at once while Redis is known to be down; trip the breaker on a new failure."""
        self.breaker.check()
        try:
            yield
        except (RedisError, OSError):
            self.breaker.trip()
            raise

    def _answer_key(self, answer_id: int) -> str:
        return f"{self.prefix}a:{answer_id}"

    def _top_key(self, thread_id: int) -> str:
        return f"{self.prefix}top:{thread_id}"

    def _thread_key(self, thread_id: int) -> str:
        return f"{self.prefix}t:{thread_id}"

    async def set_answers(self, thread_id: int, counts: Mapping[int, AnswerCounts]) -> None:
        if not counts:
            return
        async with self._guard(), self.redis.pipeline(transaction=True) as pipe:
            for answer_id, value in counts.items():
                key = self._answer_key(answer_id)
                pipe.delete(key)
                pipe.hset(key, mapping=_answer_fields(value))
            pipe.zadd(self._top_key(thread_id), {f"{a:012d}": c.score for a, c in counts.items()})
            await pipe.execute()

    async def set_totals(
        self, thread_id: int, totals: Mapping[int, tuple[int, int]], thread: ThreadCounts | None = None
    ) -> None:
        """Agree and disagree only (and the thread's counts if given), in one pipeline.

        The per-segment fields are left as they are.
        """
        if not totals and thread is None:
            return
        async with self._guard(), self.redis.pipeline(transaction=True) as pipe:
            for answer_id, (agree, disagree) in totals.items():
                pipe.hset(self._answer_key(answer_id), mapping={"agree": agree, "disagree": disagree})
            if totals:
                pipe.zadd(
                    self._top_key(thread_id), {f"{a:012d}": ag - dis for a, (ag, dis) in totals.items()}
                )
            if thread is not None:
                pipe.hset(self._thread_key(thread_id), mapping=_thread_fields(thread))
            await pipe.execute()

    async def get_answers(self, answer_ids: Iterable[int]) -> dict[int, AnswerCounts]:
        ids = list(answer_ids)
        if not ids:
            return {}
        async with self._guard(), self.redis.pipeline(transaction=False) as pipe:
            for answer_id in ids:
                pipe.hgetall(self._answer_key(answer_id))
            rows = await pipe.execute()
        return {a: _answer_from_fields(raw) for a, raw in zip(ids, rows, strict=True) if raw}

    async def drop_answers(self, thread_id: int, answer_ids: Iterable[int]) -> None:
        ids = list(answer_ids)
        if not ids:
            return
        async with self._guard(), self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*[self._answer_key(a) for a in ids])
            pipe.zrem(self._top_key(thread_id), *[f"{a:012d}" for a in ids])
            await pipe.execute()

    async def top(self, thread_id: int, limit: int) -> list[int] | None:
        async with self._guard(), self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(self._thread_key(thread_id))
            pipe.zrevrange(self._top_key(thread_id), 0, limit - 1)
            exists, members = await pipe.execute()
        if not exists:
            return None
        return [int(m) for m in members]

    async def set_thread(self, thread_id: int, counts: ThreadCounts) -> None:
        async with self._guard():
            await self.redis.hset(self._thread_key(thread_id), mapping=_thread_fields(counts))

    async def get_threads(self, thread_ids: Iterable[int]) -> dict[int, ThreadCounts]:
        ids = list(thread_ids)
        if not ids:
            return {}
        async with self._guard(), self.redis.pipeline(transaction=False) as pipe:
            for thread_id in ids:
                pipe.hgetall(self._thread_key(thread_id))
            rows = await pipe.execute()
        result = {}
        for thread_id, raw in zip(ids, rows, strict=True):
            if raw:
                values = {k.decode(): int(v) for k, v in raw.items()}
                result[thread_id] = ThreadCounts(
                    values.get("answers", 0), values.get("pending", 0), values.get("votes", 0)
                )
        return result

    async def set_participants(self, event_id: int, count: int) -> None:
        async with self._guard():
            await self.redis.set(f"{self.prefix}e:{event_id}:participants", count)

    async def get_participants(self, event_id: int) -> int | None:
        async with self._guard():
            raw = await self.redis.get(f"{self.prefix}e:{event_id}:participants")
        return None if raw is None else int(raw)

    async def ping(self) -> bool:
        try:
            alive = bool(await self.redis.ping())
        except (RedisError, OSError):
            self.breaker.trip()
            return False
        if alive:
            self.breaker.reset()
        return alive

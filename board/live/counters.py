"""Live counters: absolute counts per thread and event, in Redis or in process memory.

Writers always store absolute values counted in SQL, never deltas, so a counter can be rebuilt at
any time and can never drift from the database. A thread's counts carry the time SQL counted them,
under the thread's lock: a store keeps the newest, so writers may store after they commit, in any
order, and the counter still ends on the last commit's counts.
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
class ThreadCounts:
    answers: int = 0
    pending: int = 0
    votes: int = 0
    version: int = field(default=0, compare=False)
    """When SQL counted them (microseconds, the database's clock); 0 for counts that replace any."""


def newer(counts: ThreadCounts, stored: ThreadCounts | None) -> bool:
    return stored is None or counts.version == 0 or counts.version >= stored.version


class Counters(Protocol):
    async def set_threads(self, counts: Mapping[int, ThreadCounts]) -> None: ...
    async def get_threads(self, thread_ids: Iterable[int]) -> dict[int, ThreadCounts]: ...
    async def set_participants(self, event_id: int, count: int) -> None: ...
    async def get_participants(self, event_id: int) -> int | None: ...
    async def ping(self) -> bool: ...


class MemoryCounters:
    """Counters for the embedded default: one process, nothing shared."""

    def __init__(self) -> None:
        self._threads: dict[int, ThreadCounts] = {}
        self._participants: dict[int, int] = {}

    async def set_threads(self, counts: Mapping[int, ThreadCounts]) -> None:
        for thread_id, value in counts.items():
            if newer(value, self._threads.get(thread_id)):
                self._threads[thread_id] = value

    async def get_threads(self, thread_ids: Iterable[int]) -> dict[int, ThreadCounts]:
        return {t: self._threads[t] for t in thread_ids if t in self._threads}

    async def set_participants(self, event_id: int, count: int) -> None:
        self._participants[event_id] = count

    async def get_participants(self, event_id: int) -> int | None:
        return self._participants.get(event_id)

    async def ping(self) -> bool:
        return True


STORE_NEWER = """
local function store_newer(key, answers, pending, votes, version)
    local stored = tonumber(redis.call('HGET', key, 'version') or '0')
    if tonumber(version) == 0 or tonumber(version) >= stored then
        redis.call('HSET', key, 'answers', answers, 'pending', pending, 'votes', votes, 'version', version)
    end
end
"""
"""A thread's counts stored unless newer ones are there already (Lua, for every script that stores them)."""

_SET_NEWER = (
    STORE_NEWER
    + """
for i, key in ipairs(KEYS) do
    local at = 4 * (i - 1)
    store_newer(key, ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4])
end
return #KEYS
"""
)


def thread_key(prefix: str, thread_id: int) -> str:
    return f"{prefix}t:{thread_id}"


class RedisCounters:
    """Counters shared by every worker and machine through one Redis."""

    def __init__(self, redis: Redis, prefix: str, breaker: Breaker | None = None) -> None:
        self.redis = redis
        self.prefix = prefix
        self.breaker = breaker or Breaker()
        self._set_newer = redis.register_script(_SET_NEWER)

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        """Fail at once while Redis is known to be down; trip the breaker on a new failure."""
        self.breaker.check()
        try:
            yield
        except (RedisError, OSError):
            self.breaker.trip()
            raise

    def _thread_key(self, thread_id: int) -> str:
        return thread_key(self.prefix, thread_id)

    async def set_threads(self, counts: Mapping[int, ThreadCounts]) -> None:
        if not counts:
            return
        keys = [self._thread_key(thread_id) for thread_id in counts]
        values = [n for c in counts.values() for n in (c.answers, c.pending, c.votes, c.version)]
        async with self._guard():
            await self._set_newer(keys, values)

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
                    values.get("answers", 0),
                    values.get("pending", 0),
                    values.get("votes", 0),
                    values.get("version", 0),
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

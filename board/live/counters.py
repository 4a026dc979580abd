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


@dataclass(frozen=True)
class Headcount:
    """An event's participants, with the time SQL counted them (as `ThreadCounts.version`)."""

    count: int
    version: int = field(default=0, compare=False)


def newer(counts: ThreadCounts | Headcount, stored: ThreadCounts | Headcount | None) -> bool:
    return stored is None or counts.version == 0 or counts.version >= stored.version


class Counters(Protocol):
    async def set_threads(self, counts: Mapping[int, ThreadCounts]) -> None: ...
    async def get_threads(self, thread_ids: Iterable[int]) -> dict[int, ThreadCounts]: ...
    async def set_participants(self, event_id: int, count: Headcount) -> None: ...
    async def get_participants(self, event_id: int) -> int | None: ...
    async def ping(self) -> bool: ...


class MemoryCounters:
    """Counters for the embedded default: one process, nothing shared."""

    def __init__(self) -> None:
        self._threads: dict[int, ThreadCounts] = {}
        self._participants: dict[int, Headcount] = {}

    async def set_threads(self, counts: Mapping[int, ThreadCounts]) -> None:
        for thread_id, value in counts.items():
            if newer(value, self._threads.get(thread_id)):
                self._threads[thread_id] = value

    async def get_threads(self, thread_ids: Iterable[int]) -> dict[int, ThreadCounts]:
        return {t: self._threads[t] for t in thread_ids if t in self._threads}

    async def set_participants(self, event_id: int, count: Headcount) -> None:
        if newer(count, self._participants.get(event_id)):
            self._participants[event_id] = count

    async def get_participants(self, event_id: int) -> int | None:
        stored = self._participants.get(event_id)
        return None if stored is None else stored.count

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

STORE_NEWER_HEADCOUNT = """
local function store_newer_headcount(key, count, version)
    local stored = redis.call('GET', key)
    local at = tonumber(stored and string.match(stored, ':(%d+)$') or '0')
    if tonumber(version) == 0 or tonumber(version) >= at then
        redis.call('SET', key, count .. ':' .. version)
    end
end
"""
"""An event's participants stored as `count:version` unless a newer count is there already."""

_SET_HEADCOUNT = STORE_NEWER_HEADCOUNT + "store_newer_headcount(KEYS[1], ARGV[1], ARGV[2])\n"

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


def headcount_key(prefix: str, event_id: int) -> str:
    return f"{prefix}e:{event_id}:participants"


class RedisCounters:
    """Counters shared by every worker and machine through one Redis."""

    def __init__(self, redis: Redis, prefix: str, breaker: Breaker | None = None) -> None:
        self.redis = redis
        self.prefix = prefix
        self.breaker = breaker or Breaker()
        self._set_newer = redis.register_script(_SET_NEWER)
        self._set_headcount = redis.register_script(_SET_HEADCOUNT)

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

    async def set_participants(self, event_id: int, count: Headcount) -> None:
        async with self._guard():
            await self._set_headcount([headcount_key(self.prefix, event_id)], [count.count, count.version])

    async def get_participants(self, event_id: int) -> int | None:
        async with self._guard():
            raw = await self.redis.get(headcount_key(self.prefix, event_id))
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return int(text.split(":")[0])

    async def ping(self) -> bool:
        try:
            alive = bool(await self.redis.ping())
        except (RedisError, OSError):
            self.breaker.trip()
            return False
        if alive:
            self.breaker.reset()
        return alive

"""One call to the live layer per vote batch: store counts, publish messages, count the batch's uses.

The vote writer calls it once between its read and its write, so a batch costs one Redis round trip
however many votes, threads and channels it holds, and none while SQL locks are held: the counts and
messages are those of the batch before, the uses those of the batch at hand.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from limits.aio.storage.redis.redispy import RedispyBridge
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from board.live.breaker import Breaker
from board.live.channels import Channels
from board.live.counters import (
    STORE_NEWER,
    STORE_NEWER_HEADCOUNT,
    Counters,
    Headcount,
    ThreadCounts,
    headcount_key,
    thread_key,
)
from board.live.limits import Admission, Entry, RateLimits
from board.live.pubsub import redis_channel


@dataclass(frozen=True)
class Verdict:
    admission: Admission
    wait: int = 0
    """Seconds before a use refused as too fast would be counted."""


@dataclass(frozen=True)
class Publication:
    data: bytes
    channels: tuple[str, ...]


class Rounds(Protocol):
    async def run(
        self,
        entries: Sequence[Entry],
        counts: Mapping[int, ThreadCounts],
        messages: Sequence[Publication],
        people: Mapping[int, Headcount] | None = None,
        first: str = "join",
        then: str = "vote",
    ) -> list[Verdict]:
        """Store `counts` and `people` (the newest of each thread and event wins), publish `messages`,
        then count each entry's uses in turn as `RateLimits.admit` would: `first` for its `first_key`
        (a newcomer's address), then `then` for its key. Raises what the live layer raises when it
        cannot be reached."""
        ...


class MemoryRounds:
    """The in-process layer's round: the same steps, one after the other."""

    def __init__(self, counters: Counters, channels: Channels, limits: RateLimits) -> None:
        self.counters = counters
        self.channels = channels
        self.limits = limits

    async def run(
        self,
        entries: Sequence[Entry],
        counts: Mapping[int, ThreadCounts],
        messages: Sequence[Publication],
        people: Mapping[int, Headcount] | None = None,
        first: str = "join",
        then: str = "vote",
    ) -> list[Verdict]:
        await self.counters.set_threads(counts)
        for event_id, count in (people or {}).items():
            await self.counters.set_participants(event_id, count)
        for message in messages:
            self.channels.plugin.publish(message.data, list(message.channels))
        verdicts = []
        for entry, admission in zip(entries, await self.limits.admit(entries, first, then), strict=True):
            wait = await self.limits.retry_after(then, entry.key) if admission == Admission.TOO_FAST else None
            verdicts.append(Verdict(admission, wait or 0))
        return verdicts


_ROUND = """
local function acquire(KEYS, ARGV)
{acquire}
end
{store_newer}
{store_newer_headcount}
local now, head_limit, head_expiry = ARGV[1], ARGV[2], ARGV[3]
local tail_limit, tail_expiry = ARGV[4], ARGV[5]
local at = 7
for i = 1, tonumber(ARGV[6]) do
    store_newer(KEYS[i], ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3])
    at = at + 4
end
local threads = tonumber(ARGV[6])
for i = threads + 1, threads + tonumber(ARGV[at]) do
    store_newer_headcount(KEYS[i], ARGV[at + 1], ARGV[at + 2])
    at = at + 2
end
at = at + 1
local messages = tonumber(ARGV[at])
at = at + 1
for i = 1, messages do
    local data, channels = ARGV[at], tonumber(ARGV[at + 1])
    for j = at + 2, at + 1 + channels do
        redis.call('PUBLISH', ARGV[j], data)
    end
    at = at + 2 + channels
end
local barred, verdicts = {{}}, {{}}
while at <= #ARGV do
    local group, head, key = ARGV[at], tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
    local verdict, wait = 0, 0
    if barred[group] then
        verdict = 2
    elseif head > 0 and not acquire({{KEYS[head]}}, {{now, head_limit, head_expiry, 1}}) then
        barred[group] = true
        verdict = 2
    elseif not acquire({{KEYS[key]}}, {{now, tail_limit, tail_expiry, 1}}) then
        verdict = 1
        local oldest = tonumber(redis.call('LINDEX', KEYS[key], tonumber(tail_limit) - 1) or now)
        wait = math.max(1, math.ceil(oldest + tonumber(tail_expiry) - tonumber(now)))
    end
    verdicts[#verdicts + 1] = verdict
    verdicts[#verdicts + 1] = wait
    at = at + 3
end
return verdicts
"""


class RedisRounds:
    """The round as one Lua script: thread counters as `RedisCounters` keeps them, messages on the
    channels `RedisPubSubBackend` listens to, uses in the limits library's moving windows.

    ARGV: now, the two rules' amounts and expiries, the number of threads and their four values each,
    the number of events and their count and version each, the number of messages and each one's
    data, channel count and channels, then per entry its group and the positions in KEYS of its first
    key (0: none) and key. KEYS: the threads', the events', then the entries' keys. Returns a verdict
    (0 in, 1 too fast, 2 turned away) and a wait per entry.
    """

    def __init__(self, redis: Redis, prefix: str, limits: RateLimits, breaker: Breaker) -> None:
        self.redis = redis
        self.prefix = prefix
        self.limits = limits
        self.breaker = breaker
        self._script: AsyncScript | None = None

    def _bridge(self) -> RedispyBridge:
        bridge = getattr(self.limits.storage, "bridge", None)
        if not isinstance(bridge, RedispyBridge):
            raise TypeError("the Redis round needs the limits library's redis-py storage")
        return bridge

    async def run(
        self,
        entries: Sequence[Entry],
        counts: Mapping[int, ThreadCounts],
        messages: Sequence[Publication],
        people: Mapping[int, Headcount] | None = None,
        first: str = "join",
        then: str = "vote",
    ) -> list[Verdict]:
        people = people or {}
        if not (entries or counts or messages or people):
            return []
        self.breaker.check()
        bridge = self._bridge()
        if self._script is None:
            acquire = bridge.SCRIPT_ACQUIRE_MOVING_WINDOW.decode()
            self._script = cast(Redis, self.redis).register_script(
                _ROUND.format(
                    acquire=acquire, store_newer=STORE_NEWER, store_newer_headcount=STORE_NEWER_HEADCOUNT
                )
            )
        head, tail = self.limits.rules[first], self.limits.rules[then]
        keys: list[str] = [thread_key(self.prefix, thread_id) for thread_id in counts]
        args: list[str | int | float | bytes] = [
            time.time(),
            head.amount,
            head.get_expiry(),
            tail.amount,
            tail.get_expiry(),
            len(counts),
        ]
        for c in counts.values():
            args += [c.answers, c.pending, c.votes, c.version]
        keys += [headcount_key(self.prefix, event_id) for event_id in people]
        args.append(len(people))
        for h in people.values():
            args += [h.count, h.version]
        args.append(len(messages))
        for message in messages:
            args += [
                message.data,
                len(message.channels),
                *(redis_channel(self.prefix, c) for c in message.channels),
            ]
        for entry in entries:
            head_position = 0
            if entry.first_key is not None:
                keys.append(bridge.prefixed_key(head.key_for(entry.first_key)))
                head_position = len(keys)
            keys.append(bridge.prefixed_key(tail.key_for(entry.key)))
            args += [entry.group, head_position, len(keys)]
        try:
            answer = await self._script(keys, args)
        except (RedisError, OSError):
            self.breaker.trip()
            raise
        return [Verdict(Admission(int(answer[i])), int(answer[i + 1])) for i in range(0, len(answer), 2)]

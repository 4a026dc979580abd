"""The latest opinion groups of each thread, shared by every screen and worker: Redis or process memory.

Per thread: the public payload (JSON, served as is) with the version of the thread it was computed
from, the state the next computation starts from (so that groups stay in place whoever recomputes),
and each participant's group (read one at a time, for that participant's phone only). A claim with an
expiry lets one worker recompute a thread at a time, at most once per interval.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Protocol

from redis.asyncio import Redis


class OpinionCache(Protocol):
    async def payload(self, thread_id: int) -> tuple[bytes, str] | None: ...
    async def state(self, thread_id: int) -> bytes | None: ...
    async def member(self, thread_id: int, participant_id: str) -> int | None: ...
    async def members(self, thread_id: int) -> dict[str, int]: ...
    async def store(
        self, thread_id: int, payload: bytes, version: str, state: bytes, members: Mapping[str, int]
    ) -> None: ...
    async def claim(self, thread_id: int, seconds: float) -> bool: ...


class MemoryOpinionCache:
    """One process: plain dictionaries."""

    def __init__(self) -> None:
        self._payloads: dict[int, tuple[bytes, str]] = {}
        self._states: dict[int, bytes] = {}
        self._members: dict[int, dict[str, int]] = {}
        self._claims: dict[int, float] = {}

    async def payload(self, thread_id: int) -> tuple[bytes, str] | None:
        return self._payloads.get(thread_id)

    async def state(self, thread_id: int) -> bytes | None:
        return self._states.get(thread_id)

    async def member(self, thread_id: int, participant_id: str) -> int | None:
        return self._members.get(thread_id, {}).get(participant_id)

    async def members(self, thread_id: int) -> dict[str, int]:
        return dict(self._members.get(thread_id, {}))

    async def store(
        self, thread_id: int, payload: bytes, version: str, state: bytes, members: Mapping[str, int]
    ) -> None:
        self._payloads[thread_id] = (payload, version)
        self._states[thread_id] = state
        self._members[thread_id] = dict(members)

    async def claim(self, thread_id: int, seconds: float) -> bool:
        now = time.monotonic()
        if self._claims.get(thread_id, 0.0) > now:
            return False
        self._claims[thread_id] = now + seconds
        return True


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


class RedisOpinionCache:
    """Every worker and machine: one hash per thread, one hash of its members, one claim key."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(self, thread_id: int, part: str = "") -> str:
        return f"{self.prefix}opinions:{thread_id}{part}"

    async def payload(self, thread_id: int) -> tuple[bytes, str] | None:
        payload, version = await self.redis.hmget(self._key(thread_id), ["payload", "version"])
        return None if payload is None else (_bytes(payload), _bytes(version or b"").decode())

    async def state(self, thread_id: int) -> bytes | None:
        value = await self.redis.hget(self._key(thread_id), "state")
        return None if value is None else _bytes(value)

    async def member(self, thread_id: int, participant_id: str) -> int | None:
        value = await self.redis.hget(self._key(thread_id, ":members"), participant_id)
        return None if value is None else int(value)

    async def members(self, thread_id: int) -> dict[str, int]:
        found = await self.redis.hgetall(self._key(thread_id, ":members"))
        return {_bytes(p).decode(): int(g) for p, g in found.items()}

    async def store(
        self, thread_id: int, payload: bytes, version: str, state: bytes, members: Mapping[str, int]
    ) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(thread_id, ":members"))
            if members:
                pipe.hset(self._key(thread_id, ":members"), mapping={p: g for p, g in members.items()})
            pipe.hset(self._key(thread_id), mapping={"payload": payload, "version": version, "state": state})
            await pipe.execute()

    async def claim(self, thread_id: int, seconds: float) -> bool:
        taken = await self.redis.set(
            self._key(thread_id, ":claim"), b"1", nx=True, px=max(1, int(seconds * 1000))
        )
        return bool(taken)

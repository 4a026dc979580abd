"""A circuit breaker for Redis: after a failure, skip it for a few seconds instead of waiting on timeouts."""

from __future__ import annotations

import time

from redis.exceptions import ConnectionError as RedisConnectionError

PAUSE_SECONDS = 3.0


class RedisUnavailable(RedisConnectionError):
    """Raised at once while the breaker is open."""


class Breaker:
    def __init__(self, pause: float = PAUSE_SECONDS) -> None:
        self.pause = pause
        self._until = 0.0

    @property
    def open(self) -> bool:
        return time.monotonic() < self._until

    def trip(self) -> None:
        self._until = time.monotonic() + self.pause

    def reset(self) -> None:
        self._until = 0.0

    def check(self) -> None:
        if self.open:
            raise RedisUnavailable("redis is paused after a failure")

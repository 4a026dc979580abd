"""The threads whose live counters missed a write, and the one place that decides so.

SQL holds every count; when the live layer cannot be reached, a write to it is skipped, the thread
is marked here, and the healing loop rewrites it from SQL once the live layer answers again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable
from typing import TypeVar

from board.live import UNREACHABLE

log = logging.getLogger(__name__)
T = TypeVar("T")


class Repairs:
    def __init__(self) -> None:
        self._stale: set[int] = set()

    def mark(self, thread_ids: Iterable[int]) -> None:
        self._stale.update(thread_ids)

    def take(self) -> list[int]:
        """The threads to rebuild, forgotten here: a rebuild that fails again marks them again."""
        taken = sorted(self._stale)
        self._stale.clear()
        return taken

    def __contains__(self, thread_id: object) -> bool:
        return thread_id in self._stale

    def __bool__(self) -> bool:
        return bool(self._stale)

    async def attempt(self, write: Awaitable[object], thread_ids: Iterable[int], what: str) -> bool:
        """Run a write to the live layer; if it cannot be reached, log, mark the threads and return False."""
        try:
            await write
        except UNREACHABLE:
            log.warning("live layer unreachable: %s; repaired from SQL later", what, exc_info=True)
            self.mark(thread_ids)
            return False
        return True


async def read_or(read: Awaitable[T], fallback: T, what: str) -> T:
    """A read from the live layer, or `fallback` (SQL will answer) if it cannot be reached."""
    try:
        return await read
    except UNREACHABLE:
        log.warning("live layer unreachable: %s; counting in SQL", what)
        return fallback

"""Reads that many screens make at once, shared: one computation per key at most once per interval.

Every projector redraws on each live message, up to four times a second, and each redraw used to
recount the whole board. Here a caller waits for a computation that starts after it arrived (so it
never sees data older than the message that woke it), and every caller waiting for that computation
shares it: however many screens show a thread, a worker computes its board at most once per interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
INTERVAL = 0.25
"""The live layer's coalescing interval: screens are not told of changes more often than this."""
MAX_KEYS = 1024


@dataclass
class _Slot:
    last_start: float = float("-inf")
    pending: asyncio.Task[Any] | None = None
    """The next computation, not started yet: callers arriving now may still share it."""


def _retrieve(task: asyncio.Task[Any]) -> None:
    """A failure reaches every waiting caller; read here too, in case every caller has gone."""
    if not task.cancelled():
        task.exception()


class SharedReads:
    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._slots: dict[Hashable, _Slot] = {}
        self.computed = 0

    async def read(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        slot = self._slots.get(key)
        if slot is None:
            if len(self._slots) >= MAX_KEYS:
                self._forget_idle()
            slot = self._slots[key] = _Slot()
        if slot.pending is None:
            delay = max(0.0, slot.last_start + self.interval - loop.time())
            # On the first caller's request connection (borrowed, see db.py): should that request end
            # first, the connection is returned between two blocks and the rest of the read takes its own.
            slot.pending = loop.create_task(self._run(slot, delay, compute))
            slot.pending.add_done_callback(_retrieve)
        result: T = await asyncio.shield(slot.pending)
        return result

    async def _run(self, slot: _Slot, delay: float, compute: Callable[[], Awaitable[T]]) -> T:
        if delay:
            await asyncio.sleep(delay)
        slot.pending = None
        slot.last_start = asyncio.get_running_loop().time()
        self.computed += 1
        return await compute()

    def _forget_idle(self) -> None:
        for key in [k for k, s in self._slots.items() if s.pending is None]:
            del self._slots[key]

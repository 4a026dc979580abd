"""The parts every domain operation works with: storage, the live layer, the settings, and what to repair."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from board.db import Database
from board.domain.repairs import Repairs
from board.live import Live
from board.settings import Settings


class Regrouping(Protocol):
    def touch(self, thread_id: int) -> None: ...


class NoRegrouping:
    """Until the app starts its opinion groups (and in commands that never need them)."""

    def touch(self, thread_id: int) -> None:
        return None


@dataclass
class BoardContext:
    db: Database
    live: Live
    settings: Settings
    repairs: Repairs = field(default_factory=Repairs)
    opinions: Regrouping = field(default_factory=NoRegrouping)
    """Told when a thread's votes or published answers change, so that its opinion groups follow."""

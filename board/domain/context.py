"""The parts every domain operation works with: storage, the live layer and the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from board.db import Database
from board.live import Live
from board.settings import Settings

if TYPE_CHECKING:
    from board.domain.votes import VoteWriter


@dataclass
class BoardContext:
    db: Database
    live: Live
    settings: Settings
    votes: VoteWriter = field(init=False)
    stale_threads: set[int] = field(default_factory=set)
    segments_due: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        from board.domain.votes import VoteWriter

        self.votes = VoteWriter(self)

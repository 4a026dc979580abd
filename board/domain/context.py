"""The parts every domain operation works with: storage, the live layer, the settings, and what to repair."""

from __future__ import annotations

from dataclasses import dataclass, field

from board.db import Database
from board.domain.repairs import Repairs
from board.live import Live
from board.settings import Settings


@dataclass
class BoardContext:
    db: Database
    live: Live
    settings: Settings
    repairs: Repairs = field(default_factory=Repairs)

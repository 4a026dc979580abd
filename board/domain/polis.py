"""Reading a Pol.is export folder (`comments.csv`, `votes.csv`) into plain rows, without touching the board."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from board.domain.errors import Invalid
from board.models import AnswerStatus

MAX_BODY = 500


@dataclass(frozen=True)
class PolisComment:
    id: int
    author: int
    body: str
    status: AnswerStatus


@dataclass(frozen=True)
class PolisExport:
    comments: list[PolisComment]
    votes: dict[tuple[int, int], int]
    """(voter id, comment id) → +1 or -1: each voter's last vote on each comment, passes left out."""
    rows: int
    name: str
    """The folder's name, the conversation's name when nothing better is given."""
    voters: frozenset[int]
    """Everyone who voted, passes included."""
    passes: frozenset[tuple[int, int]] = frozenset()
    """(voter id, comment id) where the voter's last word on the comment was a pass."""


def _status(moderated: str) -> AnswerStatus:
    """Pol.is moderation: -1 moderated out, 0 not yet moderated, 1 (or nothing) accepted."""
    value = moderated.strip()
    if value == "-1":
        return AnswerStatus.HIDDEN
    if value == "0":
        return AnswerStatus.PENDING
    return AnswerStatus.PUBLISHED


def _rows(path: Path) -> Iterator[dict[str, str]]:
    if not path.is_file():
        raise Invalid("Fichier introuvable : {name}.", name=str(path))
    with path.open(newline="", encoding="utf-8-sig") as handle:
        yield from csv.DictReader(handle)


def _int(row: dict[str, str], key: str, path: Path) -> int:
    try:
        return int(row[key])
    except (KeyError, TypeError, ValueError):
        raise Invalid("Colonne {key} absente ou invalide dans {name}.", key=key, name=path.name) from None


def read_polis(folder: Path, progress: Callable[[int], None] | None = None) -> PolisExport:
    """The comments, each voter's standing vote and passes; `progress` hears the number of rows read so far."""
    comments_path, votes_path = folder / "comments.csv", folder / "votes.csv"
    comments = []
    for row in _rows(comments_path):
        body = " ".join((row.get("comment-body") or "").replace("\x00", "").split())[:MAX_BODY]
        if body:
            comments.append(
                PolisComment(
                    _int(row, "comment-id", comments_path),
                    _int(row, "author-id", comments_path),
                    body,
                    _status(row.get("moderated", "")),
                )
            )
    latest: dict[tuple[int, int], tuple[int, int]] = {}
    read = 0
    for read, row in enumerate(_rows(votes_path), start=1):
        key = (_int(row, "voter-id", votes_path), _int(row, "comment-id", votes_path))
        when, value = _int(row, "timestamp", votes_path), _int(row, "vote", votes_path)
        if key not in latest or when >= latest[key][0]:
            latest[key] = (when, value)
        if progress is not None and read % 5000 == 0:
            progress(read)
    known = {c.id for c in comments}
    votes = {key: v for key, (_, v) in latest.items() if v in (1, -1) and key[1] in known}
    return PolisExport(
        sorted(comments, key=lambda c: c.id),
        votes,
        read,
        folder.resolve().name,
        frozenset(voter for voter, _ in latest),
        frozenset(key for key, (_, v) in latest.items() if v == 0 and key[1] in known),
    )

"""A participant's row comes with their first answer, vote or profile, never with a visit.

An erased or retained participant id is remembered only as its SHA-256, so that a stale cookie
cannot silently bring the same id back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import col

from board.domain.errors import Forbidden
from board.domain.tally import count_locked_participants, lock_event
from board.live.counters import Headcount
from board.models import ForgottenParticipant, Participant, utcnow

FORGOTTEN = "Vos données de participation ont été effacées : rechargez la page pour participer à nouveau."


class Forgotten(Forbidden):
    """A signed cookie whose participant was erased: the caller gives the person a new id."""


def id_sha256(participant_id: str) -> str:
    return hashlib.sha256(participant_id.encode()).hexdigest()


_INSERTS = {
    "sqlite": sqlite.insert(Participant).on_conflict_do_nothing(),
    "postgresql": postgresql.insert(Participant).on_conflict_do_nothing(),
}


def insert_new(conn: Connection, rows: list[dict[str, object]]) -> int:
    """Insert participants (id, event_id, banned, created_at), skipping ids already taken; how many were new."""
    return conn.execute(_INSERTS[conn.dialect.name], rows).rowcount


_FORGOTTEN = sa_select(col(ForgottenParticipant.id_sha256)).where(
    col(ForgottenParticipant.id_sha256).in_(bindparam("hashes", expanding=True))
)


def forgotten(conn: Connection, participant_ids: Iterable[str]) -> set[str]:
    """Which of these ids were erased."""
    by_hash = {id_sha256(p): p for p in participant_ids}
    if not by_hash:
        return set()
    return {by_hash[h] for h in conn.execute(_FORGOTTEN, {"hashes": sorted(by_hash)}).scalars()}


def enter(conn: Connection, event_id: int, participant_id: str) -> Headcount | None:
    """Add the participant if they are new; the event's participants after it, or None if already there.

    The event is held until the commit (on PostgreSQL), so that joins are counted in turn. Callers
    that also lock answers or threads take those first, as the vote writer does.
    """
    if forgotten(conn, [participant_id]):
        raise Forgotten(FORGOTTEN)
    lock_event(conn, event_id)
    row = {"id": participant_id, "event_id": event_id, "banned": False, "created_at": utcnow()}
    if not insert_new(conn, [row]):
        return None
    return count_locked_participants(conn, event_id)

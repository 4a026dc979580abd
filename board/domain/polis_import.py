"""A Pol.is conversation becomes an event with one thread, so that an organiser can reopen it on the board.

Comments become answers (moderated -1 hidden, 0 pending, 1 or nothing published), voters become
participants known by the external id `polis:{voter-id}`, and each voter's last vote on each comment
becomes a vote. A last word that was a pass is no vote and no count: it is kept aside (`ImportedPass`)
for the opinion groups only, which need it to find the groups Pol.is finds. Importing the same folder again under the same slug changes
nothing; importing a newer export of it brings the event up to date.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, insert, update
from sqlalchemy.engine import Connection
from sqlmodel import col, select

from board.domain import counts
from board.domain.context import BoardContext
from board.domain.errors import Conflict, Invalid
from board.domain.participants import new_participant_id
from board.domain.polis import PolisExport, read_polis
from board.models import DEFAULT_SEGMENTS, Answer, Event, ImportedPass, Participant, Thread, Vote, utcnow

SLUG = re.compile(r"^[a-z0-9-]{3,60}$")
CHUNK = 5000

Progress = Callable[[str, int], None]
"""Told (what, how many so far): `rows` read, `votes` written."""


@dataclass(frozen=True)
class Imported:
    slug: str
    thread_id: int
    created: bool
    participants: int
    answers: int
    votes: int
    rows: int


def _external(voter: int) -> str:
    return f"polis:{voter}"


def _event_and_thread(conn: Connection, slug: str, title: str) -> tuple[int, int, bool]:
    found = conn.execute(select(Event.id).where(col(Event.slug) == slug)).scalar()
    if found is not None:
        threads = conn.execute(select(Thread.id).where(col(Thread.event_id) == found)).scalars().all()
        if len(threads) != 1:
            raise Conflict(
                "L'événement {slug} existe déjà et n'est pas une conversation importée.", slug=slug
            )
        return found, threads[0], False
    event_id: int = conn.execute(  # type: ignore[assignment]
        insert(Event).values(slug=slug, title=title, segments=list(DEFAULT_SEGMENTS)).returning(col(Event.id))
    ).scalar_one()
    thread_id: int = conn.execute(  # type: ignore[assignment]
        insert(Thread).values(event_id=event_id, prompt=title, position=0).returning(col(Thread.id))
    ).scalar_one()
    conn.execute(update(Event).where(col(Event.id) == event_id).values(screen_thread_id=thread_id))
    return event_id, thread_id, True


def _participants(conn: Connection, event_id: int, export: PolisExport) -> dict[int, str]:
    """Polis voter or author id → participant id, creating those not there yet."""
    wanted = set(export.voters) | {c.author for c in export.comments}
    known = {
        external: pid
        for pid, external in conn.execute(
            select(Participant.id, Participant.external_id).where(
                col(Participant.event_id) == event_id, col(Participant.external_id).is_not(None)
            )
        )
    }
    rows = []
    for voter in sorted(wanted):
        if _external(voter) not in known:
            known[_external(voter)] = new_participant_id()
            rows.append(
                {"id": known[_external(voter)], "event_id": event_id, "external_id": _external(voter)}
            )
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert(Participant), rows[start : start + CHUNK])
    return {voter: known[_external(voter)] for voter in wanted}


def _answers(conn: Connection, thread_id: int, export: PolisExport, people: dict[int, str]) -> dict[int, int]:
    """Polis comment id → answer id; new comments added, the status of known ones brought up to date."""
    known = {
        key: aid
        for aid, key in conn.execute(
            select(Answer.id, Answer.client_key).where(
                col(Answer.thread_id) == thread_id, col(Answer.client_key).is_not(None)
            )
        )
    }
    ids: dict[int, int] = {}
    for comment in export.comments:
        key = f"polis:{comment.id}"
        if key in known:
            conn.execute(update(Answer).where(col(Answer.id) == known[key]).values(status=comment.status))
            ids[comment.id] = known[key]
            continue
        ids[comment.id] = conn.execute(  # type: ignore[assignment]
            insert(Answer)
            .values(
                thread_id=thread_id,
                participant_id=people[comment.author],
                body=comment.body,
                status=comment.status,
                client_key=key,
            )
            .returning(col(Answer.id))
        ).scalar_one()
    return ids


def _votes(
    conn: Connection,
    export: PolisExport,
    people: dict[int, str],
    answers: dict[int, int],
    progress: Progress | None,
) -> int:
    """Make the thread's votes exactly the export's: insert, change and remove in bulk."""
    wanted = {(answers[c], people[v]): value for (v, c), value in export.votes.items() if c in answers}
    existing = {
        (a, p): value
        for a, p, value in conn.execute(
            select(Vote.answer_id, Vote.participant_id, Vote.value).where(
                col(Vote.answer_id).in_(list(answers.values()))
            )
        )
    }
    now = utcnow()
    fresh = [
        {"answer_id": a, "participant_id": p, "value": v, "updated_at": now}
        for (a, p), v in wanted.items()
        if (a, p) not in existing
    ]
    changed = [(key, v) for key, v in wanted.items() if key in existing and existing[key] != v]
    gone = [key for key in existing if key not in wanted]
    written = 0
    for start in range(0, len(fresh), CHUNK):
        conn.execute(insert(Vote), fresh[start : start + CHUNK])
        written += len(fresh[start : start + CHUNK])
        if progress is not None:
            progress("votes", written)
    for (a, p), v in changed:
        conn.execute(
            update(Vote)
            .where(col(Vote.answer_id) == a, col(Vote.participant_id) == p)
            .values(value=v, updated_at=now)
        )
    for a, p in gone:
        conn.execute(delete(Vote).where(col(Vote.answer_id) == a, col(Vote.participant_id) == p))
    return len(fresh) + len(changed) + len(gone)


def _passes(conn: Connection, export: PolisExport, people: dict[int, str], answers: dict[int, int]) -> None:
    """Make the thread's passes exactly the export's."""
    wanted = {(answers[c], people[v]) for v, c in export.passes if c in answers}
    existing = {
        (a, p)
        for a, p in conn.execute(
            select(ImportedPass.answer_id, ImportedPass.participant_id).where(
                col(ImportedPass.answer_id).in_(list(answers.values()))
            )
        )
    }
    fresh = [{"answer_id": a, "participant_id": p} for a, p in sorted(wanted - existing)]
    for start in range(0, len(fresh), CHUNK):
        conn.execute(insert(ImportedPass), fresh[start : start + CHUNK])
    for a, p in existing - wanted:
        conn.execute(
            delete(ImportedPass).where(
                col(ImportedPass.answer_id) == a, col(ImportedPass.participant_id) == p
            )
        )


def _recount(conn: Connection, thread_id: int) -> None:
    def tally(value: int) -> object:
        return (
            select(func.count())
            .where(col(Vote.answer_id) == col(Answer.id), col(Vote.value) == value)
            .scalar_subquery()
        )

    conn.execute(
        update(Answer).where(col(Answer.thread_id) == thread_id).values(agree=tally(1), disagree=tally(-1))
    )


async def import_polis(
    ctx: BoardContext, folder: Path, slug: str, title: str | None = None, progress: Progress | None = None
) -> Imported:
    """Import (or bring up to date) the event `slug` from a Pol.is export folder."""
    if not SLUG.fullmatch(slug):
        raise Invalid("Identifiant d'événement invalide : lettres minuscules, chiffres et tirets, de 3 à 60.")
    export = await asyncio.to_thread(
        read_polis, folder, None if progress is None else lambda n: progress("rows", n)
    )
    if progress is not None:
        progress("rows", export.rows)
    name = (title or "").strip()[:200] or f"Pol.is : {export.name}"

    def run(conn: Connection) -> tuple[int, Imported]:
        event_id, thread_id, created = _event_and_thread(conn, slug, name)
        people = _participants(conn, event_id, export)
        answers = _answers(conn, thread_id, export, people)
        changed = _votes(conn, export, people, answers, progress)
        _passes(conn, export, people, answers)
        _recount(conn, thread_id)
        return event_id, Imported(slug, thread_id, created, len(people), len(answers), changed, export.rows)

    async with ctx.db.writing() as session:
        conn = await session.connection()
        event_id, done = await conn.run_sync(run)
        await session.commit()
    await counts.rebuild_event(ctx, event_id)
    return done

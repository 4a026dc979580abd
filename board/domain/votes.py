"""The vote writer: one per process, committing every waiting vote in one transaction.

Each request awaits its batch, so a vote is durable in SQL before the response. A batch reads the
answers, the voters and their votes in a transaction that locks nothing; the votes that change
something, and the newcomers they bring, are then counted by the rate limits in one call to the live
layer, which also stores the last batch's counts and publishes its messages. Only then does the batch
take the write lock: if nothing was committed since its read (on PostgreSQL: if a locked read finds
the same rows), it writes the rows that change and the answers' counts in one step; otherwise it judges
again on what it reads under the lock. Once the batch commits, each request gets its answer; the
threads' absolute counts and the participants of events that gained someone (each stamped with the
time they were counted, so that an older batch's store never replaces a newer one's) and one message
per thread go to the live layer with the next batch's call, or at once when no batch waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, bindparam, delete, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Executable
from sqlmodel import col

from board.db import Database, Mark
from board.domain.context import BoardContext
from board.domain.errors import BoardError, Conflict, Forbidden, Invalid, NotFound, TooFast
from board.domain.lifecycle import CLOSED_TO_VOTES, refusal
from board.domain.newcomers import FORGOTTEN, Forgotten, forgotten, insert_new
from board.domain.tally import AnswerCounts, count_locked_participants, count_locked_threads, lock_event
from board.live import UNREACHABLE
from board.live.channels import event_channel, thread_channel
from board.live.counters import Headcount, ThreadCounts, newer
from board.live.limits import Admission, Entry
from board.live.messages import Counts, encode
from board.live.rounds import Publication, Verdict
from board.models import Answer, AnswerStatus, Event, Participant, Thread, ThreadStatus, Vote, utcnow

log = logging.getLogger(__name__)

MAX_BATCH = 512
BATCH_WAIT = 0.001
"""While votes come in together (the last batch held more than one), the writer waits this long for
more before it commits: at 20 connections, batches of about 20 votes instead of 8 and a quarter less
CPU per vote (tests.bench_votes); a lone vote is never held."""
CROWDED = "Trop de nouvelles connexions depuis ce réseau : réessayez dans un instant."
OTHER_EVENT = "Votre identifiant de participation vaut pour un autre événement : rouvrez la page de celui-ci."


@dataclass(frozen=True)
class VoteOutcome:
    answer_id: int
    thread_id: int
    agree: int
    disagree: int
    value: int
    changed: bool
    voting: str = "agree-disagree"
    event_id: int = 0


@dataclass
class _Request:
    slug: str
    answer_id: int
    participant_id: str
    event_id: int | None
    value: int
    future: asyncio.Future[VoteOutcome] = field(repr=False)
    thread_id: int = 0
    voting: str = "agree-disagree"
    address: str = ""
    verdict: Verdict | None = None


def parse_value(raw: str | int | None) -> int:
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        value = 99
    if value not in (-1, 0, 1):
        raise Invalid("Vote invalide : la valeur doit être 1 (d'accord), -1 (pas d'accord) ou 0 (retirer).")
    return value


class VoteWriter:
    def __init__(self, ctx: BoardContext) -> None:
        self.ctx = ctx
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._held = _Held()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="vote-writer", context=contextvars.Context())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._flush()

    async def cast(
        self,
        slug: str,
        event_id: int | None,
        answer_id: int,
        participant_id: str,
        value: int,
        address: str = "",
    ) -> VoteOutcome:
        """Record a participant's vote (0 withdraws it); idempotent.

        Only votes that change something count towards the participant's rate limit. A first vote
        brings its voter's row into the batch, counted against the address's limit of newcomers;
        without an event id (a newcomer with no cookie yet), the voter joins the answer's event,
        which the outcome names.
        """
        await self.start()
        future: asyncio.Future[VoteOutcome] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(
            _Request(slug, answer_id, participant_id, event_id, value, future, address=address)
        )
        return await future

    async def _run(self) -> None:
        busy = False
        while True:
            if self._queue.empty():
                await self._flush()
            batch = [await self._queue.get()]
            if busy:
                await asyncio.sleep(BATCH_WAIT)
            while not self._queue.empty() and len(batch) < MAX_BATCH:
                batch.append(self._queue.get_nowait())
            busy = len(batch) > 1
            try:
                await self._commit(batch)
            except Exception as exc:
                log.exception("vote batch failed")
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)

    async def _commit(self, batch: list[_Request]) -> None:
        answer_ids = sorted({r.answer_id for r in batch})
        people = sorted({r.participant_id for r in batch})
        found, mark = await self.ctx.db.snapshot(_read, answer_ids, people, lock=False)
        door = _Door()
        kept, state = await self._admit(found, self._accept(batch, found), door)
        plan = _plan(found, kept, state)
        totals: dict[int, ThreadCounts] = {}
        people_counts: dict[int, Headcount] = {}
        if plan.writes:
            async with self.ctx.db.write_steps() as step:
                written = await step(
                    _write_unless_moved, self.ctx.db, mark, found, (answer_ids, people), plan
                )
                if isinstance(written, _Found):
                    found = written
                    kept, state = await self._admit(found, self._accept([r for r, _ in kept], found), door)
                    plan = _plan(found, kept, state)
                    written = await step(_write, plan)
                totals, people_counts = written
        counts = {
            a: AnswerCounts(found.counts[a][0] + plan.deltas[a][0], found.counts[a][1] + plan.deltas[a][1])
            for a in plan.deltas
        }
        for request, change in kept:
            c = counts[request.answer_id]
            if not request.future.done():
                request.future.set_result(
                    VoteOutcome(
                        request.answer_id,
                        request.thread_id,
                        c.agree,
                        c.disagree,
                        request.value,
                        change,
                        request.voting,
                        found.answers[request.answer_id].event_id,
                    )
                )
        accepted = [r for r, _ in kept]
        if totals:
            moved = {a: counts[a] for a, d in plan.deltas.items() if d != (0, 0)}
            self._hold(
                totals,
                self._announce(
                    accepted, _by_thread(moved, {a: found.answers[a].thread_id for a in moved}), totals
                ),
            )
        if people_counts:
            self._hold({}, self._announce_people(accepted, people_counts), people_counts)

    def _accept(self, batch: list[_Request], found: _Found) -> list[_Request]:
        """The requests that may proceed; the others get their error now."""
        accepted = []
        for request in batch:
            answer = found.answers.get(request.answer_id)
            error = self._refusal(request, answer, found)
            if error is not None or answer is None:
                request.future.set_exception(error or NotFound("Cette réponse n'existe pas."))
                continue
            request.thread_id = answer.thread_id
            request.voting = answer.voting
            request.event_id = answer.event_id
            accepted.append(request)
        return accepted

    @staticmethod
    def _refusal(request: _Request, answer: _Target | None, found: _Found) -> BoardError | None:
        if (
            answer is None
            or answer.slug != request.slug
            or answer.status != AnswerStatus.PUBLISHED
            or answer.merged_into is not None
        ):
            return NotFound("Cette réponse n'existe pas ou n'est pas publiée.")
        voter = found.people.get(request.participant_id)
        if voter is None and request.participant_id in found.forgotten:
            return Forgotten(FORGOTTEN)
        if request.event_id not in (None, answer.event_id) or (
            voter is not None and voter.event_id != answer.event_id
        ):
            return Forbidden(OTHER_EVENT)
        over = refusal(answer.event_status, CLOSED_TO_VOTES)
        if over is not None:
            return over
        if voter is not None and voter.banned:
            return Forbidden("Votre participation a été suspendue par la modération.")
        if answer.thread_status != ThreadStatus.OPEN:
            return Conflict("Ce fil est fermé : les votes sont clos.")
        if request.value == -1 and answer.voting == "upvote":
            return Invalid("Cet événement n'accepte que des votes d'approbation.")
        return None

    async def _admit(
        self, found: _Found, accepted: list[_Request], door: _Door
    ) -> tuple[list[tuple[_Request, bool]], dict[tuple[int, str], int]]:
        """The requests kept, each with whether it changes something, and the state they leave.

        Every vote that changes something is counted against its participant's limit, and each
        newcomer's arrival against their address's, in one call to the live layer (with what the last
        batch has to store and publish); those past a limit get their error. A newcomer turned away
        casts none of the batch's votes. A vote that changes something only because an earlier one
        was refused is counted in a call of its own.
        """
        while True:
            unjudged, kept, state, refused = _judge(found.before, accepted)
            if not unjudged:
                break
            entries, asked = door.entries(unjudged, found.people)
            for request, verdict in zip(asked, await self._tell(entries), strict=True):
                request.verdict = verdict
                door.saw(request, verdict)
        for request in refused:
            verdict = request.verdict or Verdict(Admission.TOO_FAST, 60)
            if verdict.admission == Admission.TURNED_AWAY:
                request.future.set_exception(TooFast(CROWDED, 60))
            else:
                wait = verdict.wait or 60
                request.future.set_exception(TooFast("Vous votez très vite : réessayez dans {wait} s.", wait))
        return kept, state

    async def _tell(self, entries: Sequence[Entry] = ()) -> list[Verdict]:
        """The live layer's round: what is held from the last batch goes with `entries`' uses.

        If it cannot be reached, the threads are marked for repair from SQL, the events' participants
        wait for the next round (the newest count wins there), the messages are lost (pages refresh when
        their streams resume) and the uses go uncounted.
        """
        held, self._held = self._held, _Held()
        if not (entries or held.counts or held.messages or held.people):
            return []
        try:
            return await self.ctx.live.rounds.run(entries, held.counts, held.messages, held.people)
        except BaseException as error:
            self.ctx.repairs.mark(held.counts)
            self._hold({}, [], held.people)
            if not isinstance(error, UNREACHABLE):
                raise
        log.warning("live layer unreachable: vote counts repaired from SQL later, uses not counted")
        return [Verdict(Admission.IN)] * len(entries)

    async def _flush(self) -> None:
        """Tell the live layer what the last batch holds, now that no batch is waiting to take it along."""
        try:
            await self._tell()
        except Exception:
            log.exception("live round failed: vote counts repaired from SQL later")

    def _hold(
        self,
        totals: dict[int, ThreadCounts],
        messages: list[Publication],
        people: dict[int, Headcount] | None = None,
    ) -> None:
        for thread_id, value in totals.items():
            if newer(value, self._held.counts.get(thread_id)):
                self._held.counts[thread_id] = value
        for event_id, count in (people or {}).items():
            if newer(count, self._held.people.get(event_id)):
                self._held.people[event_id] = count
        self._held.messages.extend(messages)

    @staticmethod
    def _announce_people(accepted: list[_Request], people: dict[int, Headcount]) -> list[Publication]:
        slugs = {r.event_id: r.slug for r in accepted}
        return [
            Publication(
                encode(Counts(None, participants=count.count, event_id=event_id)),
                (event_channel(slugs[event_id]),),
            )
            for event_id, count in people.items()
        ]

    @staticmethod
    def _announce(
        accepted: list[_Request],
        by_thread: dict[int, dict[int, AnswerCounts]],
        totals: dict[int, ThreadCounts],
    ) -> list[Publication]:
        slugs = {r.thread_id: r.slug for r in accepted}
        return [
            Publication(
                encode(
                    Counts(
                        thread_id, totals[thread_id], {a: (c.agree, c.disagree) for a, c in answers.items()}
                    )
                ),
                (thread_channel(thread_id), event_channel(slugs[thread_id])),
            )
            for thread_id, answers in by_thread.items()
        ]


@dataclass
class _Held:
    """What the last batch has still to tell the live layer: its threads' counts, its events'
    participants (when it brought newcomers) and its messages."""

    counts: dict[int, ThreadCounts] = field(default_factory=dict)
    messages: list[Publication] = field(default_factory=list)
    people: dict[int, Headcount] = field(default_factory=dict)


@dataclass
class _Door:
    """A batch's newcomers: whose arrival was counted, and who was turned away at the door."""

    joined: set[str] = field(default_factory=set)
    turned_away: set[str] = field(default_factory=set)

    def entries(
        self, unjudged: list[_Request], known: dict[str, _Voter]
    ) -> tuple[list[Entry], list[_Request]]:
        """The uses to count for `unjudged`; the requests of people already turned away get their verdict here."""
        entries, asked = [], []
        arriving: set[str] = set()
        for r in unjudged:
            person = r.participant_id
            if person in self.turned_away:
                r.verdict = Verdict(Admission.TURNED_AWAY)
                continue
            fresh = person not in known and person not in self.joined and person not in arriving
            if fresh:
                arriving.add(person)
            entries.append(Entry(person, person, r.address if fresh else None))
            asked.append(r)
        return entries, asked

    def saw(self, request: _Request, verdict: Verdict) -> None:
        if verdict.admission == Admission.TURNED_AWAY:
            self.turned_away.add(request.participant_id)
        else:
            self.joined.add(request.participant_id)


def _judge(
    before: dict[tuple[int, str], int], requests: list[_Request]
) -> tuple[list[_Request], list[tuple[_Request, bool]], dict[tuple[int, str], int], list[_Request]]:
    """Apply votes in arrival order (the last per participant and answer wins).

    Returns the changes not yet counted (assumed admitted, to judge the ones after them), the
    requests kept with whether each changed something, the state they leave (only the pairs they
    touch, so that refused requests leave no trace), and the changes refused.
    """
    state: dict[tuple[int, str], int] = {}
    unjudged: list[_Request] = []
    kept: list[tuple[_Request, bool]] = []
    refused: list[_Request] = []
    for r in requests:
        key = (r.answer_id, r.participant_id)
        changes = state.get(key, before.get(key, 0)) != r.value
        if changes and r.verdict is None:
            unjudged.append(r)
        elif changes and r.verdict is not None and r.verdict.admission != Admission.IN:
            refused.append(r)
            continue
        else:
            kept.append((r, changes))
        state[key] = r.value
    return unjudged, kept, state, refused


def _by_thread(
    counts: dict[int, AnswerCounts], threads_of: dict[int, int]
) -> dict[int, dict[int, AnswerCounts]]:
    grouped: dict[int, dict[int, AnswerCounts]] = {}
    for answer_id, value in counts.items():
        grouped.setdefault(threads_of[answer_id], {})[answer_id] = value
    return grouped


class _Target(NamedTuple):
    thread_id: int
    status: str
    merged_into: int | None
    thread_status: str
    slug: str
    voting: str
    event_id: int
    event_status: str


class _Voter(NamedTuple):
    event_id: int
    banned: bool


@dataclass(frozen=True)
class _Found:
    """What a batch reads under its transaction: answers, their counts, voters and their votes."""

    answers: dict[int, _Target]
    counts: dict[int, tuple[int, int]]
    people: dict[str, _Voter]
    before: dict[tuple[int, str], int]
    forgotten: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Plan:
    newcomers: list[dict[str, object]]
    upserts: list[dict[str, object]]
    removals: list[dict[str, object]]
    moves: list[dict[str, int]]
    threads: set[int]
    deltas: dict[int, tuple[int, int]]

    @property
    def writes(self) -> bool:
        return bool(self.newcomers or self.upserts or self.removals or self.moves)


_TARGETS: Select[*tuple[Any, ...]] = (
    sa_select(
        col(Answer.id).label("answer_id"),
        col(Answer.thread_id).label("thread_id"),
        col(Answer.status).label("status"),
        col(Answer.merged_into).label("merged_into"),
        col(Thread.status).label("thread_status"),
        col(Event.slug).label("slug"),
        col(Event.voting).label("voting"),
        col(Event.id).label("event_id"),
        col(Event.status).label("event_status"),
        col(Answer.agree).label("agree"),
        col(Answer.disagree).label("disagree"),
    )
    .join(Thread, col(Thread.id) == col(Answer.thread_id))
    .join(Event, col(Event.id) == col(Thread.event_id))
    .where(col(Answer.id).in_(bindparam("answers", expanding=True)))
    .order_by(col(Answer.id))
)
"""An answer's id, then its `_Target` fields in their order, then its counts: `_read` takes rows by position."""
_TARGETS_LOCKED = _TARGETS.with_for_update(of=Answer.__table__)  # type: ignore[attr-defined]
_VOTERS: Select[*tuple[Any, ...]] = (
    sa_select(
        col(Participant.id).label("participant_id"),
        col(Participant.event_id).label("event_id"),
        col(Participant.banned).label("banned"),
        col(Vote.answer_id).label("answer_id"),
        col(Vote.value).label("value"),
    )
    .outerjoin(
        Vote,
        and_(
            col(Vote.participant_id) == col(Participant.id),
            col(Vote.answer_id).in_(bindparam("answers", expanding=True)),
        ),
    )
    .where(col(Participant.id).in_(bindparam("people", expanding=True)))
)
_REMOVE = delete(Vote).where(
    col(Vote.answer_id) == bindparam("a"), col(Vote.participant_id) == bindparam("p")
)
_MOVE = (
    update(Answer)
    .where(col(Answer.id) == bindparam("aid"))
    .values(agree=col(Answer.agree) + bindparam("da"), disagree=col(Answer.disagree) + bindparam("dd"))
)


def _upsert(stmt: sqlite.Insert | postgresql.Insert) -> Executable:
    return stmt.on_conflict_do_update(
        index_elements=["answer_id", "participant_id"],
        set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
    )


_UPSERTS: dict[str, Executable] = {
    "sqlite": _upsert(sqlite.insert(Vote)),
    "postgresql": _upsert(postgresql.insert(Vote)),
}


def _read(conn: Connection, answer_ids: list[int], people: list[str], *, lock: bool) -> _Found:
    """The batch's answers (locked on PostgreSQL), its voters and their votes on those answers."""
    answers: dict[int, _Target] = {}
    counts: dict[int, tuple[int, int]] = {}
    for answer_id, *target, agree, disagree in conn.execute(
        _TARGETS_LOCKED if lock else _TARGETS, {"answers": answer_ids}
    ):
        answers[answer_id] = _Target(*target)
        counts[answer_id] = (int(agree), int(disagree))
    known: dict[str, _Voter] = {}
    before: dict[tuple[int, str], int] = {}
    for participant_id, event_id, banned, answer_id, value in conn.execute(
        _VOTERS, {"answers": answer_ids, "people": people}
    ):
        known[participant_id] = _Voter(event_id, banned)
        if answer_id is not None:
            before[(answer_id, participant_id)] = value
    unknown = [p for p in people if p not in known]
    erased = frozenset(forgotten(conn, unknown)) if unknown else frozenset()
    return _Found(answers, counts, known, before, erased)


def _plan(found: _Found, kept: list[tuple[_Request, bool]], state: dict[tuple[int, str], int]) -> _Plan:
    """The rows to write for the votes kept, and the change of (agree, disagree) per answer."""
    now = utcnow()
    before = found.before
    upserts: list[dict[str, object]] = [
        {"answer_id": a, "participant_id": p, "value": v, "updated_at": now}
        for (a, p), v in state.items()
        if v != 0 and before.get((a, p), 0) != v
    ]
    voting = {row["participant_id"] for row in upserts}
    newcomers: dict[str, dict[str, object]] = {
        r.participant_id: {"id": r.participant_id, "event_id": r.event_id, "banned": False, "created_at": now}
        for r, _ in kept
        if r.participant_id not in found.people and r.participant_id in voting
    }
    removals: list[dict[str, object]] = [
        {"a": a, "p": p} for (a, p), v in state.items() if v == 0 and before.get((a, p), 0) != 0
    ]
    deltas: dict[int, tuple[int, int]] = {r.answer_id: (0, 0) for r, _ in kept}
    for (answer_id, participant_id), after in state.items():
        was = before.get((answer_id, participant_id), 0)
        agree, disagree = deltas[answer_id]
        deltas[answer_id] = (agree + (after == 1) - (was == 1), disagree + (after == -1) - (was == -1))
    moves = [{"aid": a, "da": d[0], "dd": d[1]} for a, d in deltas.items() if d != (0, 0)]
    threads = {found.answers[a].thread_id for a, d in deltas.items() if d != (0, 0)}
    return _Plan(list(newcomers.values()), upserts, removals, moves, threads, deltas)


def _write_unless_moved(
    conn: Connection,
    db: Database,
    mark: Mark | None,
    found: _Found,
    asked: tuple[list[int], list[str]],
    plan: _Plan,
) -> tuple[dict[int, ThreadCounts], dict[int, Headcount]] | _Found:
    """Write `plan` if what it was made from still holds, now under the transaction's locks; else
    write nothing and return what holds now (another writer committed since the batch's read)."""
    if not db.unchanged_since(conn, mark):
        now = _read(conn, *asked, lock=True)
        if now != found:
            return now
    return _write(conn, plan)


def _write(conn: Connection, plan: _Plan) -> tuple[dict[int, ThreadCounts], dict[int, Headcount]]:
    """Write the batch's rows; the counts of the threads whose votes moved, and the participants of
    the events that gained someone (their events locked after the threads, as every writer does)."""
    if not plan.writes:
        return {}, {}
    joined = {int(str(row["event_id"])) for row in plan.newcomers}
    if plan.newcomers and not insert_new(conn, plan.newcomers):
        joined = set()
    if plan.upserts:
        conn.execute(_UPSERTS[conn.dialect.name], plan.upserts)
    if plan.removals:
        conn.execute(_REMOVE, plan.removals)
    if plan.moves:
        conn.execute(_MOVE, plan.moves)
    totals = count_locked_threads(conn, plan.threads)
    people: dict[int, Headcount] = {}
    for event_id in sorted(joined):
        lock_event(conn, event_id)
        people[event_id] = count_locked_participants(conn, event_id)
    return totals, people

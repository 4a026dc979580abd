"""The vote writer: one per process, committing every waiting vote in one transaction.

Each request awaits its batch, so a vote is durable in SQL before the response. A batch is one
transaction of two steps, each run in one go: read the answers (locked on PostgreSQL), the voters
and their votes; then write the rows that change and the answers' counts. Between the two, the
votes that change something, and the newcomers they bring, are admitted by the rate limits in one
Redis call; an event that gained people has its new count stored while it is still locked (rare: a
batch with newcomers). Once the batch commits, each request gets its answer; then the threads' absolute counts
(stamped with the time they were counted, so that an older batch's store never replaces a newer
one's) go to the live counters in one call, and one message per thread is published.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Executable
from sqlmodel import col

from board.domain.context import BoardContext
from board.domain.counts import publish_participants, store_threads
from board.domain.errors import BoardError, Conflict, Forbidden, Invalid, NotFound, TooFast
from board.domain.lifecycle import CLOSED_TO_VOTES, refusal
from board.domain.newcomers import FORGOTTEN, Forgotten, forgotten, insert_new
from board.domain.tally import AnswerCounts, count_event_participants, count_locked_threads, lock_event
from board.live.channels import event_channel, thread_channel
from board.live.counters import ThreadCounts
from board.live.limits import Admission, Entry
from board.live.messages import Counts
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

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="vote-writer", context=contextvars.Context())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

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
        async with self.ctx.db.write_steps() as step:
            found = await step(
                _read,
                sorted({r.answer_id for r in batch}),
                sorted({r.participant_id for r in batch}),
                lock=not self.ctx.db.is_sqlite,
            )
            accepted = self._accept(batch, found)
            state, changed = _simulate(found.before, accepted)
            refused = await self._over_limit(
                [r for r, c in zip(accepted, changed, strict=True) if c], found.people
            )
            if refused:
                accepted = [r for r in accepted if r not in refused]
                state, changed = _simulate(found.before, accepted)
            plan = _plan(found, accepted, state)
            totals, people = await step(_write, plan) if plan.writes else ({}, {})
            for event_id, count in people.items():
                await publish_participants(self.ctx, event_id, count)
        counts = {
            a: AnswerCounts(found.counts[a][0] + plan.deltas[a][0], found.counts[a][1] + plan.deltas[a][1])
            for a in plan.deltas
        }
        for request, change in zip(accepted, changed, strict=True):
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
        if totals:
            await store_threads(self.ctx, totals)
            moved = {a: counts[a] for a, d in plan.deltas.items() if d != (0, 0)}
            self._announce(
                accepted, _by_thread(moved, {a: found.answers[a].thread_id for a in moved}), totals
            )
        if people:
            self._announce_people(accepted, people)

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

    async def _over_limit(self, changing: list[_Request], people: dict[str, _Voter]) -> list[_Request]:
        """Count the votes that change something, and each newcomer's arrival, in one Redis call;
        refuse those past a limit. A newcomer turned away casts none of the batch's votes."""
        arrived: set[str] = set()
        entries = []
        for r in changing:
            fresh = r.participant_id not in people and r.participant_id not in arrived
            if fresh:
                arrived.add(r.participant_id)
            entries.append(Entry(r.participant_id, r.participant_id, r.address if fresh else None))
        verdicts = await self.ctx.live.limits.admit(entries, "join", "vote")
        refused = []
        for request, verdict in zip(changing, verdicts, strict=True):
            if verdict == Admission.TURNED_AWAY:
                request.future.set_exception(TooFast(CROWDED, 60))
            elif verdict == Admission.TOO_FAST:
                wait = await self.ctx.live.limits.retry_after("vote", request.participant_id) or 60
                request.future.set_exception(TooFast("Vous votez très vite : réessayez dans {wait} s.", wait))
            else:
                continue
            refused.append(request)
        return refused

    def _announce_people(self, accepted: list[_Request], people: dict[int, int]) -> None:
        slugs = {r.event_id: r.slug for r in accepted}
        for event_id, count in people.items():
            self.ctx.live.channels.send(
                Counts(None, participants=count, event_id=event_id), [event_channel(slugs[event_id])]
            )

    def _announce(
        self,
        accepted: list[_Request],
        by_thread: dict[int, dict[int, AnswerCounts]],
        totals: dict[int, ThreadCounts],
    ) -> None:
        slugs = {r.thread_id: r.slug for r in accepted}
        for thread_id, answers in by_thread.items():
            self.ctx.live.channels.send(
                Counts(thread_id, totals[thread_id], {a: (c.agree, c.disagree) for a, c in answers.items()}),
                [thread_channel(thread_id), event_channel(slugs[thread_id])],
            )


def _by_thread(
    counts: dict[int, AnswerCounts], threads_of: dict[int, int]
) -> dict[int, dict[int, AnswerCounts]]:
    grouped: dict[int, dict[int, AnswerCounts]] = {}
    for answer_id, value in counts.items():
        grouped.setdefault(threads_of[answer_id], {})[answer_id] = value
    return grouped


def _simulate(
    before: dict[tuple[int, str], int], requests: list[_Request]
) -> tuple[dict[tuple[int, str], int], list[bool]]:
    """Apply votes in arrival order (the last per participant and answer wins); whether each changed anything.

    The state holds only the (answer, participant) pairs these requests touch, so that refused
    requests leave no trace in the plan.
    """
    state: dict[tuple[int, str], int] = {}
    changed = []
    for r in requests:
        key = (r.answer_id, r.participant_id)
        changed.append(state.get(key, before.get(key, 0)) != r.value)
        state[key] = r.value
    return state, changed


@dataclass(frozen=True)
class _Target:
    thread_id: int
    status: str
    merged_into: int | None
    thread_status: str
    slug: str
    voting: str
    event_id: int
    event_status: str


@dataclass(frozen=True)
class _Voter:
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
    for row in conn.execute(_TARGETS_LOCKED if lock else _TARGETS, {"answers": answer_ids}):
        answers[row.answer_id] = _Target(
            row.thread_id,
            row.status,
            row.merged_into,
            row.thread_status,
            row.slug,
            row.voting,
            row.event_id,
            row.event_status,
        )
        counts[row.answer_id] = (int(row.agree), int(row.disagree))
    known: dict[str, _Voter] = {}
    before: dict[tuple[int, str], int] = {}
    for voter in conn.execute(_VOTERS, {"answers": answer_ids, "people": people}):
        known[voter.participant_id] = _Voter(voter.event_id, voter.banned)
        if voter.answer_id is not None:
            before[(voter.answer_id, voter.participant_id)] = voter.value
    unknown = [p for p in people if p not in known]
    erased = frozenset(forgotten(conn, unknown)) if unknown else frozenset()
    return _Found(answers, counts, known, before, erased)


def _plan(found: _Found, accepted: list[_Request], state: dict[tuple[int, str], int]) -> _Plan:
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
        for r in accepted
        if r.participant_id not in found.people and r.participant_id in voting
    }
    removals: list[dict[str, object]] = [
        {"a": a, "p": p} for (a, p), v in state.items() if v == 0 and before.get((a, p), 0) != 0
    ]
    deltas: dict[int, tuple[int, int]] = {r.answer_id: (0, 0) for r in accepted}
    for (answer_id, participant_id), after in state.items():
        was = before.get((answer_id, participant_id), 0)
        agree, disagree = deltas[answer_id]
        deltas[answer_id] = (agree + (after == 1) - (was == 1), disagree + (after == -1) - (was == -1))
    moves = [{"aid": a, "da": d[0], "dd": d[1]} for a, d in deltas.items() if d != (0, 0)]
    threads = {found.answers[a].thread_id for a, d in deltas.items() if d != (0, 0)}
    return _Plan(list(newcomers.values()), upserts, removals, moves, threads, deltas)


def _write(conn: Connection, plan: _Plan) -> tuple[dict[int, ThreadCounts], dict[int, int]]:
    """Write the batch's rows; the counts of the threads whose votes moved, and the participants of
    the events that gained someone (their events locked after the threads, as every writer does)."""
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
    people = {}
    for event_id in sorted(joined):
        lock_event(conn, event_id)
        people[event_id] = count_event_participants(conn, event_id)
    return totals, people

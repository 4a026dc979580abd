"""The vote writer: one per process, committing every waiting vote in one transaction.

Each request awaits its batch, so a vote is durable in SQL before the response; the batch
recounts the answers it touched, writes those absolute counts to the live counters in one
pipeline and publishes once per thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, tuple_, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from board.domain.context import BoardContext
from board.domain.counts import recount_threads
from board.domain.errors import BoardError, Conflict, Forbidden, Invalid, NotFound, TooFast
from board.live.channels import event_channel, thread_channel
from board.live.counters import AnswerCounts, ThreadCounts
from board.models import Answer, Event, Participant, Thread, Vote, utcnow

log = logging.getLogger(__name__)

MAX_BATCH = 512


@dataclass(frozen=True)
class VoteOutcome:
    answer_id: int
    thread_id: int
    agree: int
    disagree: int
    value: int
    changed: bool
    voting: str = "agree-disagree"


@dataclass
class _Request:
    slug: str
    answer_id: int
    participant_id: str
    event_id: int
    value: int
    future: asyncio.Future[VoteOutcome] = field(repr=False)
    thread_id: int = 0
    voting: str = "agree-disagree"


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
            self._task = asyncio.create_task(self._run(), name="vote-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def cast(
        self, slug: str, event_id: int, answer_id: int, participant_id: str, value: int
    ) -> VoteOutcome:
        """Record a participant's vote (0 withdraws it); idempotent.

        Only votes that change something count towards the participant's rate limit.
        """
        await self.start()
        future: asyncio.Future[VoteOutcome] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Request(slug, answer_id, participant_id, event_id, value, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < MAX_BATCH:
                batch.append(self._queue.get_nowait())
            try:
                await self._commit(batch)
            except Exception as exc:
                log.exception("vote batch failed")
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)

    async def _commit(self, batch: list[_Request]) -> None:
        async with self.ctx.db.writing() as session:
            conn = await session.connection()
            accepted, base = await self._validate(conn, batch)
            accepted, outcomes, deltas = await self._apply(conn, accepted)
            moved = [{"aid": a, "da": d[0], "dd": d[1]} for a, d in deltas.items() if d != (0, 0)]
            if moved:
                await conn.execute(
                    update(Answer)
                    .where(col(Answer.id) == bindparam("aid"))
                    .values(
                        agree=col(Answer.agree) + bindparam("da"),
                        disagree=col(Answer.disagree) + bindparam("dd"),
                    ),
                    moved,
                )
            counts = {a: AnswerCounts(base[a][0] + deltas[a][0], base[a][1] + deltas[a][1]) for a in deltas}
            threads_of = {r.answer_id: r.thread_id for r in accepted}
            totals = await recount_threads(conn, set(threads_of.values()))
            await session.commit()
        self.ctx.segments_due.update(deltas)
        await self._publish(accepted, counts, totals, threads_of)
        for request, changed in zip(accepted, outcomes, strict=True):
            c = counts[request.answer_id]
            if not request.future.done():
                request.future.set_result(
                    VoteOutcome(
                        request.answer_id,
                        request.thread_id,
                        c.agree,
                        c.disagree,
                        request.value,
                        changed,
                        request.voting,
                    )
                )

    async def _validate(
        self, conn: AsyncConnection, batch: list[_Request]
    ) -> tuple[list[_Request], dict[int, tuple[int, int]]]:
        """The requests that may proceed, and each answer's (agree, disagree) before this batch."""
        answer_ids = {r.answer_id for r in batch}
        query = (
            sa_select(
                col(Answer.id),
                col(Answer.thread_id),
                col(Answer.status),
                col(Answer.merged_into),
                col(Thread.status),
                col(Event.slug),
                col(Event.voting),
                col(Answer.agree),
                col(Answer.disagree),
            )
            .join(Thread, col(Thread.id) == col(Answer.thread_id))
            .join(Event, col(Event.id) == col(Thread.event_id))
            .where(col(Answer.id).in_(answer_ids))
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(of=Answer.__table__)  # type: ignore[attr-defined]
        rows = await conn.execute(query)
        answers = {r[0]: r for r in rows}
        people = dict(
            (
                await conn.execute(
                    select(Participant.id, Participant.banned).where(
                        col(Participant.id).in_({r.participant_id for r in batch})
                    )
                )
            ).all()
        )
        missing: dict[str, int] = {}
        accepted = []
        for request in batch:
            error = self._refusal(request, answers.get(request.answer_id), people)
            if error is not None:
                request.future.set_exception(error)
                continue
            request.thread_id = answers[request.answer_id][1]
            request.voting = answers[request.answer_id][6]
            if request.participant_id not in people:
                missing[request.participant_id] = request.event_id
            accepted.append(request)
        if missing:
            now = utcnow()
            await conn.execute(
                _insert(conn, Participant).on_conflict_do_nothing(),
                [{"id": p, "event_id": e, "banned": False, "created_at": now} for p, e in missing.items()],
            )
        return accepted, {key: (int(row[7]), int(row[8])) for key, row in answers.items() if key is not None}

    @staticmethod
    def _refusal(
        request: _Request, answer: Sequence[object] | None, people: dict[str, bool]
    ) -> BoardError | None:
        if answer is None or answer[5] != request.slug or answer[2] != "published" or answer[3] is not None:
            return NotFound("Cette réponse n'existe pas ou n'est pas publiée.")
        if people.get(request.participant_id):
            return Forbidden("Votre participation a été suspendue par la modération.")
        if answer[4] != "open":
            return Conflict("Ce fil est fermé : les votes sont clos.")
        if request.value == -1 and answer[6] == "upvote":
            return Invalid("Cet événement n'accepte que des votes d'approbation.")
        return None

    async def _apply(
        self, conn: AsyncConnection, accepted: list[_Request]
    ) -> tuple[list[_Request], list[bool], dict[int, tuple[int, int]]]:
        """Apply votes in arrival order; the last one per participant and answer wins.

        Returns the requests kept (those over their rate limit are refused here), whether each changed
        anything, and the change of (agree, disagree) per answer, read against the rows as they are
        under this transaction's locks.
        """
        if not accepted:
            return [], [], {}
        pairs = {(r.answer_id, r.participant_id) for r in accepted}
        rows = await conn.execute(
            select(Vote.answer_id, Vote.participant_id, Vote.value).where(
                tuple_(col(Vote.answer_id), col(Vote.participant_id)).in_(pairs)
            )
        )
        before: dict[tuple[int, str], int] = {(a, p): v for a, p, v in rows}
        state, changed = _simulate(before, accepted)
        refused = await self._over_limit([r for r, c in zip(accepted, changed, strict=True) if c])
        if refused:
            accepted = [r for r in accepted if r not in refused]
            state, changed = _simulate(before, accepted)
        now = utcnow()
        upserts = [
            {"answer_id": a, "participant_id": p, "value": v, "updated_at": now}
            for (a, p), v in state.items()
            if v != 0 and before.get((a, p), 0) != v
        ]
        removals = [(a, p) for (a, p), v in state.items() if v == 0 and before.get((a, p), 0) != 0]
        if upserts:
            stmt = _insert(conn, Vote)
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["answer_id", "participant_id"],
                    set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
                ),
                upserts,
            )
        if removals:
            await conn.execute(
                delete(Vote).where(tuple_(col(Vote.answer_id), col(Vote.participant_id)).in_(removals))
            )
        deltas: dict[int, tuple[int, int]] = {r.answer_id: (0, 0) for r in accepted}
        for (answer_id, participant_id), after in state.items():
            was = before.get((answer_id, participant_id), 0)
            agree, disagree = deltas[answer_id]
            deltas[answer_id] = (agree + (after == 1) - (was == 1), disagree + (after == -1) - (was == -1))
        return accepted, changed, deltas

    async def _over_limit(self, changing: list[_Request]) -> list[_Request]:
        """Count the votes that change something, all at once; refuse those past the limit."""
        limits = self.ctx.live.limits
        allowed = await limits.hit_many("vote", [r.participant_id for r in changing])
        refused = [r for r, ok in zip(changing, allowed, strict=True) if not ok]
        for request in refused:
            wait = await limits.retry_after("vote", request.participant_id) or 60
            request.future.set_exception(TooFast("Vous votez très vite : réessayez dans {wait} s.", wait))
        return refused

    async def _publish(
        self,
        accepted: list[_Request],
        counts: dict[int, AnswerCounts],
        totals: dict[int, ThreadCounts],
        threads_of: dict[int, int],
    ) -> None:
        by_thread: dict[int, dict[int, AnswerCounts]] = {}
        for answer_id, value in counts.items():
            by_thread.setdefault(threads_of[answer_id], {})[answer_id] = value
        slugs = {threads_of[r.answer_id]: r.slug for r in accepted}
        try:
            for thread_id, answers in by_thread.items():
                await self.ctx.live.counters.set_totals(
                    thread_id, {a: (c.agree, c.disagree) for a, c in answers.items()}, totals[thread_id]
                )
        except Exception:
            log.warning("live counters unreachable; SQL holds the votes", exc_info=True)
            self.ctx.stale_threads.update(by_thread)
        for thread_id, answers in by_thread.items():
            message = {
                "type": "counts",
                "thread": thread_id,
                "answers": {str(a): [c.agree, c.disagree] for a, c in answers.items()},
                "totals": totals[thread_id].__dict__,
            }
            try:
                self.ctx.live.channels.publish(
                    message, [thread_channel(thread_id), event_channel(slugs[thread_id])]
                )
            except Exception:
                log.warning("could not publish counts", exc_info=True)


def _simulate(
    before: dict[tuple[int, str], int], requests: list[_Request]
) -> tuple[dict[tuple[int, str], int], list[bool]]:
    state = dict(before)
    changed = []
    for r in requests:
        key = (r.answer_id, r.participant_id)
        changed.append(state.get(key, 0) != r.value)
        state[key] = r.value
    return state, changed


def _insert(conn: AsyncConnection, table: type) -> sqlite.Insert | postgresql.Insert:
    dialect = conn.dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)

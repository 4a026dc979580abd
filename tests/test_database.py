"""Write transactions made of steps: all or nothing, and on SQLite closed to other writers until done."""

import asyncio
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import cast

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel, col, select

from board.domain import events
from board.models import Answer, Participant, Vote, utcnow
from tests.conftest import SLUG, Board, start_board
from tests.test_votes import post_answer, vote

COUNT_RE = re.compile(r'id="ag\d+">(\d+)<')


def add_participant(conn: Connection, participant_id: str, event_id: int) -> None:
    conn.execute(
        insert(Participant).values(id=participant_id, event_id=event_id, banned=False, created_at=utcnow())
    )


def fail(conn: Connection) -> None:
    raise RuntimeError("the step failed")


async def participant_ids(board: Board) -> set[str]:
    async with board.ctx.db.session() as session:
        return set((await session.exec(select(Participant.id))).all())


async def test_a_failing_step_undoes_the_earlier_ones_and_frees_the_writer(board: Board) -> None:
    db = board.ctx.db
    event_id = (await events.get_event(board.ctx, SLUG)).id
    with pytest.raises(RuntimeError, match="the step failed"):
        async with db.write_steps() as step:
            await step(add_participant, "lost-with-the-transaction", event_id)
            await step(fail)
    async with db.write_steps() as step:
        await step(add_participant, "kept-after-commit", event_id)
    ids = await participant_ids(board)
    assert "kept-after-commit" in ids
    assert "lost-with-the-transaction" not in ids


class OtherProcess:
    """A second writer on the board's SQLite file, as another worker process would be."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def add_participant(self, participant_id: str) -> None:
        with closing(sqlite3.connect(self.path, timeout=0.05)) as connection:
            connection.execute(
                "INSERT INTO participant (id, event_id, banned, created_at) VALUES (?, 1, 0, '2026-01-01 00:00:00')",
                (participant_id,),
            )
            connection.commit()

    def is_kept_out(self) -> bool:
        try:
            self.add_participant("kept-out")
        except sqlite3.OperationalError as error:
            return "locked" in str(error)
        return False


async def test_sqlite_steps_keep_other_writers_out_until_the_commit(tmp_path: Path) -> None:
    async for board in start_board(tmp_path):
        other = OtherProcess(tmp_path / "board.sqlite3")
        async with board.ctx.db.write_steps() as step:
            await step(lambda conn: conn.exec_driver_sql("SELECT count(*) FROM answer").all())
            assert other.is_kept_out()
        other.add_participant("from-another-process")
        assert "from-another-process" in await participant_ids(board)


async def test_two_workers_on_one_sqlite_file_count_every_vote_and_answer_exact_counts(
    tmp_path: Path,
) -> None:
    async for first in start_board(tmp_path):
        async for second in start_board(tmp_path):
            thread_id, answer_id = await post_answer(first)
            phones = [await b.phone(f"/e/{SLUG}/t/{thread_id}") for b in (first, second) for _ in range(40)]
            responses = [
                cast(httpx.Response, r)
                for r in await asyncio.gather(*(vote(p, answer_id, 1) for p in phones))
            ]
            assert {r.status_code for r in responses} == {200}
            seen = sorted(int(COUNT_RE.findall(r.text)[0]) for r in responses)
            assert seen[-1] == 80
            async with first.ctx.db.session() as session:
                answer = await session.get(Answer, answer_id)
                assert answer is not None and answer.agree == 80
                rows = (
                    await session.exec(select(Vote.participant_id).where(col(Vote.answer_id) == answer_id))
                ).all()
                assert len(rows) == 80


async def test_sqlite_write_sessions_keep_other_writers_out_until_the_commit(tmp_path: Path) -> None:
    async for board in start_board(tmp_path):
        other = OtherProcess(tmp_path / "board.sqlite3")
        async with board.ctx.db.writing() as session:
            assert other.is_kept_out()
            session.add(Participant(id="from-this-process", event_id=1))
            await session.commit()
        other.add_participant("from-another-process")
        assert {"from-another-process", "from-this-process"} <= await participant_ids(board)
        assert "kept-out" not in await participant_ids(board)


async def test_the_migrations_build_exactly_the_tables_the_models_declare(board: Board) -> None:
    def differences(conn: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(conn), SQLModel.metadata))

    async with board.ctx.db.connect() as conn:
        assert await conn.run_sync(differences) == []

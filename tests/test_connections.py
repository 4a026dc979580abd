"""A request borrows at most one database connection, whatever its page reads and writes."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.conftest import SLUG, Board
from tests.test_stream_limits import Stream
from tests.test_votes import post_answer

BACKGROUND = {"thread-timers", "counter-healing", "retention"}
"""The worker's own loops, which read on their own schedule whatever requests come."""


def _for_a_request() -> bool:
    task = asyncio.current_task()
    return task is None or task.get_name() not in BACKGROUND


@contextmanager
def checkouts(board: Board) -> Iterator[list[str]]:
    """The connections taken from the pool for requests while the block runs."""
    taken: list[str] = []

    def took(_dbapi: object, _record: object, _proxy: object) -> None:
        if _for_a_request():
            taken.append("checkout")

    engine = board.ctx.db.engine.sync_engine
    event.listen(engine, "checkout", took)
    try:
        yield taken
    finally:
        event.remove(engine, "checkout", took)


@pytest.mark.parametrize(
    "page",
    [
        f"/e/{SLUG}",
        f"/e/{SLUG}/t/{{thread}}",
        f"/e/{SLUG}/screen",
        f"/e/{SLUG}/t/{{thread}}/screen",
        f"/e/{SLUG}/results",
        f"/api/events/{SLUG}",
        "/api/threads/{thread}/answers",
    ],
)
async def test_a_participant_or_projector_page_uses_one_connection(board: Board, page: str) -> None:
    """A projector's board is one read shared by every screen of the worker (`domain/shared_reads.py`),
    on a connection of its own: the screen pages may take that one besides their own."""
    thread_id, _answer = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}")
    with checkouts(board) as taken:
        response = await phone.open(page.format(thread=thread_id))
    assert response.status_code == 200
    shared = 1 if page.endswith("/screen") else 0
    assert len(taken) <= 1 + shared


async def test_the_moderation_board_and_a_decision_use_one_connection_each(board: Board) -> None:
    _thread, answer_id = await post_answer(board)
    moderator = await board.staff("moderator")
    with checkouts(board) as taken:
        page = await moderator.open(f"/mod/{SLUG}")
    assert page.status_code == 200
    assert len(taken) <= 1
    with checkouts(board) as taken:
        hidden = await moderator.submit(f"/mod/{SLUG}/answers/{answer_id}", {"action": "pin"}, htmx=True)
    assert hidden.status_code == 200
    assert len(taken) <= 1


async def test_posting_an_answer_writes_and_reads_back_on_one_connection(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    with checkouts(board) as taken:
        posted = await phone.submit(
            f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Lire ce qu'on vient d'écrire"}, htmx=True
        )
    assert posted.status_code == 201
    assert "Lire ce qu&#39;on vient d&#39;écrire" in posted.text
    assert len(taken) <= 1


@contextmanager
def held(board: Board) -> Iterator[list[int]]:
    """How many connections requests hold out of the pool at each moment, as a running list."""
    out = [0]
    mine: set[int] = set()
    engine = board.ctx.db.engine.sync_engine

    def took(dbapi: object, *_args: object) -> None:
        if _for_a_request():
            mine.add(id(dbapi))
            out.append(out[-1] + 1)

    def gave(dbapi: object, *_args: object) -> None:
        if id(dbapi) in mine:
            mine.discard(id(dbapi))
            out.append(out[-1] - 1)

    event.listen(engine, "checkout", took)
    event.listen(engine, "checkin", gave)
    try:
        yield out
    finally:
        event.remove(engine, "checkout", took)
        event.remove(engine, "checkin", gave)


async def test_an_open_live_stream_holds_no_connection(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    with held(board) as out:
        stream = Stream(board, f"/e/{SLUG}/t/{thread_id}/stream", phone, "127.0.0.1")
        assert await stream.open() == 200
        assert out[-1] == 0
        await stream.close()
    assert max(out) <= 1


async def test_fifty_pages_at_once_each_hold_at_most_one_connection(board: Board) -> None:
    thread_id, _answer = await post_answer(board)
    phones = [await board.phone(None) for _ in range(50)]
    with held(board) as out:
        pages = await asyncio.gather(*(p.open(f"/e/{SLUG}/t/{thread_id}") for p in phones))
    assert {page.status_code for page in pages} == {200}
    assert out[-1] == 0
    assert max(out) <= 50

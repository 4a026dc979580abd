"""Thread timers: a facilitator's countdown reaches every page, and closes the thread at zero when asked."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select

from board.domain import timers
from board.models import AuditEntry, Thread
from tests.conftest import SLUG, Board
from tests.test_redis_channels import EventStream, until


async def api_thread(board: Board, thread_id: int) -> dict[str, object]:
    phone = await board.phone(None)
    event = (await phone.http.get(f"/api/events/{SLUG}")).json()
    return next(t for t in event["threads"] if t["id"] == thread_id)


async def test_a_facilitator_starts_a_timer_that_the_api_and_both_streams_carry(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    facilitator = await board.staff("facilitator")
    await facilitator.open(f"/mod/{SLUG}")
    thread_stream = EventStream(board.app, f"/e/{SLUG}/t/{thread_id}/stream")
    event_stream = EventStream(board.app, f"/e/{SLUG}/stream")
    try:
        await until(thread_stream.has("counts"), "the thread stream is open")
        await until(event_stream.has("counts"), "the event stream is open")
        before = datetime.now(UTC)
        started = await facilitator.submit(
            f"/mod/{SLUG}/threads/{thread_id}", {"action": "timer", "seconds": "90"}
        )
        assert started.status_code == 303

        listed = await api_thread(board, thread_id)
        ends = datetime.fromisoformat(str(listed["timer_ends_at"]))
        assert before + timedelta(seconds=89) <= ends <= datetime.now(UTC) + timedelta(seconds=90)

        for stream in (thread_stream, event_stream):
            await until(stream.has("status", '"timer"'), "the timer reaches the stream")
            said = [json.loads(d) for k, d in stream.events if k == "status" and '"timer"' in d]
            assert said[-1]["thread"] == thread_id
            assert datetime.fromisoformat(said[-1]["timer_ends_at"]) == ends
            assert said[-1]["thread_status"] == "open" and said[-1]["auto_close"] is False

        page = (await facilitator.open(f"/e/{SLUG}/t/{thread_id}")).text
        assert f'data-countdown="{thread_id}" data-ends="{ends.isoformat()}"' in page
        screen = (await facilitator.open(f"/e/{SLUG}/t/{thread_id}/screen")).text
        assert "countdown-large" in screen and ends.isoformat() in screen

        stopped = await facilitator.submit(
            f"/mod/{SLUG}/threads/{thread_id}", {"action": "timer", "seconds": "0"}
        )
        assert stopped.status_code == 303
        assert (await api_thread(board, thread_id))["timer_ends_at"] is None
        await until(thread_stream.has("status", '"timer_ends_at":null'), "the stop reaches the stream")
    finally:
        await thread_stream.close()
        await event_stream.close()


async def test_bad_timers_are_refused_with_a_message(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    facilitator = await board.staff("facilitator")
    await facilitator.open(f"/mod/{SLUG}")
    for seconds in ("", "-5", "1.5", "abc", "10801", "٣", "5\x00"):
        refused = await facilitator.submit(
            f"/mod/{SLUG}/threads/{thread_id}", {"action": "timer", "seconds": seconds}, htmx=True
        )
        assert refused.status_code == 422, seconds
        assert "seconde" in refused.text
    missing = await facilitator.submit(f"/mod/{SLUG}/threads/{thread_id}", {"action": "timer"}, htmx=True)
    assert missing.status_code == 422
    closed = await facilitator.submit(f"/mod/{SLUG}/threads/{thread_id}", {"action": "close"})
    assert closed.status_code == 303
    on_closed = await facilitator.submit(
        f"/mod/{SLUG}/threads/{thread_id}", {"action": "timer", "seconds": "60"}, htmx=True
    )
    assert on_closed.status_code == 409
    assert (await api_thread(board, thread_id))["timer_ends_at"] is None


async def test_an_auto_closing_timer_closes_the_thread_at_zero_with_no_page_open(board: Board) -> None:
    thread_id = (await board.thread_ids())[1]
    facilitator = await board.staff("facilitator")
    await facilitator.open(f"/mod/{SLUG}")
    started = await facilitator.submit(
        f"/mod/{SLUG}/threads/{thread_id}", {"action": "timer", "seconds": "1", "auto_close": "1"}
    )
    assert started.status_code == 303
    assert (await api_thread(board, thread_id))["status"] == "open"

    async def closed() -> bool:
        return (await api_thread(board, thread_id))["status"] == "closed"

    await until(closed, "the thread closes once its timer runs out")
    assert (await api_thread(board, thread_id))["timer_ends_at"] is None
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    refused = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Trop tard ?"}, htmx=True)
    assert refused.status_code == 409
    async with board.ctx.db.session() as session:
        trail = list(await session.exec(select(AuditEntry).where(AuditEntry.actor == timers.TIMER_ACTOR)))
    assert [(e.action, e.target) for e in trail] == [("thread-close", f"thread {thread_id}")]


async def test_a_timer_left_by_a_stopped_worker_is_closed_once_however_many_workers_look(
    board: Board,
) -> None:
    """The deadline lives in the database: any worker, started later, closes the thread; only one announces it."""
    thread_id = (await board.thread_ids())[2]
    past = datetime.now(UTC) - timedelta(seconds=30)
    async with board.ctx.db.writing() as session:
        await (await session.connection()).execute(
            update(Thread)
            .where(col(Thread.id) == thread_id)
            .values(timer_ends_at=past, timer_auto_close=True)
        )
        await session.commit()
    await asyncio.gather(*(timers.close_due(board.ctx) for _ in range(20)))
    listed = await api_thread(board, thread_id)
    assert listed["status"] == "closed" and listed["timer_ends_at"] is None
    async with board.ctx.db.session() as session:
        trail = list(await session.exec(select(AuditEntry).where(AuditEntry.actor == timers.TIMER_ACTOR)))
    assert len(trail) == 1


async def test_a_timer_without_auto_close_leaves_the_thread_open(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    past = datetime.now(UTC) - timedelta(seconds=5)
    async with board.ctx.db.writing() as session:
        await (await session.connection()).execute(
            update(Thread)
            .where(col(Thread.id) == thread_id)
            .values(timer_ends_at=past, timer_auto_close=False)
        )
        await session.commit()
    assert await timers.close_due(board.ctx) is None
    assert (await api_thread(board, thread_id))["status"] == "open"


async def test_the_moderation_page_has_a_timer_for_each_open_thread(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    facilitator = await board.staff("facilitator")
    page = (await facilitator.open(f"/mod/{SLUG}")).text
    controls = page.split(f'action="/mod/{SLUG}/threads/{thread_id}"')
    assert any('name="seconds" value="120"' in c and 'name="auto_close" value="1"' in c for c in controls)
    await facilitator.submit(
        f"/mod/{SLUG}/threads/{thread_id}", {"action": "timer", "seconds": "120", "auto_close": "1"}
    )
    page = (await facilitator.open(f"/mod/{SLUG}")).text
    assert "Arrêter le minuteur" in page and "avant la fermeture du fil" in page
    moderator = await board.staff("moderator")
    log = (await moderator.open(f"/mod/{SLUG}/audit")).text
    assert (
        "a réglé le minuteur du fil « L&#39;expérimentation" in log
        or "a réglé le minuteur du fil « L'expérimentation" in log
    )
    assert "(120 s, auto-close)" in log

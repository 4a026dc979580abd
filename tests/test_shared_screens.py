"""No refetch storms: however many projectors redraw at once, a worker reads a thread's board at most
once per coalescing interval, and no projector is shown data older than the change that woke it."""

from __future__ import annotations

import asyncio
import re

from board.domain.shared_reads import SharedReads
from tests.conftest import SLUG, Board
from tests.test_moderation import answer_on_first_thread


async def test_callers_that_arrive_together_share_one_computation() -> None:
    shared = SharedReads(interval=0.05)
    started: list[float] = []
    release, running = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    async def compute() -> int:
        started.append(loop.time())
        running.set()
        await release.wait()
        return len(started)

    first = [asyncio.create_task(shared.read("k", compute)) for _ in range(20)]
    await running.wait()
    late = [asyncio.create_task(shared.read("k", compute)) for _ in range(20)]
    release.set()
    assert await asyncio.gather(*first) == [1] * 20, "callers before the start share the first computation"
    assert await asyncio.gather(*late) == [2] * 20, "callers during it wait for a fresh one, and share it"
    assert len(started) == 2 and started[1] - started[0] >= 0.05, "at most one start per interval"
    assert await shared.read("other", compute) == 3, "each key is read on its own"


async def test_a_failed_read_reaches_its_callers_and_the_next_read_tries_again() -> None:
    shared = SharedReads(interval=0.0)
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database away")
        return "ok"

    results = await asyncio.gather(*(shared.read("k", flaky) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await shared.read("k", flaky) == "ok"


async def test_many_screens_cost_one_read_each_and_each_sees_the_latest_vote(board: Board) -> None:
    thread_id, answer_id, _ = await answer_on_first_thread(board, "Une réponse que tout le monde regarde")
    screens = [await board.phone(None) for _ in range(20)]
    await screens[0].open(f"/e/{SLUG}/screen")
    for votes in (1, 2):
        voter = await board.phone(f"/e/{SLUG}/t/{thread_id}")
        voted = await voter.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=True)
        assert voted.status_code == 200
        before = board.ctx.shared.computed
        pages = await asyncio.gather(
            *(s.http.get(f"/e/{SLUG}/screen?block=board", headers={"HX-Request": "true"}) for s in screens)
        )
        counts = {
            re.search(rf'id="s{answer_id}".*?class="agree-n">(\d+)<', p.text, re.S).group(1) for p in pages
        }  # type: ignore[union-attr]
        assert counts == {str(votes)}, "every screen shows the vote that came before it asked"
        assert board.ctx.shared.computed - before <= 4, (
            "the state and the ranking, read once or twice for all"
        )

"""One contract for both live layers: the in-process one and Redis (the real server)."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from board.live import Live, build_live
from board.live.counters import AnswerCounts, ThreadCounts
from tests.conftest import REDIS_URL, drop_redis_prefix

RULES = {
    "answer": "2/minute",
    "vote": "3/minute",
    "join": "100/minute",
    "login-user": "3/minute",
    "login-address": "9/minute",
}


@pytest.fixture(params=["memory", "redis"])
async def live(request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    layer = build_live(REDIS_URL if request.param == "redis" else None, prefix, RULES)
    async with layer.channels.plugin:
        yield layer
    await layer.close()
    if request.param == "redis":
        await drop_redis_prefix(prefix)


async def test_answer_counts_are_stored_absolutely_with_segments(live: Live) -> None:
    await live.counters.set_answers(7, {1: AnswerCounts(3, 1, {"citoyen": (2, 1), "étudiant": (1, 0)})})
    await live.counters.set_answers(7, {1: AnswerCounts(4, 1, {"citoyen": (3, 1)})})
    stored = await live.counters.get_answers([1, 2])
    assert stored == {1: AnswerCounts(4, 1, {"citoyen": (3, 1)})}


async def test_top_ranks_by_score_then_newest(live: Live) -> None:
    assert await live.counters.top(9, 10) is None
    await live.counters.set_thread(9, ThreadCounts(3, 0, 5))
    await live.counters.set_answers(9, {1: AnswerCounts(2, 0), 2: AnswerCounts(3, 1), 3: AnswerCounts(0, 0)})
    assert await live.counters.top(9, 10) == [2, 1, 3]
    await live.counters.drop_answers(9, [2])
    assert await live.counters.top(9, 1) == [1]


async def test_vote_totals_keep_segments_and_move_the_thread_in_one_write(live: Live) -> None:
    await live.counters.set_answers(8, {1: AnswerCounts(1, 0, {"citoyen": (1, 0)}), 2: AnswerCounts(0, 0)})
    await live.counters.set_totals(8, {1: (1, 2), 2: (3, 0)}, ThreadCounts(2, 0, 6))
    assert await live.counters.get_answers([1, 2]) == {
        1: AnswerCounts(1, 2, {"citoyen": (1, 0)}),
        2: AnswerCounts(3, 0),
    }
    assert await live.counters.top(8, 10) == [2, 1]
    assert await live.counters.get_threads([8]) == {8: ThreadCounts(2, 0, 6)}


async def test_thread_and_participant_counters(live: Live) -> None:
    assert await live.counters.get_threads([5]) == {}
    await live.counters.set_thread(5, ThreadCounts(answers=4, pending=1, votes=12))
    assert await live.counters.get_threads([5, 6]) == {5: ThreadCounts(4, 1, 12)}
    assert await live.counters.get_participants(1) is None
    await live.counters.set_participants(1, 150)
    assert await live.counters.get_participants(1) == 150
    assert await live.counters.ping()


async def test_published_messages_reach_every_subscriber(live: Live) -> None:
    async with (
        live.channels.subscribe(["thread:1"]) as first,
        live.channels.subscribe(["thread:1"]) as second,
    ):
        await asyncio.sleep(0.05)
        live.channels.publish({"type": "answer", "thread": 1, "answer": {"id": 3}}, ["thread:1"])
        for stream in (first, second):
            message = await asyncio.wait_for(anext(stream), 2)
            assert message["answer"] == {"id": 3}


async def test_count_bursts_are_coalesced_to_four_a_second(live: Live) -> None:
    async with live.channels.subscribe(["thread:2"]) as stream:
        await asyncio.sleep(0.05)
        for n in range(1, 21):
            live.channels.publish(
                {"type": "counts", "thread": 2, "answers": {str(n % 3): [n, 0]}}, ["thread:2"]
            )
        loop = asyncio.get_running_loop()
        start = loop.time()
        received = []
        while not received or max(v[0] for v in received[-1]["answers"].values()) < 20:
            received.append(await asyncio.wait_for(anext(stream), 2))
        elapsed = loop.time() - start
        assert len(received) <= 1 + elapsed / 0.25 + 1
        assert received[-1]["answers"] == {"0": [18, 0], "1": [19, 0], "2": [20, 0]}


async def test_rate_limits_count_hits_and_tell_when_to_retry(live: Live) -> None:
    key = uuid.uuid4().hex
    assert await live.limits.retry_after("answer", key) is None
    assert await live.limits.hit("answer", key)
    assert await live.limits.hit("answer", key)
    assert not await live.limits.hit("answer", key)
    wait = await live.limits.retry_after("answer", key)
    assert wait is not None and 1 <= wait <= 60
    assert await live.limits.retry_after("answer", "someone-else") is None


async def test_rate_limits_count_many_hits_at_once_like_single_hits(live: Live) -> None:
    key, other = uuid.uuid4().hex, uuid.uuid4().hex
    assert await live.limits.hit_many("answer", [key, key, key, other]) == [True, True, False, True]
    assert not await live.limits.hit("answer", key)
    assert await live.limits.retry_after("answer", key) is not None
    assert await live.limits.hit("answer", other)
    assert await live.limits.retry_after("answer", other) is not None
    assert await live.limits.hit_many("answer", []) == []

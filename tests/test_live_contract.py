"""One contract for both live layers: the in-process one and Redis (the real server)."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from board.live import Live, build_live
from board.live.counters import Headcount, ThreadCounts
from board.live.limits import Admission, Entry
from board.live.messages import Counts, NewAnswer, Ping, Status, decode, encode
from board.live.rounds import Publication
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


async def test_thread_and_participant_counters(live: Live) -> None:
    assert await live.counters.get_threads([5]) == {}
    await live.counters.set_threads({5: ThreadCounts(answers=4, pending=1, votes=12)})
    assert await live.counters.get_threads([5, 6]) == {5: ThreadCounts(4, 1, 12)}
    assert await live.counters.get_participants(1) is None
    await live.counters.set_participants(1, Headcount(150))
    assert await live.counters.get_participants(1) == 150
    assert await live.counters.ping()


async def test_published_messages_reach_every_subscriber(live: Live) -> None:
    async with (
        live.channels.subscribe(["thread:1"]) as first,
        live.channels.subscribe(["thread:1"]) as second,
    ):
        posted = NewAnswer(1, 3, "Une réponse", "published", datetime.now(UTC), ThreadCounts(1, 0, 0))
        live.channels.send(posted, ["thread:1"])
        for stream in (first, second):
            assert await asyncio.wait_for(anext(stream), 2) == posted


async def test_count_bursts_are_coalesced_to_four_a_second(live: Live) -> None:
    async with live.channels.subscribe(["thread:2"]) as stream:
        for n in range(1, 21):
            live.channels.send(Counts(2, answers={n % 3: (n, 0)}), ["thread:2"])
        loop = asyncio.get_running_loop()
        start = loop.time()
        received = []
        while not received or max(v[0] for v in received[-1].answers.values()) < 20:
            message = await asyncio.wait_for(anext(stream), 2)
            assert isinstance(message, Counts)
            received.append(message)
        elapsed = loop.time() - start
        assert len(received) <= 1 + elapsed / 0.25 + 1
        assert received[-1].answers == {0: (18, 0), 1: (19, 0), 2: (20, 0)}


def test_every_message_comes_back_as_it_was_sent() -> None:
    totals = ThreadCounts(answers=3, pending=1, votes=7)
    for message in (
        Counts(4, totals, {1: (2, 1), 9: (0, 3)}),
        Counts(None, participants=150, event_id=2),
        NewAnswer(
            4, 12, "« Évaluer » <b>avant</b>", "pending", datetime(2017, 11, 22, 9, 30, tzinfo=UTC), totals
        ),
        Status("answers", 4, totals),
        Status("moderation"),
        Ping(),
    ):
        assert decode(encode(message)) == message


async def test_rate_limits_count_hits_and_tell_when_to_retry(live: Live) -> None:
    key = uuid.uuid4().hex
    assert await live.limits.retry_after("answer", key) is None
    assert await live.limits.hit("answer", key)
    assert await live.limits.hit("answer", key)
    assert not await live.limits.hit("answer", key)
    wait = await live.limits.retry_after("answer", key)
    assert wait is not None and 1 <= wait <= 60
    assert await live.limits.retry_after("answer", "someone-else") is None


async def test_a_batch_is_admitted_in_one_round_as_single_hits_would_admit_it(live: Live) -> None:
    """Votes (3 a minute) after arrivals (join: 100 a minute, but this address has 99 already)."""
    crowded, elsewhere = f"203.0.113.{uuid.uuid4().int % 250}", uuid.uuid4().hex
    for _ in range(99):
        assert await live.limits.hit("join", crowded)
    ann, bob, eve, zoe = (uuid.uuid4().hex for _ in range(4))
    entries = [
        Entry(ann, ann, crowded),
        Entry(ann, ann),
        Entry(bob, bob, crowded),
        Entry(ann, ann),
        Entry(ann, ann),
        Entry(bob, bob),
        Entry(eve, eve, elsewhere),
        Entry(zoe, zoe),
    ]
    verdicts = await live.rounds.run(entries, {}, [])
    assert [v.admission for v in verdicts] == [
        Admission.IN,
        Admission.IN,
        Admission.TURNED_AWAY,
        Admission.IN,
        Admission.TOO_FAST,
        Admission.TURNED_AWAY,
        Admission.IN,
        Admission.IN,
    ]
    assert 55 <= verdicts[4].wait <= 60, "Ann waits until her first vote leaves the minute"
    assert [v.wait for i, v in enumerate(verdicts) if i != 4] == [0] * 7
    assert await live.limits.retry_after("vote", ann) is not None
    assert await live.limits.retry_after("vote", bob) is None, "a newcomer turned away has cast nothing"
    assert await live.limits.retry_after("join", crowded) is not None
    assert await live.limits.hit("vote", bob)
    assert await live.rounds.run([], {}, []) == []


async def test_a_round_stores_the_newest_counts_and_publishes_its_messages(live: Live) -> None:
    thread = uuid.uuid4().int % 1_000_000
    await live.counters.set_threads({thread: ThreadCounts(5, 0, 40, version=2_000)})
    counts = Counts(thread, ThreadCounts(5, 0, 41), {7: (30, 11)})
    async with live.channels.subscribe([f"thread:{thread}"]) as stream:
        await live.rounds.run(
            [Entry("ann", "ann")],
            {thread: ThreadCounts(5, 0, 39, version=1_000), thread + 1: ThreadCounts(1, 0, 1, version=5)},
            [Publication(encode(counts), (f"thread:{thread}",))],
        )
        assert await asyncio.wait_for(anext(stream), 2) == counts
    stored = await live.counters.get_threads([thread, thread + 1])
    assert stored == {thread: ThreadCounts(5, 0, 40), thread + 1: ThreadCounts(1, 0, 1)}


async def test_participant_counts_stored_late_never_replace_newer_ones(live: Live) -> None:
    """The vote writer stores an event's participants after its commit, with its next round."""
    event = uuid.uuid4().int % 1_000_000
    await live.counters.set_participants(event, Headcount(151, version=2_000))
    await live.rounds.run(
        [], {}, [], {event: Headcount(150, version=1_000), event + 1: Headcount(7, version=5)}
    )
    assert await live.counters.get_participants(event) == 151
    assert await live.counters.get_participants(event + 1) == 7
    await live.rounds.run([Entry("ann", "ann")], {}, [], {event: Headcount(152, version=3_000)})
    assert await live.counters.get_participants(event) == 152
    await live.counters.set_participants(event, Headcount(149))
    assert await live.counters.get_participants(event) == 149, "an unstamped recount replaces any"


async def test_thread_counts_stored_late_never_replace_newer_ones(live: Live) -> None:
    """Writers store after they commit: the counts counted last win, whichever store lands last."""
    thread = uuid.uuid4().int % 1_000_000
    newer, older = ThreadCounts(5, 0, 40, version=2_000), ThreadCounts(5, 0, 39, version=1_000)
    await live.counters.set_threads({thread: newer})
    await live.counters.set_threads({thread: older})
    assert await live.counters.get_threads([thread]) == {thread: ThreadCounts(5, 0, 40)}
    await live.counters.set_threads({thread: ThreadCounts(6, 0, 41, version=3_000)})
    assert await live.counters.get_threads([thread]) == {thread: ThreadCounts(6, 0, 41)}
    await live.counters.set_threads({thread: ThreadCounts(0, 0, 0)})
    assert await live.counters.get_threads([thread]) == {thread: ThreadCounts(0, 0, 0)}, (
        "unstamped counts replace any"
    )

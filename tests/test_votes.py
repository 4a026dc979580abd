"""Voting: one row per participant and answer, whatever is double-tapped, retried or concurrent."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence

from sqlalchemy import func
from sqlmodel import col, select, update

from board.live.counters import Headcount, ThreadCounts
from board.live.limits import Entry
from board.live.rounds import Publication, Rounds, Verdict
from board.models import Answer, Event, Participant, Thread, Vote
from tests.conftest import SLUG, Board, Phone


async def post_answer(board: Board, body: str = "Une idée") -> tuple[int, int]:
    thread_id = (await board.thread_ids())[0]
    author = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    response = await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": body}, htmx=True)
    assert response.status_code == 201, response.text
    async with board.ctx.db.session() as session:
        answer = (await session.exec(select(Answer).where(Answer.body == body))).one()
    assert answer.id is not None
    return thread_id, answer.id


async def vote(phone: Phone, answer_id: int, value: object, *, htmx: bool = True) -> object:
    return await phone.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": str(value)}, htmx=htmx)


async def vote_rows(board: Board, answer_id: int) -> list[tuple[str, int]]:
    async with board.ctx.db.session() as session:
        rows = await session.exec(select(Vote.participant_id, Vote.value).where(Vote.answer_id == answer_id))
        return list(rows.all())


async def test_vote_returns_a_small_widget_with_fresh_counts(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    response = await vote(phone, answer_id, 1)
    assert response.status_code == 200
    assert len(response.content) <= 2048
    assert f'id="ag{answer_id}">1<' in response.text
    assert 'class="agree" name="value" value="0" aria-pressed="true"' in response.text


async def test_change_then_withdraw_a_vote(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    await vote(phone, answer_id, 1)
    changed = await vote(phone, answer_id, -1)
    assert f'id="ag{answer_id}">0<' in changed.text and f'id="di{answer_id}">1<' in changed.text
    assert [v for _, v in await vote_rows(board, answer_id)] == [-1]
    withdrawn = await vote(phone, answer_id, 0)
    assert f'id="di{answer_id}">0<' in withdrawn.text
    assert await vote_rows(board, answer_id) == []


async def test_vote_without_javascript_redirects_to_the_answer(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    response = await vote(phone, answer_id, 1, htmx=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/e/{SLUG}/t/{thread_id}#a{answer_id}"
    page = await phone.open(f"/e/{SLUG}/t/{thread_id}")
    assert f'id="ag{answer_id}">1<' in page.text


async def test_bad_vote_values_are_422(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    for value in ("2", "oui", ""):
        response = await vote(phone, answer_id, value)
        assert response.status_code == 422
        assert "Vote invalide" in response.text
    assert await vote_rows(board, answer_id) == []


async def test_unknown_answer_is_404(board: Board) -> None:
    phone = await board.phone()
    assert (await vote(phone, 424242, 1)).status_code == 404
    assert (await vote(phone, 424242, 1, htmx=False)).status_code == 404


async def test_voting_on_a_closed_thread_is_409(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    async with board.ctx.db.session() as session:
        await session.exec(update(Thread).where(col(Thread.id) == thread_id).values(status="closed"))
        await session.commit()
    response = await vote(phone, answer_id, 1)
    assert response.status_code == 409
    assert await vote_rows(board, answer_id) == []


async def test_upvote_events_refuse_disagree(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    async with board.ctx.db.session() as session:
        await session.exec(update(Event).where(col(Event.slug) == SLUG).values(voting="upvote"))
        await session.commit()
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    assert (await vote(phone, answer_id, -1)).status_code == 422
    assert (await vote(phone, answer_id, 1)).status_code == 200


async def test_a_vote_without_csrf_token_is_403(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    response = await phone.submit(
        f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=True, csrf=False
    )
    assert response.status_code == 403
    assert await vote_rows(board, answer_id) == []


async def test_sorting_by_top_and_new(board: Board) -> None:
    thread_id, older = await post_answer(board, "Réponse ancienne")
    _, _newer = await post_answer(board, "Réponse récente")
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    await vote(phone, older, 1)
    top = (await phone.open(f"/e/{SLUG}/t/{thread_id}?sort=top")).text
    new = (await phone.open(f"/e/{SLUG}/t/{thread_id}?sort=new")).text
    assert top.index("Réponse ancienne") < top.index("Réponse récente")
    assert new.index("Réponse récente") < new.index("Réponse ancienne")
    fragment = await phone.http.get(f"/e/{SLUG}/t/{thread_id}?sort=new", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and 'id="answers"' in fragment.text


async def test_a_hundred_participants_voting_twice_at_once_count_once_each(redis_board: Board) -> None:
    board = redis_board
    thread_id, answer_id = await post_answer(board)
    phones = [await board.phone(f"/e/{SLUG}/t/{thread_id}") for _ in range(100)]
    responses = await asyncio.gather(*(vote(p, answer_id, 1) for p in phones for _ in range(2)))
    assert {r.status_code for r in responses} == {200}

    assert len(await vote_rows(board, answer_id)) == 100
    async with board.ctx.db.session() as session:
        answer = await session.get(Answer, answer_id)
        assert answer is not None and answer.agree == 100
        total = (await session.exec(select(func.count()).select_from(Vote))).one()
        assert total == 100
    in_redis = await board.ctx.live.counters.get_threads([thread_id])
    assert in_redis[thread_id].votes == 100
    api = await phones[0].http.get(f"/api/threads/{thread_id}/answers")
    assert api.json()[0]["agree"] == 100
    event = await phones[0].http.get(f"/api/events/{SLUG}")
    assert event.json()["threads"][0]["votes"] == 100


async def test_votes_are_limited_per_participant_and_unchanged_votes_do_not_count(tmp_path: object) -> None:
    from pathlib import Path

    from tests.conftest import start_board

    async for board in start_board(Path(str(tmp_path)), vote_limit="3/minute"):
        thread_id, first = await post_answer(board, "Une")
        _, second = await post_answer(board, "Deux")
        phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
        for _ in range(4):
            assert (await vote(phone, first, 1)).status_code == 200, "the same vote again is free"
        assert (await vote(phone, first, -1)).status_code == 200
        assert (await vote(phone, second, 1)).status_code == 200
        refused = await vote(phone, second, -1)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert sorted(v for _, v in await vote_rows(board, second)) == [1]
        other = await board.phone(f"/e/{SLUG}/t/{thread_id}")
        assert (await vote(other, second, 1)).status_code == 200


async def test_vote_limits_hold_across_two_workers_sharing_redis(tmp_path: object) -> None:
    import uuid
    from pathlib import Path

    from tests.conftest import start_board

    shared = {"redis": True, "redis_prefix": f"test:{uuid.uuid4().hex[:12]}:", "vote_limit": "3/minute"}
    async for first in start_board(Path(str(tmp_path)), **shared):
        async for second in start_board(Path(str(tmp_path)), **shared):
            thread_id, answer_id = await post_answer(first, "Une réponse votée sur deux serveurs")
            here = await first.phone(f"/e/{SLUG}/t/{thread_id}")
            there = await second.phone(None)
            there.http.cookies = here.http.cookies
            there.csrf = here.csrf
            assert (await vote(here, answer_id, 1)).status_code == 200
            assert (await vote(there, answer_id, -1)).status_code == 200
            assert (await vote(here, answer_id, 0)).status_code == 200
            refused = await vote(there, answer_id, 1)
            assert refused.status_code == 429
            assert await vote_rows(first, answer_id) == []
            assert (await vote(here, answer_id, 1)).status_code == 429


class MeanwhileRounds:
    """The live layer, but its next round with uses to count lets another writer commit first, as a
    second worker does when it writes between this batch's read and its write lock."""

    def __init__(self, rounds: Rounds, meanwhile: Callable[[], Awaitable[None]]) -> None:
        self.rounds = rounds
        self.meanwhile: Callable[[], Awaitable[None]] | None = meanwhile
        self.counted: list[list[str]] = []

    async def run(
        self,
        entries: Sequence[Entry],
        counts: Mapping[int, ThreadCounts],
        messages: Sequence[Publication],
        people: Mapping[int, Headcount] | None = None,
        first: str = "join",
        then: str = "vote",
    ) -> list[Verdict]:
        if entries:
            self.counted.append([e.key for e in entries])
        if entries and self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            await meanwhile()
        return await self.rounds.run(entries, counts, messages, people, first, then)


async def set_vote_elsewhere(board: Board, answer_id: int, participant_id: str, value: int) -> None:
    """Another worker's vote: the row and the answer's counts, committed on a connection of its own."""
    async with board.ctx.db.writing() as session:
        row = await session.get(Vote, (answer_id, participant_id))
        was = row.value if row is not None else 0
        if value == 0 and row is not None:
            await session.delete(row)
        elif row is not None:
            row.value = value
        else:
            session.add(Vote(answer_id=answer_id, participant_id=participant_id, value=value))
        await session.exec(
            update(Answer)
            .where(col(Answer.id) == answer_id)
            .values(
                agree=col(Answer.agree) + int(value == 1) - int(was == 1),
                disagree=col(Answer.disagree) + int(value == -1) - int(was == -1),
            )
        )
        await session.commit()


async def answer_counts(board: Board, answer_id: int) -> tuple[int, int, list[int]]:
    async with board.ctx.db.session() as session:
        answer = await session.get(Answer, answer_id)
        assert answer is not None
        votes = [v for _, v in await vote_rows(board, answer_id)]
        return answer.agree, answer.disagree, sorted(votes)


async def test_a_vote_another_writer_changed_meanwhile_is_judged_again_under_the_lock(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    assert (await vote(phone, answer_id, 1)).status_code == 200
    [(voter, _)] = await vote_rows(board, answer_id)
    live = board.ctx.live
    live.rounds = MeanwhileRounds(live.rounds, lambda: set_vote_elsewhere(board, answer_id, voter, -1))

    response = await vote(phone, answer_id, -1)

    assert response.status_code == 200
    assert f'id="ag{answer_id}">0<' in response.text and f'id="di{answer_id}">1<' in response.text
    assert await answer_counts(board, answer_id) == (0, 1, [-1]), "counted once, by the other writer"


async def test_a_vote_another_writer_turned_into_a_change_is_counted_against_the_limit(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    ann = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    assert (await vote(ann, answer_id, 1)).status_code == 200
    [(ann_id, _)] = await vote_rows(board, answer_id)
    bob_id = uuid.uuid4().hex
    live = board.ctx.live
    meddling = MeanwhileRounds(live.rounds, lambda: set_vote_elsewhere(board, answer_id, ann_id, 0))
    live.rounds = meddling
    writer = board.app.state.votes

    ann_again, bob_votes = await asyncio.gather(
        writer.cast(SLUG, None, answer_id, ann_id, 1), writer.cast(SLUG, None, answer_id, bob_id, -1)
    )

    assert meddling.counted == [[bob_id], [ann_id]], "Ann's vote was counted once it changed something"
    assert ann_again.changed and bob_votes.changed
    assert await answer_counts(board, answer_id) == (1, 1, [-1, 1])


class FlakyRounds:
    """The live layer, unreachable for the first round that carries an event's participants."""

    def __init__(self, rounds: Rounds) -> None:
        self.rounds = rounds
        self.failed = asyncio.Event()

    async def run(
        self,
        entries: Sequence[Entry],
        counts: Mapping[int, ThreadCounts],
        messages: Sequence[Publication],
        people: Mapping[int, Headcount] | None = None,
        first: str = "join",
        then: str = "vote",
    ) -> list[Verdict]:
        if people and not self.failed.is_set():
            self.failed.set()
            raise ConnectionError("the live layer is down")
        return await self.rounds.run(entries, counts, messages, people, first, then)


async def test_a_participant_count_the_live_layer_missed_goes_with_the_next_round(board: Board) -> None:
    thread_id, answer_id = await post_answer(board)
    ann = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    assert (await vote(ann, answer_id, 1)).status_code == 200
    live = board.ctx.live
    flaky = FlakyRounds(live.rounds)
    live.rounds = flaky
    async with board.ctx.db.session() as session:
        event_id = (await session.exec(select(Event.id).where(Event.slug == SLUG))).one()
        people = (await session.exec(select(func.count()).select_from(Participant))).one()
    before = await live.counters.get_participants(event_id)

    bob = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    assert (await vote(bob, answer_id, -1)).status_code == 200
    await asyncio.wait_for(flaky.failed.wait(), 5)
    assert await live.counters.get_participants(event_id) == before, (
        "Bob's arrival did not reach the live layer"
    )
    assert (await vote(ann, answer_id, -1)).status_code == 200

    for _ in range(50):
        if await live.counters.get_participants(event_id) == people + 1:
            break
        await asyncio.sleep(0.02)
    assert await live.counters.get_participants(event_id) == people + 1

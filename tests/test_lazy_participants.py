"""A visit costs nothing: the participant row comes with the first answer, vote or profile."""

from __future__ import annotations

import asyncio
import re

from sqlmodel import col, func, select

from board.models import Answer, Participant, Vote
from tests.conftest import SLUG, Board, Phone


async def people_in_sql(board: Board) -> int:
    async with board.ctx.db.session() as session:
        return int((await session.exec(select(func.count()).select_from(Participant))).one())


async def people_shown(phone: Phone) -> int:
    return int((await phone.http.get(f"/api/events/{SLUG}")).json()["participants"])


async def published_answer(board: Board, thread_id: int, body: str = "Une réponse à soutenir") -> int:
    author = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    response = await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": body}, htmx=True)
    assert response.status_code == 201, response.text
    found = re.search(r'id="a(\d+)"', response.text)
    assert found
    return int(found.group(1))


async def test_ten_anonymous_visits_add_no_participant(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    for _ in range(10):
        visitor = await board.phone(None)
        for path in (f"/e/{SLUG}", f"/e/{SLUG}/t/{thread_id}", f"/e/{SLUG}/results", f"/e/{SLUG}/privacy"):
            assert (await visitor.open(path)).status_code == 200
        again = await visitor.open(f"/e/{SLUG}")
        assert again.status_code == 200
    assert await people_in_sql(board) == 0
    assert await people_shown(visitor) == 0
    assert ">0</span>" in (await visitor.open(f"/e/{SLUG}")).text


async def test_a_first_vote_brings_exactly_one_participant_and_its_cookie(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    answer_id = await published_answer(board, thread_id)
    assert await people_in_sql(board) == 1, "the author"
    voter = await board.phone(None)
    await voter.open(f"/e/{SLUG}/t/{thread_id}")
    first = await voter.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=True)
    assert first.status_code == 200, first.text
    assert await people_in_sql(board) == 2
    assert await people_shown(voter) == 2
    again = await voter.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "-1"}, htmx=True)
    assert again.status_code == 200
    assert await people_in_sql(board) == 2, "the same person, twice"


async def test_a_vote_without_any_cookie_mints_one_on_that_post(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    answer_id = await published_answer(board, thread_id)
    voter = await board.phone(f"/e/{SLUG}")
    voter.http.cookies.delete(f"bp_{SLUG}")
    response = await voter.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=True)
    assert response.status_code == 200, response.text
    assert any(c.startswith(f"bp_{SLUG}=") for c in response.headers.get_list("set-cookie"))
    assert await people_in_sql(board) == 2
    async with board.ctx.db.session() as session:
        votes = (await session.exec(select(Vote))).all()
    assert len(votes) == 1 and votes[0].value == 1


async def test_a_refused_first_action_stores_nobody(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    empty = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "   "}, htmx=True)
    assert empty.status_code == 422
    missing = await phone.submit(f"/e/{SLUG}/answers/999999/vote", {"value": "1"}, htmx=True)
    assert missing.status_code == 404
    withdraw = await phone.submit(f"/e/{SLUG}/answers/999999/vote", {"value": "0"}, htmx=True)
    assert withdraw.status_code == 404
    assert await people_in_sql(board) == 0


async def test_a_profile_or_an_answer_is_a_first_action(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}")
    response = await phone.submit(f"/e/{SLUG}/profile", {"segment": "étudiant", "name": "Léa"})
    assert response.status_code == 303
    assert await people_in_sql(board) == 1
    await published_answer(board, thread_id, "Une autre voix")
    assert await people_in_sql(board) == 2
    async with board.ctx.db.session() as session:
        people = (await session.exec(select(Participant).order_by(col(Participant.created_at)))).all()
        authors = (await session.exec(select(Answer.participant_id))).all()
    assert (people[0].segment, people[0].name) == ("étudiant", "Léa")
    assert authors == [people[1].id]
    assert await people_shown(phone) == 2


async def test_thirty_first_votes_at_once_count_thirty_people(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    answer_id = await published_answer(board, thread_id)
    phones = [await board.phone(f"/e/{SLUG}/t/{thread_id}") for _ in range(30)]
    responses = await asyncio.gather(
        *(p.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=True) for p in phones)
    )
    assert [r.status_code for r in responses] == [200] * 30
    assert await people_in_sql(board) == 31
    assert await people_shown(phones[0]) == 31
    listed = (await phones[0].http.get(f"/api/threads/{thread_id}/answers")).json()
    assert listed[0]["agree"] == 30

"""Opinion groups as people reach them: the API, the projector's `?show=opinions`, the results page, a phone.

Two camps vote on six answers (they disagree on five, all approve the sixth); the board finds the two
groups by itself, off the event loop, and every view shows the same cached result.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SLUG, Board, Phone, start_board

COMMON = "Tout le monde est d'accord là-dessus"
BODIES = [
    "Plus de tiers lieux",
    "Moins de réunions",
    "Des budgets participatifs",
    "Open data partout",
    "Des fablabs",
    COMMON,
]
PEOPLE = 12


@pytest.fixture(params=["sqlite", "postgres"])
async def quick(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Board]:
    """The board recomputing opinion groups at most every 0.2 s."""
    async for b in start_board(tmp_path, database=request.param, opinions_interval=0.2):
        yield b


async def two_camps(board: Board) -> tuple[int, dict[str, int], list[Phone]]:
    """Six answers, then twelve people in two camps; answer body → id, and the voters' phones."""
    thread_id = (await board.thread_ids())[0]
    authors = [await board.phone(f"/e/{SLUG}/t/{thread_id}") for _ in range(2)]
    for n, body in enumerate(BODIES):
        response = await authors[n % 2].submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": body}, htmx=True)
        assert response.status_code == 201, response.text
    listed = (await authors[0].http.get(f"/api/threads/{thread_id}/answers?sort=new")).json()
    ids = {row["body"]: row["id"] for row in listed}
    voters = [await board.phone(f"/e/{SLUG}/t/{thread_id}") for _ in range(PEOPLE)]
    for n, voter in enumerate(voters):
        side = 1 if n % 2 else -1
        for k, body in enumerate(BODIES):
            value = 1 if body == COMMON else side * (1 if k % 2 else -1)
            response = await voter.submit(
                f"/e/{SLUG}/answers/{ids[body]}/vote", {"value": str(value)}, htmx=True
            )
            assert response.status_code == 200, response.text
    return thread_id, ids, voters


async def settled(phone: Phone, thread_id: int, participants: int) -> dict[str, Any]:
    """The API's answer once it counts `participants` people (recomputation runs in the background)."""
    for _ in range(300):
        response = await phone.http.get(f"/api/threads/{thread_id}/opinions")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        if data["participants"] == participants:
            return data
        await asyncio.sleep(0.1)
    raise AssertionError(f"the opinion groups never counted {participants} participants: {data}")


async def test_the_api_gives_two_groups_the_consensus_and_a_map_without_participant_ids(quick: Board) -> None:
    thread_id, ids, voters = await two_camps(quick)
    data = await settled(voters[0], thread_id, PEOPLE)
    assert sorted(g["size"] for g in data["groups"]) == [6, 6]
    answers = {a["id"]: a for a in data["answers"]}
    assert answers[ids[COMMON]]["bridge"] is True
    assert answers[ids[COMMON]]["consensus"] == max(a["consensus"] for a in answers.values())
    assert all(not answers[ids[b]]["bridge"] for b in BODIES if b != COMMON)
    assert {a["representative_of"] for a in answers.values()} >= {0, 1}
    assert set(answers[ids[COMMON]]["approval"]) == {str(g["id"]) for g in data["groups"]}
    assert len(data["map"]) == PEOPLE
    assert all(len(dot) == 3 and dot[2] in (0, 1) for dot in data["map"])
    raw = (await voters[0].http.get(f"/api/threads/{thread_id}/opinions")).text
    people = [p.id for p in await _participants(quick)]
    assert not any(p in raw for p in people), "no participant id in the public API"


async def _participants(board: Board) -> list[Any]:
    from sqlmodel import select

    from board.models import Participant

    async with board.ctx.db.session() as session:
        return list((await session.exec(select(Participant))).all())


async def test_the_projector_shows_the_map_group_sizes_and_the_consensus(quick: Board) -> None:
    thread_id, _, voters = await two_camps(quick)
    await settled(voters[0], thread_id, PEOPLE)
    screen = await quick.phone(None)
    page = (await screen.open(f"/e/{SLUG}/t/{thread_id}/screen?show=opinions")).text
    assert page.count('<circle class="dot g') == PEOPLE
    assert page.count("6 personnes") == 2
    assert COMMON.replace("'", "&#39;") in page
    assert "sse:opinions" in page
    assert 'class="ranking"' not in page, "the opinion view takes the place of the ranking"
    fragment = (
        await screen.open(
            f"/e/{SLUG}/t/{thread_id}/screen?show=opinions&block=board", headers={"HX-Request": "true"}
        )
    ).text
    assert fragment.lstrip().startswith("<main") and fragment.count("<circle") == PEOPLE
    plain = (await screen.open(f"/e/{SLUG}/t/{thread_id}/screen?show=nonsense")).text
    assert 'class="ranking"' in plain and "<circle" not in plain


async def test_the_results_page_keeps_a_static_map(quick: Board) -> None:
    thread_id, _, voters = await two_camps(quick)
    await settled(voters[0], thread_id, PEOPLE)
    page = (await voters[0].open(f"/e/{SLUG}/results")).text
    assert page.count('<circle class="dot g') == PEOPLE
    assert "Ce qui rassemble tous les groupes" in page
    assert "<script" not in page


async def test_a_phone_sees_its_own_group_and_nobody_elses(quick: Board) -> None:
    thread_id, _, voters = await two_camps(quick)
    await settled(voters[0], thread_id, PEOPLE)
    seen = set()
    for voter in voters[:2]:
        page = (await voter.open(f"/e/{SLUG}/t/{thread_id}")).text
        found = re.search(r"groupe d&#39;opinion ([A-E])", page) or re.search(
            r"groupe d'opinion ([A-E])", page
        )
        assert found, page
        seen.add(found.group(1))
        assert page.count("groupe d") == 1
    assert seen == {"A", "B"}, "two people of opposite camps are in different groups"
    newcomer = await quick.phone(f"/e/{SLUG}/t/{thread_id}")
    assert "groupe d" not in (await newcomer.open(f"/e/{SLUG}/t/{thread_id}")).text


async def test_groups_follow_a_hidden_answer_and_new_votes(quick: Board) -> None:
    thread_id, ids, voters = await two_camps(quick)
    await settled(voters[0], thread_id, PEOPLE)
    moderator = await quick.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    response = await moderator.submit(
        f"/mod/{SLUG}/answers/{ids[COMMON]}", {"action": "hide", "reason": "offtopic"}, htmx=True
    )
    assert response.status_code in (200, 303), response.text
    late = await quick.phone(f"/e/{SLUG}/t/{thread_id}")
    for body in BODIES[:5]:
        await late.submit(f"/e/{SLUG}/answers/{ids[body]}/vote", {"value": "1"}, htmx=True)
    data = await settled(voters[0], thread_id, PEOPLE + 1)
    assert ids[COMMON] not in {a["id"] for a in data["answers"]}


async def test_an_unknown_thread_is_404(quick: Board) -> None:
    phone = await quick.phone(None)
    response = await phone.http.get("/api/threads/999999/opinions")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")


async def test_redis_shares_one_computation_between_workers(tmp_path: Path) -> None:
    """Two app instances on one database and one Redis prefix: the second serves what the first computed."""
    async for first in start_board(tmp_path, redis=True, opinions_interval=0.2):
        thread_id, _, voters = await two_camps(first)
        data = await settled(voters[0], thread_id, PEOPLE)
        from board.app import create_app

        second = create_app(first.ctx.settings)
        async with second.lifespan():
            phone = Phone(second)
            again = (await phone.http.get(f"/api/threads/{thread_id}/opinions")).json()
            await phone.close()
            assert not second.state.opinions._tasks, "the second worker computed nothing"
        assert again == data
        assert await first.ctx.live.opinions.payload(thread_id) is not None


async def test_the_results_page_keeps_the_groups_once_retention_has_unlinked_the_votes(
    tmp_path: Path,
) -> None:
    """Retention forgets who voted what; the groups found from those votes stay on the results page, even
    for a server started afterwards, and nobody's group is remembered."""
    from datetime import timedelta

    from board.app import create_app
    from board.domain import retention
    from tests.test_retention import close, links_to_people

    async for board in start_board(tmp_path, opinions_interval=0.2):
        thread_id, _, voters = await two_camps(board)
        before = await settled(voters[0], thread_id, PEOPLE)
        await close(board, ago=timedelta(days=2), retention_days=1)
        assert [a.participants for a in await retention.apply(board.ctx)] == [PEOPLE + 2]
        assert (await links_to_people(board))["votes"] == 0
        assert await board.ctx.live.opinions.members(thread_id) == {}, (
            "the cache forgot who was in which group"
        )

        restarted = create_app(board.ctx.settings)
        async with restarted.lifespan():
            visitor = Phone(restarted)
            page = (await visitor.open(f"/e/{SLUG}/results")).text
            after = (await visitor.http.get(f"/api/threads/{thread_id}/opinions")).json()
            await visitor.close()
        assert page.count('<circle class="dot g') == PEOPLE
        assert page.count("6 personnes") == 2
        assert "Ce qui rassemble tous les groupes" in page
        assert {k: v for k, v in after.items() if k != "computed_at"} == {
            k: v for k, v in before.items() if k != "computed_at"
        }


async def test_closing_an_event_computes_its_groups_before_anyone_opens_the_results(quick: Board) -> None:
    from tests.test_event_admin import admin_of, set_status

    thread_id, _, _ = await two_camps(quick)
    assert await quick.ctx.live.opinions.payload(thread_id) is None, "nobody has looked at the groups yet"
    admin = await admin_of(quick)
    assert (await set_status(admin, SLUG, "closed")).status_code == 303
    for _ in range(300):
        if await quick.ctx.live.opinions.payload(thread_id) is not None:
            break
        await asyncio.sleep(0.1)
    cached = await quick.ctx.live.opinions.payload(thread_id)
    assert cached is not None, "the groups were not computed when the event closed"
    results = await (await quick.phone(None)).open(f"/e/{SLUG}/results")
    assert results.status_code == 200
    assert 'class="results-opinions"' in results.text

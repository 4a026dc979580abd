"""What an attacker or a failing machine tried: refused votes in a busy batch, guessed passwords,
bursts of answers, two workers counting one thread, spreadsheet formulas, withheld texts coming back
through a merge, one person's vote read from a small segment, and a cookie carried to another event."""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import col, select

from board.domain import events
from board.domain.seeding import seed_file
from board.live.counters import ThreadCounts
from board.models import Answer, Participant, Vote
from tests.conftest import (
    PASSWORD,
    POSTGRES_URL,
    SLUG,
    Board,
    Phone,
    _start_board,
    postgres_schema,
    start_board,
)

DATABASES = ["sqlite", "postgres"]


async def post_answer(board: Board, thread_id: int, body: str) -> int:
    author = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    response = await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": body}, htmx=True)
    assert response.status_code == 201, response.text
    async with board.ctx.db.session() as session:
        answer = (await session.exec(select(Answer).where(Answer.body == body.strip()))).one()
    assert answer.id is not None
    return answer.id


async def vote(phone: Phone, answer_id: int, value: int) -> httpx.Response:
    return await phone.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": str(value)}, htmx=True)


async def votes_on(board: Board, answer_id: int) -> dict[str, int]:
    async with board.ctx.db.session() as session:
        rows = await session.exec(select(Vote.participant_id, Vote.value).where(Vote.answer_id == answer_id))
        return dict(rows.all())


async def participant_of(phone: Phone, slug: str = SLUG) -> str:
    cookie = phone.http.cookies.get(f"bp_{slug}")
    assert cookie is not None
    return cookie.split(".")[1]


@pytest.fixture(params=DATABASES)
async def limited_board(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Board]:
    """The board with tight limits, so that a test reaches them in a few requests."""
    async for board in start_board(
        tmp_path,
        database=request.param,
        redis=True,
        vote_limit="3/minute",
        answer_limit="5/minute",
        login_limit="5/minute",
        login_address_limit="20/minute",
    ):
        yield board


async def test_refused_votes_in_a_busy_batch_leave_every_other_vote_stored(limited_board: Board) -> None:
    board = limited_board
    first, second = (await board.thread_ids())[:2]
    popular = await post_answer(board, first, "Une réponse que tout le monde vote")
    withdrawn = await post_answer(board, first, "Une réponse bientôt masquée")
    elsewhere = await post_answer(board, second, "Une réponse d'un fil bientôt fermé")
    banned_on = await post_answer(board, first, "Une réponse votée par une personne bannie")
    fast_on = await post_answer(board, first, "Une réponse votée trop vite")

    stubborn, late, banned, fast = [await board.phone(f"/e/{SLUG}/t/{first}") for _ in range(4)]
    assert (await vote(stubborn, withdrawn, 1)).status_code == 200
    assert (await vote(late, elsewhere, 1)).status_code == 200
    assert (await vote(banned, banned_on, 1)).status_code == 200
    for value in (1, -1, 1):
        assert (await vote(fast, fast_on, value)).status_code == 200

    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    hide = {"action": "hide", "reason": "offtopic"}
    assert (await moderator.submit(f"/mod/{SLUG}/answers/{withdrawn}", hide)).status_code == 303
    assert (await moderator.submit(f"/mod/{SLUG}/threads/{second}", {"action": "close"})).status_code == 303
    banned_id = await participant_of(banned)
    ban = await moderator.submit(f"/mod/{SLUG}/participants/{banned_id}/ban", {})
    assert ban.status_code == 303

    crowd = [await board.phone(f"/e/{SLUG}/t/{first}") for _ in range(40)]
    refused = [
        (stubborn, withdrawn, -1, 404),
        (late, elsewhere, -1, 409),
        (banned, banned_on, -1, 403),
        (fast, fast_on, -1, 429),
    ]
    requests: list[tuple[Phone, int, int, int]] = [(p, popular, 1, 200) for p in crowd]
    for n, attempt in enumerate(refused):
        requests.insert(10 * n + 5, attempt)
    responses = await asyncio.gather(*(vote(p, a, v) for p, a, v, _ in requests))

    assert [r.status_code for r in responses] == [status for *_, status in requests]
    assert len(await votes_on(board, popular)) == 40
    assert list((await votes_on(board, withdrawn)).values()) == [1]
    assert list((await votes_on(board, elsewhere)).values()) == [1]
    assert list((await votes_on(board, banned_on)).values()) == [1]
    assert list((await votes_on(board, fast_on)).values()) == [1]
    async with board.ctx.db.session() as session:
        stored = await session.get(Answer, popular)
    assert stored is not None and (stored.agree, stored.disagree) == (40, 0)


async def test_a_participant_cookie_of_one_event_cannot_vote_on_another(board: Board) -> None:
    other = board.tmp_path / "other.toml"
    other.write_text(
        '[event]\nslug = "autre-debat"\ntitle = "Un autre débat"\nplace = "Lille"\ndate = "2026-12-01"\n\n'
        '[[threads]]\nprompt = "Une autre question ?"\n'
    )
    await seed_file(board.ctx, other)
    event = await events.get_event(board.ctx, "autre-debat")
    [thread] = await events.list_threads(board.ctx, event.id)
    author = await board.phone(f"/e/autre-debat/t/{thread.id}")
    posted = await author.submit(f"/e/autre-debat/t/{thread.id}/answers", {"body": "Ici"}, htmx=True)
    assert posted.status_code == 201
    async with board.ctx.db.session() as session:
        answer_id = (await session.exec(select(Answer.id).where(Answer.body == "Ici"))).one()

    phone = await board.phone(f"/e/{SLUG}")
    stolen = phone.http.cookies.get(f"bp_{SLUG}")
    await phone.open("/e/autre-debat")
    phone.http.cookies.set("bp_autre-debat", stolen, domain="testserver.local", path="/e/autre-debat")
    response = await phone.submit(f"/e/autre-debat/answers/{answer_id}/vote", {"value": "1"}, htmx=True)
    assert response.status_code == 403
    assert "autre événement" in response.text
    assert await votes_on(board, answer_id) == {}


async def test_parallel_wrong_passwords_are_counted_before_they_are_checked(limited_board: Board) -> None:
    board = limited_board
    await board.staff("moderator")
    username = "victime"
    from board.domain import accounts

    await accounts.add_account(board.ctx, username, PASSWORD, event_slug=SLUG, role="moderator")
    guesser = await board.phone("/login")
    guesses = await asyncio.gather(
        *(guesser.submit("/login", {"username": username, "password": f"guess {n}"}) for n in range(30))
    )
    statuses = sorted(r.status_code for r in guesses)
    assert statuses == [401] * 5 + [429] * 25, "only the limit's worth of guesses reach the password check"
    assert all(int(r.headers["retry-after"]) >= 1 for r in guesses if r.status_code == 429)


def phone_from(board: Board, address: str) -> Phone:
    phone = Phone(board.app)
    phone.http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=board.app, client=(address, 40000)),
        base_url="http://testserver.local",
        follow_redirects=False,
    )
    board.phones.append(phone)
    return phone


async def test_guesses_from_one_address_do_not_lock_the_rightful_person_out(limited_board: Board) -> None:
    board = limited_board
    from board.domain import accounts

    await accounts.add_account(board.ctx, "camille", PASSWORD, event_slug=SLUG, role="moderator")
    attacker = phone_from(board, "127.0.0.66")
    await attacker.open("/login")
    for n in range(6):
        await attacker.submit("/login", {"username": "camille", "password": f"guess {n}"})
    assert (await attacker.submit("/login", {"username": "camille", "password": PASSWORD})).status_code == 429

    camille = phone_from(board, "127.0.0.7")
    await camille.open("/login")
    signed_in = await camille.submit("/login", {"username": "camille", "password": PASSWORD})
    assert signed_in.status_code == 303


async def test_a_successful_sign_in_forgets_the_earlier_mistakes(limited_board: Board) -> None:
    board = limited_board
    from board.domain import accounts

    await accounts.add_account(board.ctx, "dominique", PASSWORD, event_slug=SLUG, role="moderator")
    phone = await board.phone("/login")
    for round_ in range(2):
        for n in range(4):
            wrong = await phone.submit("/login", {"username": "dominique", "password": f"typo {n}"})
            assert wrong.status_code == 401, f"round {round_}"
        await phone.open("/login")
        right = await phone.submit("/login", {"username": "dominique", "password": PASSWORD})
        assert right.status_code == 303, f"round {round_}"
        await phone.open("/login")


async def test_a_burst_of_answers_from_one_phone_stops_at_the_limit(limited_board: Board) -> None:
    board = limited_board
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    responses = await asyncio.gather(
        *(
            phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": f"Réponse {n}"}, htmx=True)
            for n in range(30)
        )
    )
    assert sorted(r.status_code for r in responses) == [201] * 5 + [429] * 25
    async with board.ctx.db.session() as session:
        kept = (
            await session.exec(
                select(func.count())
                .select_from(Answer)
                .where(Answer.participant_id == await participant_of(phone))
            )
        ).one()
    assert kept == 5


async def test_a_repeated_answer_does_not_use_up_the_limit(limited_board: Board) -> None:
    board = limited_board
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    key = str(uuid.uuid4())
    same = await asyncio.gather(
        *(
            phone.submit(
                f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Une seule fois", "client_key": key}, htmx=True
            )
            for _ in range(10)
        )
    )
    assert {r.status_code for r in same} == {201}
    for n in range(4):
        fresh = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": f"Autre {n}"}, htmx=True)
        assert fresh.status_code == 201, "the repeats counted once"
    over = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "De trop"}, htmx=True)
    assert over.status_code == 429


async def _two_workers(tmp_path: Path, database: str) -> AsyncIterator[tuple[Board, Board]]:
    """Two apps, each with its own vote writer and pools, on one database and one Redis prefix."""
    shared: dict[str, Any] = {"redis": True, "redis_prefix": f"test:{uuid.uuid4().hex[:12]}:"}
    if database == "postgres":
        async with postgres_schema() as schema:
            shared.update(database_url=POSTGRES_URL, database_schema=schema)
            async for first in _start_board(tmp_path, **shared):
                async for second in _start_board(tmp_path, **shared):
                    yield first, second
    else:
        async for first in start_board(tmp_path, **shared):
            async for second in start_board(tmp_path, **shared):
                yield first, second


async def sql_votes(board: Board, thread_id: int) -> int:
    async with board.ctx.db.session() as session:
        return (
            await session.exec(
                select(func.count())
                .select_from(Vote)
                .join(Answer, col(Answer.id) == col(Vote.answer_id))
                .where(Answer.thread_id == thread_id)
            )
        ).one()


@pytest.mark.parametrize("database", DATABASES)
async def test_thread_totals_stay_exact_when_two_workers_count_one_thread(
    tmp_path: Path, database: str
) -> None:
    async for first, second in _two_workers(tmp_path, database):
        thread_id = (await first.thread_ids())[0]
        here = await post_answer(first, thread_id, "Voté sur le premier serveur")
        there = await post_answer(second, thread_id, "Voté sur le second serveur")
        crowds = {
            here: [await first.phone(f"/e/{SLUG}/t/{thread_id}") for _ in range(30)],
            there: [await second.phone(f"/e/{SLUG}/t/{thread_id}") for _ in range(30)],
        }
        for n, value in enumerate((1, 0, -1, 1, 0, 1)):
            responses = await asyncio.gather(
                *(vote(p, answer, value) for answer, phones in crowds.items() for p in phones[n % 3 :])
            )
            assert {r.status_code for r in responses} == {200}
            truth = await sql_votes(first, thread_id)
            for board in (first, second):
                live = (await board.ctx.live.counters.get_threads([thread_id]))[thread_id]
                assert live.votes == truth, f"round {n}: the live total follows SQL"


async def test_start_up_repairs_thread_totals_that_disagree_with_sql(tmp_path: Path) -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    async for board in start_board(tmp_path, redis=True, redis_prefix=prefix):
        thread_id = (await board.thread_ids())[0]
        answer = await post_answer(board, thread_id, "Une réponse votée")
        phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
        assert (await vote(phone, answer, 1)).status_code == 200
        await board.ctx.live.counters.set_threads({thread_id: ThreadCounts(answers=7, pending=0, votes=99)})
        assert (await phone.http.get(f"/api/events/{SLUG}")).json()["threads"][0]["votes"] == 99
        async for restarted in start_board(tmp_path, redis=True, redis_prefix=prefix):
            reader = await restarted.phone(None)
            deadline = time.monotonic() + 10
            while True:
                summary = (await reader.http.get(f"/api/events/{SLUG}")).json()["threads"][0]
                if (summary["votes"], summary["answers"]) == (1, 1) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            assert (summary["votes"], summary["answers"]) == (1, 1)


async def test_the_csv_export_neutralises_formulas_and_keeps_numbers(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    formulas = ["=cmd|' /C calc'!A0", "\t=1+1", "+33 6 12", "@SUM(A1)", "-2+3"]
    for body in formulas:
        await post_answer(board, thread_id, body)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    for body in ("=cmd|' /C calc'!A0",):
        async with board.ctx.db.session() as session:
            answer_id = (await session.exec(select(Answer.id).where(Answer.body == body))).one()
        await vote(phone, answer_id, -1)
    moderator = await board.staff("moderator")
    text = (await moderator.open(f"/mod/{SLUG}/export.csv")).text
    rows = list(csv.DictReader(io.StringIO(text)))
    answers = {row["answer"] for row in rows}
    assert answers == {"'=cmd|' /C calc'!A0", "'=1+1", "'+33 6 12", "'@SUM(A1)", "'-2+3"}
    for row in rows:
        assert row["agree"].isdigit() and row["disagree"].isdigit(), "counts stay numbers"
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values())


async def test_withheld_answers_cannot_be_merged_and_merged_texts_can_be_withheld(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    target = await post_answer(board, thread_id, "La réponse qui reste")
    hidden = await post_answer(board, thread_id, "Mon numéro est le 06 12 34 56 78")
    duplicate = await post_answer(board, thread_id, "La même idée, autrement dit")
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    hide = {"action": "hide", "reason": "personal-data"}
    assert (await moderator.submit(f"/mod/{SLUG}/answers/{hidden}", hide)).status_code == 303
    merge = await moderator.submit(f"/mod/{SLUG}/answers/{hidden}", {"action": "merge", "into": str(target)})
    assert merge.status_code == 409

    merged = await moderator.submit(
        f"/mod/{SLUG}/answers/{duplicate}", {"action": "merge", "into": str(target)}
    )
    assert merged.status_code == 303
    reader = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    [shown] = (await reader.http.get(f"/api/threads/{thread_id}/answers")).json()
    assert shown["merged"] == ["La même idée, autrement dit"]
    assert "06 12 34 56 78" not in (await reader.open(f"/e/{SLUG}/t/{thread_id}")).text

    withdrawn = await moderator.submit(f"/mod/{SLUG}/answers/{duplicate}", hide)
    assert withdrawn.status_code == 303
    [shown] = (await reader.http.get(f"/api/threads/{thread_id}/answers")).json()
    assert shown["merged"] == []
    assert "autrement dit" not in (await reader.open(f"/e/{SLUG}/t/{thread_id}")).text


async def test_pending_answers_cannot_be_merged(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    target = await post_answer(board, thread_id, "Publiée avant")
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    assert (await moderator.submit(f"/mod/{SLUG}/settings", {"moderation": "pre"})).status_code == 303
    author = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    posted = await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "En attente"}, htmx=True)
    assert posted.status_code == 202
    async with board.ctx.db.session() as session:
        pending = (await session.exec(select(Answer.id).where(Answer.body == "En attente"))).one()
    merge = await moderator.submit(f"/mod/{SLUG}/answers/{pending}", {"action": "merge", "into": str(target)})
    assert merge.status_code == 409
    [shown] = (await author.http.get(f"/api/threads/{thread_id}/answers")).json()
    assert shown["merged"] == []


async def test_one_persons_vote_cannot_be_read_from_a_small_segment(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    answer = await post_answer(board, thread_id, "Une réponse presque unanime")
    for segment, value in [("citoyen", 1)] * 5 + [("agent public", -1)]:
        phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
        await phone.submit(f"/e/{SLUG}/profile", {"segment": segment})
        assert (await vote(phone, answer, value)).status_code == 200
    [row] = (await phone.http.get(f"/api/threads/{thread_id}/answers")).json()
    assert (row["agree"], row["disagree"]) == (5, 1)
    assert row["segments"] == {
        "citoyen": {"agree": 5, "disagree": 0},
        "étudiant": None,
        "agent public": None,
    }
    screen = (await phone.open(f"/e/{SLUG}/t/{thread_id}/screen")).text
    assert screen.count("pas assez de votes") == 2
    assert "<small>(1)</small>" not in screen and "<small>(5)</small>" in screen


@pytest.mark.parametrize("database", DATABASES)
async def test_the_participant_count_stays_exact_when_two_workers_welcome_newcomers(
    tmp_path: Path, database: str
) -> None:
    async for first, second in _two_workers(tmp_path, database):
        event = await events.get_event(first.ctx, SLUG)

        async def newcomer(board: Board) -> None:
            phone = await board.phone()
            response = await phone.submit(f"/e/{SLUG}/profile", {"segment": "citoyen", "name": ""})
            assert response.status_code == 303

        await asyncio.gather(*(newcomer(board) for board in (first, second) for _ in range(30)))
        async with first.ctx.db.session() as session:
            truth = (
                await session.exec(
                    select(func.count()).select_from(Participant).where(Participant.event_id == event.id)
                )
            ).one()
        assert truth == 60
        assert await first.ctx.live.counters.get_participants(event.id) == truth


async def test_moderators_can_withhold_a_merged_text_from_the_board_and_bring_it_back(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    target = await post_answer(board, thread_id, "La réponse qui reste")
    merged = await post_answer(board, thread_id, "Rappelez-moi au 06 12 34 56 78")
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    into = {"action": "merge", "into": str(target)}
    assert (await moderator.submit(f"/mod/{SLUG}/answers/{merged}", into)).status_code == 303
    page = (await moderator.open(f"/mod/{SLUG}")).text
    card = page[page.index(f'id="a{merged}"') :]
    assert 'value="hide"' in card[: card.index("</div>")], "the merged text has its own hide form"

    hide = {"action": "hide", "reason": "personal-data"}
    assert (await moderator.submit(f"/mod/{SLUG}/answers/{merged}", hide)).status_code == 303
    reader = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    assert "06 12 34 56 78" not in (await reader.open(f"/e/{SLUG}/t/{thread_id}")).text
    page = (await moderator.open(f"/mod/{SLUG}")).text
    card = page[page.index(f'id="a{merged}"') :]
    assert 'value="restore"' in card[: card.index("</div>")]

    assert (await moderator.submit(f"/mod/{SLUG}/answers/{merged}", {"action": "restore"})).status_code == 303
    [shown] = (await reader.http.get(f"/api/threads/{thread_id}/answers")).json()
    assert shown["merged"] == ["Rappelez-moi au 06 12 34 56 78"]

"""Writing answers: published at once, idempotent by client_key, refused with a readable reason."""

import asyncio
import uuid

from sqlmodel import col, select, update

from board.models import Answer, Event, Thread
from tests.conftest import SLUG, Board


async def stored_answers(board: Board) -> list[Answer]:
    async with board.ctx.db.session() as session:
        return list((await session.exec(select(Answer).order_by(col(Answer.id)))).all())


async def test_htmx_answer_is_published_as_a_201_fragment_with_a_fresh_form(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    response = await phone.submit(
        f"/e/{SLUG}/t/{thread_id}/answers",
        {"body": "  Oui, si on évalue.  ", "client_key": str(uuid.uuid4())},
        htmx=True,
    )
    assert response.status_code == 201
    assert "<html" not in response.text
    assert "Oui, si on évalue." in response.text
    assert 'hx-swap-oob="true"' in response.text and 'id="answer-form"' in response.text
    [answer] = await stored_answers(board)
    assert answer.body == "Oui, si on évalue."
    assert answer.status == "published"


async def test_plain_form_answer_redirects_and_shows_on_the_thread(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    response = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Sans JavaScript"})
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/e/{SLUG}/t/{thread_id}")
    page = await phone.open(f"/e/{SLUG}/t/{thread_id}")
    assert "Sans JavaScript" in page.text
    other = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    assert "Sans JavaScript" in (await other.open(f"/e/{SLUG}/t/{thread_id}")).text


async def test_empty_and_too_long_answers_are_422_and_nothing_is_stored(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    empty = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "   "})
    assert empty.status_code == 422
    assert "Votre réponse est vide" in empty.text
    too_long = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "é" * 501}, htmx=True)
    assert too_long.status_code == 422
    assert "501 caractères" in too_long.text
    assert "é" * 501 in too_long.text, "the draft is given back, not lost"
    assert too_long.headers["hx-retarget"] == "#answer-form", "the form is replaced, not the answer list"
    exactly = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "é" * 500}, htmx=True)
    assert exactly.status_code == 201
    assert len(await stored_answers(board)) == 1


async def test_a_repeated_client_key_returns_the_first_answer_never_a_second(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    key = str(uuid.uuid4())
    first = await phone.submit(
        f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Une fois", "client_key": key}, htmx=True
    )
    again = await phone.submit(
        f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Deux fois", "client_key": key}, htmx=True
    )
    assert first.status_code == again.status_code == 201
    assert "Une fois" in again.text and "Deux fois" not in again.text
    assert [a.body for a in await stored_answers(board)] == ["Une fois"]


async def test_a_client_key_that_is_not_a_uuid_is_422(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    response = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "ok", "client_key": "nope"})
    assert response.status_code == 422
    assert await stored_answers(board) == []


async def test_a_script_answer_is_shown_as_text(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "<script>alert('x')</script>"})
    page = await phone.open(f"/e/{SLUG}/t/{thread_id}")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text


async def test_unknown_thread_is_404(board: Board) -> None:
    phone = await board.phone()
    assert (await phone.open(f"/e/{SLUG}/t/99999")).status_code == 404
    response = await phone.submit(f"/e/{SLUG}/t/99999/answers", {"body": "perdu"})
    assert response.status_code == 404
    assert (await phone.submit("/e/nope/t/1/answers", {"body": "perdu"})).status_code == 404


async def test_a_closed_thread_refuses_answers_with_409(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    async with board.ctx.db.session() as session:
        await session.exec(update(Thread).where(col(Thread.id) == thread_id).values(status="closed"))
        await session.commit()
    response = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "trop tard"}, htmx=True)
    assert response.status_code == 409
    assert "fermé" in response.text
    assert await stored_answers(board) == []


async def test_pre_moderation_answer_is_202_and_hidden_from_others(board: Board) -> None:
    async with board.ctx.db.session() as session:
        await session.exec(update(Event).where(col(Event.slug) == SLUG).values(moderation="pre"))
        await session.commit()
    thread_id = (await board.thread_ids())[0]
    author = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    response = await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "À valider"}, htmx=True)
    assert response.status_code == 202
    assert "En attente de validation" in response.text
    assert "À valider" in (await author.open(f"/e/{SLUG}/t/{thread_id}")).text
    other = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    assert "À valider" not in (await other.open(f"/e/{SLUG}/t/{thread_id}")).text


async def test_answers_are_rate_limited_per_participant_only(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    fast = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    for n in range(5):
        response = await fast.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": f"idée {n}"}, htmx=True)
        assert response.status_code == 201
    refused = await fast.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "encore"}, htmx=True)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    neighbour = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    ok = await neighbour.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "moi aussi"}, htmx=True)
    assert ok.status_code == 201
    assert len(await stored_answers(board)) == 6


async def test_a_script_posting_unencoded_utf8_keeps_its_accents(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    response = await phone.http.post(
        f"/e/{SLUG}/t/{thread_id}/answers",
        content="body=Évaluer, c'est décider « ensemble »&client_key=".encode(),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-csrftoken": phone.csrf,
            "HX-Request": "true",
        },
    )
    assert response.status_code == 201, response.text
    [answer] = await stored_answers(board)
    assert answer.body == "Évaluer, c'est décider « ensemble »"


async def test_a_form_that_is_not_utf8_is_refused_and_nothing_is_stored(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    response = await phone.http.post(
        f"/e/{SLUG}/t/{thread_id}/answers",
        content="body=Évaluer".encode("latin-1"),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-csrftoken": phone.csrf,
            "HX-Request": "true",
        },
    )
    assert response.status_code == 422
    assert "UTF-8" in response.text
    assert await stored_answers(board) == []


async def test_one_client_key_posted_twice_at_once_stores_one_answer_both_responses_show(
    board: Board,
) -> None:
    """A double tap on a slow network: the same submission arrives twice at the same moment."""
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    key = str(uuid.uuid4())
    first, second = await asyncio.gather(
        *(
            phone.submit(
                f"/e/{SLUG}/t/{thread_id}/answers", {"body": "En double", "client_key": key}, htmx=True
            )
            for _ in range(2)
        )
    )
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    stored = await stored_answers(board)
    assert [(a.body, a.client_key) for a in stored] == [("En double", key)]
    for response in (first, second):
        assert f'id="a{stored[0].id}"' in response.text, "each response carries the one stored answer"
    listed = await phone.http.get(f"/api/threads/{thread_id}/answers")
    assert [a["body"] for a in listed.json()] == ["En double"], "the thread shows it once"

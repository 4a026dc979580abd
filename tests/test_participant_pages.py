"""Joining an event: the thread list, the participant cookie and the optional profile."""

import asyncio
import re

from sqlmodel import select

from board.domain.participants import new_participant_id
from board.models import Answer, Event, Participant
from board.web.identity import cookie_name, sign
from tests.conftest import SLUG, Board

THREAD_LINK = re.compile(rf'href="/e/{SLUG}/t/(\d+)"')

PROMPTS = [
    "L&#39;expérimentation et l&#39;action publique sont-elles compatibles ?",
    "Comment le numérique bouscule la notion de service public ?",
    "Que sont ces nouveaux lieux (&#34;Fablabs&#34;, &#34;tiers lieux&#34;, &#34;Lab&#34;) ?",
    "Quels liens possibles entre le mouvement des communs et l&#39;action publique ?",
]


async def test_home_lists_the_event_and_a_join_form(board: Board) -> None:
    phone = await board.phone(None)
    response = await phone.open("/")
    assert response.status_code == 200
    assert "Vers une République collaborative" in response.text
    assert 'action="/join"' in response.text


async def test_join_by_code_redirects_to_the_event(board: Board) -> None:
    phone = await board.phone(None)
    response = await phone.open(f"/join?code={SLUG.upper()}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/e/{SLUG}"
    unknown = await phone.open("/join?code=nope")
    assert unknown.status_code == 404
    assert "Aucun événement ne porte ce code." in unknown.text


async def test_event_page_lists_the_four_prompts_verbatim_in_order(board: Board) -> None:
    phone = await board.phone(None)
    response = await phone.open(f"/e/{SLUG}")
    assert response.status_code == 200
    positions = [response.text.index(p) for p in PROMPTS]
    assert positions == sorted(positions)
    assert "gouttes d" not in response.text, "the draft fifth prompt stays hidden"


async def test_first_visit_sets_a_signed_httponly_lax_cookie(board: Board) -> None:
    phone = await board.phone(None)
    response = await phone.open(f"/e/{SLUG}")
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"bp_{SLUG}="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert f"Path=/e/{SLUG}" in cookie
    again = await phone.open(f"/e/{SLUG}")
    assert not any(c.startswith(f"bp_{SLUG}=") for c in again.headers.get_list("set-cookie"))
    async with board.ctx.db.session() as session:
        assert (await session.exec(select(Participant))).all() == [], "a visit stores nobody"


async def test_a_forged_cookie_makes_a_new_participant(board: Board) -> None:
    phone = await board.phone(None)
    phone.http.cookies.set(f"bp_{SLUG}", "1.deadbeef.forged", path=f"/e/{SLUG}")
    response = await phone.open(f"/e/{SLUG}")
    assert response.status_code == 200
    assert any(c.startswith(f"bp_{SLUG}=") for c in response.headers.get_list("set-cookie"))


async def test_unknown_event_is_an_html_404(board: Board) -> None:
    phone = await board.phone(None)
    response = await phone.open("/e/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Cet événement n&#39;existe pas." in response.text


async def test_profile_without_javascript_redirects_and_is_remembered(board: Board) -> None:
    phone = await board.phone()
    response = await phone.submit(f"/e/{SLUG}/profile", {"segment": "agent public", "name": "Camille"})
    assert response.status_code == 303
    page = await phone.open(f"/e/{SLUG}")
    assert 'value="agent public" checked' in page.text
    assert 'value="Camille"' in page.text


async def test_profile_with_htmx_returns_the_form_fragment(board: Board) -> None:
    phone = await board.phone()
    response = await phone.submit(f"/e/{SLUG}/profile", {"segment": "étudiant", "name": ""}, htmx=True)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "Profil enregistré." in response.text


async def test_profile_rejects_an_unknown_segment_and_a_long_name(board: Board) -> None:
    phone = await board.phone()
    bad_segment = await phone.submit(f"/e/{SLUG}/profile", {"segment": "ministre", "name": ""})
    assert bad_segment.status_code == 422
    assert "Choisissez un profil" in bad_segment.text
    long_name = await phone.submit(f"/e/{SLUG}/profile", {"segment": "", "name": "x" * 41}, htmx=True)
    assert long_name.status_code == 422
    assert "40 caractères" in long_name.text


async def test_a_post_without_csrf_token_is_refused(board: Board) -> None:
    phone = await board.phone()
    response = await phone.submit(f"/e/{SLUG}/profile", {"segment": ""}, csrf=False)
    assert response.status_code == 403
    assert "jeton de sécurité" in response.text
    assert response.headers["content-type"].startswith("text/html")


async def test_healthz_is_bare_plain_text(board: Board) -> None:
    phone = await board.phone(None)
    response = await phone.http.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.text == "ok"
    assert "set-cookie" not in response.headers
    assert "content-encoding" not in response.headers
    ready = await phone.http.get("/readyz")
    assert ready.status_code == 200


async def test_two_tabs_of_one_new_participant_store_nothing_then_answer_as_one(board: Board) -> None:
    """Two tabs opened together with a cookie signed for an id the database does not hold yet."""
    async with board.ctx.db.session() as session:
        event = (await session.exec(select(Event).where(Event.slug == SLUG))).one()
    assert event.id is not None
    participant_id = new_participant_id()
    cookie = sign(board.ctx.settings.secret_key, event.id, participant_id)
    phones = [await board.phone(None) for _ in range(2)]
    for phone in phones:
        phone.http.cookies.set(cookie_name(SLUG), cookie, domain="testserver.local", path=f"/e/{SLUG}")
    pages = await asyncio.gather(*(phone.open(f"/e/{SLUG}") for phone in phones))
    assert [p.status_code for p in pages] == [200, 200], [p.text[:300] for p in pages]
    async with board.ctx.db.session() as session:
        rows = (await session.exec(select(Participant).where(Participant.event_id == event.id))).all()
    assert rows == [], "a visit stores nobody"
    thread = THREAD_LINK.search(pages[0].text)
    assert thread, "the event page lists its threads"
    answered = await asyncio.gather(
        *(
            p.submit(f"/e/{SLUG}/t/{thread.group(1)}/answers", {"body": f"Moi {n}"}, htmx=True)
            for n, p in enumerate(phones)
        )
    )
    assert [a.status_code for a in answered] == [201, 201], "both tabs are the same participant"
    async with board.ctx.db.session() as session:
        authors = (await session.exec(select(Answer.participant_id))).all()
        rows = (await session.exec(select(Participant).where(Participant.event_id == event.id))).all()
    assert authors == [participant_id, participant_id]
    assert [r.id for r in rows] == [participant_id]

"""Joining from the back of the room: every open event has a six-digit code, unique among open events,
typed at /join or on the home page, shown beside the projector's QR code and on the join slide."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from sqlmodel import select

from board.domain.join_codes import give_missing_codes
from board.domain.seeding import seed_file
from board.models import Event, EventStatus
from tests.conftest import SLUG, Board


async def code_of(board: Board, slug: str = SLUG) -> str:
    phone = await board.phone(None)
    data = (await phone.http.get(f"/api/events/{slug}")).json()
    return str(data["code"])


async def test_the_api_gives_the_open_event_its_code_status_and_participants(board: Board) -> None:
    person = await board.phone()
    assert (await person.submit(f"/e/{SLUG}/profile", {"segment": "", "name": ""})).status_code == 303
    await board.phone()
    viewer = await board.phone(None)
    data = (await viewer.http.get(f"/api/events/{SLUG}")).json()
    assert data["status"] == "open"
    assert re.fullmatch(r"[0-9]{6}", data["code"])
    assert data["participants"] == 1
    again = (await viewer.http.get(f"/api/events/{SLUG}")).json()
    assert again["code"] == data["code"], "a code does not change from one read to the next"


async def test_the_code_typed_at_join_leads_to_the_event(board: Board) -> None:
    code = await code_of(board)
    phone = await board.phone(None)
    form = await phone.open("/join")
    assert form.status_code == 200 and 'action="/join"' in form.text and 'name="code"' in form.text
    for typed in (code, f"{code[:3]} {code[3:]}", f" {code[:3]}-{code[3:]} "):
        joined = await phone.http.get("/join", params={"code": typed})
        assert joined.status_code == 303 and joined.headers["location"] == f"/e/{SLUG}", typed
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for typed in (wrong, "12345", "1234567", "\x00" + code, "9" * 5000, "\u200b" * 6):
        refused = await phone.http.get("/join", params={"code": typed})
        assert refused.status_code == 404, typed
        assert "Aucun événement ne porte ce code." in refused.text
        assert 'action="/join"' in refused.text, "the form is there to try again"
    english = await phone.http.get("/join", params={"code": wrong}, headers={"Accept-Language": "en"})
    assert "No event has this code." in english.text


async def test_codes_are_unique_among_open_events_and_given_at_start_up(board: Board) -> None:
    """Events without a code, or sharing one, get a fresh one; two workers starting at once agree."""
    own = await code_of(board)
    async with board.ctx.db.writing() as session:
        for n in range(12):
            session.add(Event(slug=f"open-{n}", title=f"Ouvert {n}", code=own if n % 3 == 0 else None))
        session.add(Event(slug="closed-one", title="Fermé", status=EventStatus.CLOSED, code=own))
        session.add(Event(slug="draft-one", title="Brouillon", status=EventStatus.DRAFT))
        await session.commit()
    await asyncio.gather(*(give_missing_codes(board.ctx) for _ in range(5)))
    async with board.ctx.db.session() as session:
        events = {e.slug: e for e in await session.exec(select(Event))}
    codes = [e.code for e in events.values() if e.status == EventStatus.OPEN]
    assert all(c and re.fullmatch(r"[0-9]{6}", c) for c in codes)
    assert len(set(codes)) == len(codes), "two open events share a code"
    assert events["draft-one"].code is None
    assert events[SLUG].code == own, "the code already shown in the room is kept"
    phone = await board.phone(None)
    joined = await phone.http.get("/join", params={"code": own})
    assert joined.headers["location"] == f"/e/{SLUG}", "a closed event's old code leads nowhere"
    assert await give_missing_codes(board.ctx) == 0


async def test_a_seeded_event_has_a_code_at_once(board: Board, tmp_path: Path) -> None:
    seed = tmp_path / "atelier.toml"
    seed.write_text(
        '[event]\nslug = "atelier"\ntitle = "Atelier"\n\n[[threads]]\nprompt = "Et maintenant ?"\n'
    )
    await seed_file(board.ctx, seed)
    code = await code_of(board, "atelier")
    assert re.fullmatch(r"[0-9]{6}", code) and code != await code_of(board)
    await seed_file(board.ctx, seed)
    assert await code_of(board, "atelier") == code, "seeding again keeps the code"


async def test_the_screen_shows_the_code_beside_the_qr_and_the_join_slide_shows_only_how_to_join(
    board: Board,
) -> None:
    code = await code_of(board)
    thread_id = (await board.thread_ids())[0]
    author = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Une réponse sur l'écran"}, htmx=True)
    viewer = await board.phone(None)
    screen = (await viewer.open(f"/e/{SLUG}/screen")).text
    aside = screen[screen.index('<aside class="join"') : screen.index("</aside>")]
    assert f"<strong>{code[:3]} {code[3:]}</strong>" in aside and "qr.svg" in aside
    assert "Une réponse sur l&#39;écran" in screen
    slide = await viewer.open(f"/e/{SLUG}/screen?show=join")
    assert slide.status_code == 200
    assert f"<strong>{code[:3]} {code[3:]}</strong>" in slide.text and f"/e/{SLUG}/qr.svg" in slide.text
    assert (
        "<span>testserver.local/</span><wbr><span>e/</span><wbr><span>republique-collaborative</span>"
        in slide.text
    )
    assert "Une réponse sur" not in slide.text and "bar-row" not in slide.text
    unknown_show = await viewer.open(f"/e/{SLUG}/screen?show=nothing")
    assert unknown_show.status_code == 200 and "Une réponse sur l&#39;écran" in unknown_show.text

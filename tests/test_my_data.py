"""The privacy notice, and a participant's own data: see it, download it, erase it."""

from __future__ import annotations

import json
import re

from sqlmodel import col, select

from board.domain.record import verify
from board.models import Answer, AuditEntry, Event, ForgottenParticipant, Participant, Vote
from tests.conftest import SLUG, Board, Phone


async def post(phone: Phone, thread_id: int, body: str) -> int:
    response = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": body}, htmx=True)
    assert response.status_code == 201, response.text
    found = re.search(r'id="a(\d+)"', response.text)
    assert found
    return int(found.group(1))


async def vote(phone: Phone, answer_id: int, value: int) -> None:
    response = await phone.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": str(value)}, htmx=True)
    assert response.status_code == 200, response.text


async def counts(phone: Phone, thread_id: int) -> dict[int, tuple[int, int]]:
    listed = (await phone.http.get(f"/api/threads/{thread_id}/answers")).json()
    return {a["id"]: (a["agree"], a["disagree"]) for a in listed}


async def test_the_notice_names_who_is_responsible_and_how_long_in_french_and_english(board: Board) -> None:
    async with board.ctx.db.writing() as session:
        event = (await session.exec(select(Event).where(Event.slug == SLUG))).one()
        event.responsible, event.contact, event.retention_days = "Ville de Lille", "dpo@lille.example", 90
        session.add(event)
        await session.commit()
    phone = await board.phone(None)
    french = (await phone.open(f"/e/{SLUG}/privacy")).text
    for said in (
        "Ville de Lille",
        "dpo@lille.example",
        "90 jours",
        "CNIL",
        "DPO",
        "après votre décès",
        f"/e/{SLUG}/me.json",
        "Effacement",
    ):
        assert said in french, said
    english = (await phone.open(f"/e/{SLUG}/privacy", headers={"Accept-Language": "en"})).text
    assert "Up to 90 days after the event closes" in english and "jours" not in english
    page = (await phone.open(f"/e/{SLUG}")).text
    assert page.index(f'href="/e/{SLUG}/privacy"') < page.index('id="profile"'), "shown before the form"
    thread_id = (await board.thread_ids())[0]
    for other in (f"/e/{SLUG}/t/{thread_id}", f"/e/{SLUG}/results", f"/e/{SLUG}/me", f"/e/{SLUG}/me/erase"):
        assert f'href="/e/{SLUG}/privacy"' in (await phone.open(other)).text, other


async def test_my_page_shows_my_profile_answers_with_their_state_and_votes(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    me = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    await me.submit(f"/e/{SLUG}/profile", {"segment": "agent public", "name": "Zoé"})
    kept = await post(me, thread_id, "Des tiers-lieux dans chaque quartier")
    hidden = await post(me, thread_id, "Mon numéro : 06 12 34 56 78")
    other = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    theirs = await post(other, thread_id, "Un budget participatif")
    await vote(me, theirs, -1)
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    await moderator.submit(f"/mod/{SLUG}/answers/{hidden}", {"action": "hide", "reason": "personal-data"})

    page = (await me.open(f"/e/{SLUG}/me")).text
    for said in ("Zoé", "agent public", "Des tiers-lieux dans chaque quartier", "Un budget participatif"):
        assert said in page, said
    assert "Publiée" in page and "Masquée · motif : données personnelles" in page
    assert "personal-data" not in page and "published" not in page, "states and reasons in words"
    english = (await me.open(f"/e/{SLUG}/me", headers={"Accept-Language": "en"})).text
    assert "Published" in english and "Hidden · reason: personal data" in english
    download = await me.http.get(f"/e/{SLUG}/me.json")
    assert download.headers["content-type"] == "application/json; charset=utf-8"
    assert "attachment" in download.headers["content-disposition"]
    assert "Zoé".encode() in download.content and b"\\u00e9" not in download.content
    data = json.loads(download.content.decode("utf-8"))
    assert (data["segment"], data["name"]) == ("agent public", "Zoé")
    assert [(a["id"], a["status"], a["reason"]) for a in data["answers"]] == [
        (kept, "published", None),
        (hidden, "hidden", "personal-data"),
    ]
    assert [(v["answer"], v["value"]) for v in data["votes"]] == [(theirs, -1)]
    stranger = await board.phone(None)
    nothing = await stranger.http.get(f"/e/{SLUG}/me.json")
    assert nothing.json()["participant"] is None and "Zoé" not in nothing.text


async def test_erasing_takes_exactly_my_votes_out_of_the_counts_and_unlinks_my_answers(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    author = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    first = await post(author, thread_id, "Expérimenter avant de généraliser")
    second = await post(author, thread_id, "Mesurer ce qui marche")
    me = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    mine = await post(me, thread_id, "Associer les agents dès le début")
    others = [await board.phone(f"/e/{SLUG}/t/{thread_id}") for _ in range(3)]
    for phone in others:
        await vote(phone, first, 1)
        await vote(phone, mine, -1)
    await vote(me, first, 1)
    await vote(me, second, -1)
    assert (await counts(me, thread_id))[first] == (4, 0)

    confirm = await me.open(f"/e/{SLUG}/me/erase")
    assert confirm.status_code == 200 and 'action="/e/' in confirm.text and 'name="answers"' in confirm.text
    erased = await me.submit(f"/e/{SLUG}/me/erase", {})
    assert erased.status_code == 303 and erased.headers["location"] == f"/e/{SLUG}/me?erased=1"

    after = await counts(author, thread_id)
    assert after[first] == (3, 0) and after[second] == (0, 0), "my votes left the counts at once"
    assert after[mine] == (0, 3), "my answer stays published, with the others' votes"
    async with board.ctx.db.session() as session:
        people = (await session.exec(select(Participant.id))).all()
        answer = await session.get(Answer, mine)
        audit = (await session.exec(select(AuditEntry).where(AuditEntry.action == "erase"))).all()
    assert answer is not None and answer.participant_id.startswith("unlinked-")
    assert len(people) == 5, "the author, three voters and the unlinked row; not me"
    assert [(a.actor, a.target) for a in audit] == [("participant", "")], "that it happened, not what"
    assert "Rien n'est enregistré" in (await me.open(f"/e/{SLUG}/me?erased=1")).text
    api = (await author.http.get(f"/api/events/{SLUG}")).json()
    assert api["participants"] == 4


async def test_erasing_with_answers_deletes_them_and_a_stale_cookie_starts_afresh(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    other = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    theirs = await post(other, thread_id, "Ouvrir les données")
    me = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    mine = await post(me, thread_id, "Mon idée à retirer")
    await vote(me, theirs, 1)
    await vote(other, mine, 1)
    stale = me.http.cookies.get(f"bp_{SLUG}")
    async with board.ctx.db.session() as session:
        my_id = (await session.exec(select(Answer.participant_id).where(Answer.id == mine))).one()
    chained = (await other.http.get(f"/e/{SLUG}/record.json")).json()

    erased = await me.submit(f"/e/{SLUG}/me/erase", {"answers": "1"})
    assert erased.status_code == 303
    assert mine not in await counts(other, thread_id)
    assert (await counts(other, thread_id))[theirs] == (0, 0)
    record = (await other.http.get(f"/e/{SLUG}/record.json")).json()
    mine_then, mine_now = ([e for e in r["entries"] if e.get("answer") == mine] for r in (chained, record))
    assert mine_then[0]["text"] == "Mon idée à retirer" and "text" not in mine_now[0]
    assert [{k: v for k, v in e.items() if k != "text"} for e in record["entries"]] == [
        {k: v for k, v in e.items() if k != "text"} for e in chained["entries"]
    ], "erasure appends nothing and changes nothing but the text it withholds"
    assert record["head"] == chained["head"]
    assert verify(record) == len(record["entries"])

    me.http.cookies.set(f"bp_{SLUG}", stale or "", path=f"/e/{SLUG}")
    again = await me.submit(f"/e/{SLUG}/answers/{theirs}/vote", {"value": "1"}, htmx=True)
    assert again.status_code == 200, again.text
    assert any(c.startswith(f"bp_{SLUG}=") for c in again.headers.get_list("set-cookie")), "a new id"
    me.http.cookies.set(f"bp_{SLUG}", stale or "", path=f"/e/{SLUG}")
    answered = await me.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Je reviens"}, htmx=True)
    assert answered.status_code == 201
    async with board.ctx.db.session() as session:
        people = (await session.exec(select(Participant.id))).all()
        answers = (await session.exec(select(Answer.body).order_by(col(Answer.id)))).all()
        voters = (await session.exec(select(Vote.participant_id))).all()
        forgotten = (await session.exec(select(ForgottenParticipant))).all()
    assert my_id not in people and my_id not in voters, "the erased id never comes back"
    assert answers == ["Ouvrir les données", "Je reviens"]
    assert len(forgotten) == 1 and my_id not in forgotten[0].id_sha256


async def test_erasing_needs_the_form_token_and_erases_only_the_sender(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    me = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    await post(me, thread_id, "Je reste")
    forged = await me.submit(f"/e/{SLUG}/me/erase", {}, csrf=False)
    assert forged.status_code == 403
    stranger = await board.phone(f"/e/{SLUG}")
    assert (await stranger.submit(f"/e/{SLUG}/me/erase", {"answers": "1"})).status_code == 303
    assert "Je reste" in (await me.open(f"/e/{SLUG}/me")).text


async def test_fifty_erasures_at_once_erase_once(board: Board) -> None:
    """The same confirmation sent fifty times at once: one erasure, counts exact, one audit entry."""
    import asyncio

    thread_id = (await board.thread_ids())[0]
    other = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    theirs = await post(other, thread_id, "Une réponse à garder")
    me = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    await post(me, thread_id, "Une réponse à délier")
    await vote(me, theirs, 1)
    await vote(other, theirs, 1)
    await me.open(f"/e/{SLUG}/me/erase")
    responses = await asyncio.gather(*(me.submit(f"/e/{SLUG}/me/erase", {}) for _ in range(50)))
    assert {r.status_code for r in responses} == {303}
    assert (await counts(other, thread_id))[theirs] == (1, 0)
    async with board.ctx.db.session() as session:
        audit = (await session.exec(select(AuditEntry).where(AuditEntry.action == "erase"))).all()
    assert len(audit) == 1
    assert (await other.http.get(f"/api/events/{SLUG}")).json()["participants"] == 1
    assert (await me.http.get("/e/nope/record.json")).status_code == 404

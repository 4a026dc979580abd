"""The projector and the results: prompt, join QR, counters, ranked bars, segments and bridges."""

from sqlmodel import select

from board.models import Event
from tests.conftest import SLUG, Board, Phone


async def voters_in(board: Board, thread_id: int, segments: list[str]) -> list[Phone]:
    phones = []
    for segment in segments:
        phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
        await phone.submit(f"/e/{SLUG}/profile", {"segment": segment})
        phones.append(phone)
    return phones


async def post(board: Board, thread_id: int, body: str) -> int:
    author = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": body}, htmx=True)
    rows = (await author.http.get(f"/api/threads/{thread_id}/answers?sort=new")).json()
    return int(next(r["id"] for r in rows if r["body"] == body))


async def test_screen_shows_the_thread_on_screen_with_qr_and_counters(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    await post(board, thread_id, "Évaluer avant de généraliser")
    viewer = await board.phone(None)
    page = await viewer.open(f"/e/{SLUG}/screen")
    assert page.status_code == 200
    assert "L&#39;expérimentation et l&#39;action publique sont-elles compatibles ?" in page.text
    assert f'src="/e/{SLUG}/qr.svg"' in page.text
    assert f"testserver.local/e/{SLUG}" in page.text
    assert "Évaluer avant de généraliser" in page.text
    assert f'id="t{thread_id}-answers">1</b> réponse<' in page.text
    assert f'id="t{thread_id}-votes">0</b> vote<' in page.text
    english = await viewer.http.get(f"/e/{SLUG}/screen", headers={"Accept-Language": "en"})
    assert f'id="t{thread_id}-answers">1</b> answer<' in english.text
    await post(board, thread_id, "Mesurer ce qui change")
    again = await viewer.open(f"/e/{SLUG}/screen")
    assert f'id="t{thread_id}-answers">2</b> réponses<' in again.text
    qr = await viewer.http.get(f"/e/{SLUG}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.text.startswith("<svg") and f"http://testserver.local/e/{SLUG}" in qr.text
    assert (await viewer.http.get("/e/nope/qr.svg")).status_code == 404
    assert (await viewer.open("/e/nope/screen")).status_code == 404


async def test_top_answers_come_as_bars_ranked_by_score_pinned_first(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    weak = await post(board, thread_id, "Réponse faible")
    strong = await post(board, thread_id, "Réponse forte")
    for phone in await voters_in(board, thread_id, ["citoyen", "citoyen", "étudiant"]):
        await phone.submit(f"/e/{SLUG}/answers/{strong}/vote", {"value": "1"}, htmx=True)
        await phone.submit(f"/e/{SLUG}/answers/{weak}/vote", {"value": "-1"}, htmx=True)
    viewer = await board.phone(None)
    text = (await viewer.open(f"/e/{SLUG}/t/{thread_id}/screen")).text
    assert text.index("Réponse forte") < text.index("Réponse faible")
    assert 'class="bar agree" style="width: 100%"' in text
    assert text.index(f'id="s{strong}"') < text.index(f'id="s{weak}"')

    moderator = await board.staff("moderator")
    await moderator.submit(f"/mod/{SLUG}/answers/{weak}", {"action": "pin"})
    text = (await viewer.open(f"/e/{SLUG}/t/{thread_id}/screen")).text
    assert text.index("Réponse faible") < text.index("Réponse forte")
    pinned_only = (await viewer.open(f"/e/{SLUG}/t/{thread_id}/screen?only=pinned")).text
    assert "Réponse faible" in pinned_only and "Réponse forte" not in pinned_only


async def test_bridges_are_marked_and_can_be_shown_alone(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    bridge = await post(board, thread_id, "Consensus large")
    split = await post(board, thread_id, "Clivant")
    citizens = await voters_in(board, thread_id, ["citoyen"] * 5)
    officers = await voters_in(board, thread_id, ["agent public"] * 5)
    for phone in citizens + officers:
        await phone.submit(f"/e/{SLUG}/answers/{bridge}/vote", {"value": "1"}, htmx=True)
    for phone in citizens:
        await phone.submit(f"/e/{SLUG}/answers/{split}/vote", {"value": "1"}, htmx=True)
    for phone in officers:
        await phone.submit(f"/e/{SLUG}/answers/{split}/vote", {"value": "-1"}, htmx=True)
    viewer = await board.phone(None)
    api = {r["id"]: r for r in (await viewer.http.get(f"/api/threads/{thread_id}/answers")).json()}
    assert api[bridge]["bridge"] is True and api[split]["bridge"] is False
    assert api[split]["segments"] == {
        "citoyen": {"agree": 5, "disagree": 0},
        "étudiant": None,
        "agent public": {"agree": 0, "disagree": 5},
    }
    only = (await viewer.open(f"/e/{SLUG}/t/{thread_id}/screen?only=bridges")).text
    assert "Consensus large" in only and "Clivant" not in only
    assert "Passerelle" in only
    full = (await viewer.open(f"/e/{SLUG}/t/{thread_id}/screen")).text
    assert "100 %" in full and "0 %" in full


async def test_the_screen_follows_present(board: Board) -> None:
    ids = await board.thread_ids()
    facilitator = await board.staff("facilitator")
    screen = await facilitator.open(f"/e/{SLUG}/screen")
    assert "Fil suivant" in screen.text, "a facilitator gets the screen controls"
    moved = await facilitator.submit(
        f"/mod/{SLUG}/threads/{ids[2]}", {"action": "present", "next": f"/e/{SLUG}/screen"}
    )
    assert moved.status_code == 303 and moved.headers["location"] == f"/e/{SLUG}/screen"
    viewer = await board.phone(None)
    text = (await viewer.open(f"/e/{SLUG}/screen")).text
    assert "Que sont ces nouveaux lieux" in text
    assert "Fil suivant" not in text, "an anonymous viewer gets no controls"
    async with board.ctx.db.session() as session:
        event = (await session.exec(select(Event).where(Event.slug == SLUG))).one()
    assert event.screen_thread_id == ids[2]
    block = await viewer.http.get(f"/e/{SLUG}/screen?block=board", headers={"HX-Request": "true"})
    assert 'id="board"' in block.text and "<html" not in block.text


async def test_qr_can_be_hidden_and_results_list_every_thread(board: Board) -> None:
    viewer = await board.phone(None)
    assert "qr.svg" not in (await viewer.open(f"/e/{SLUG}/screen?qr=0")).text
    results = await viewer.open(f"/e/{SLUG}/results")
    assert results.status_code == 200
    for prompt in ("Comment le numérique bouscule la notion de service public ?", "Quels liens possibles"):
        assert prompt in results.text
    assert "gouttes d" not in results.text
    assert (await viewer.open(f"/e/{SLUG}/t/9999/screen")).status_code == 404

"""Similar answers while typing: rephrasings of published answers are suggested, unrelated ones never."""

from __future__ import annotations

import asyncio
import re
import tomllib

from board.domain.similar import THRESHOLD, ThreadIndex
from tests.conftest import ROOT, SLUG, Board, Phone

FRENCH = tomllib.loads((ROOT / "tests" / "data" / "similar_drafts.toml").read_text())["french"][0]
ANSWERS: list[str] = FRENCH["answers"]
UNRELATED = "Il faudrait davantage de pistes cyclables et de bancs dans le centre-ville."


def test_rephrasings_of_real_answers_are_found_and_put_first() -> None:
    index = ThreadIndex.fit(list(range(len(ANSWERS))), ANSWERS)
    found = [d for d in FRENCH["drafts"] if [i for i, _ in index.closest(d["draft"])][:1] == [d["target"]]]
    assert len(found) >= len(FRENCH["drafts"]) - 1
    assert index.closest(UNRELATED) == []


def test_a_thread_of_two_answers_suggests_no_unrelated_one() -> None:
    index = ThreadIndex.fit([1, 2], ANSWERS[:2])
    assert index.closest(UNRELATED) == []
    assert index.closest("La fracture numérique exclut les personnes âgées") == []
    assert [i for i, _ in index.closest("tester une politique à petite échelle avant de la généraliser")] == [
        1
    ]


def test_answers_published_later_are_followed_and_withdrawn_ones_left_out() -> None:
    index = ThreadIndex.fit(list(range(10)), ANSWERS[:10])
    grown = index.follow(list(range(1, 12)), ANSWERS[1:12])
    assert [i for i, _ in grown.closest("évaluer chaque expérimentation avant de l'étendre")][:1] == [11]
    assert grown.closest("tester à petite échelle une politique avant de la généraliser partout") == []
    assert grown.size == 11


async def post(board: Board, thread_id: int, bodies: list[str]) -> list[int]:
    """Answers from several phones (each participant may answer five times a minute)."""
    ids = []
    for start in range(0, len(bodies), 4):
        phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
        for body in bodies[start : start + 4]:
            posted = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": body}, htmx=True)
            assert posted.status_code == 201, posted.text
            ids.append(int(re.search(r'id="a(\d+)"', posted.text).group(1)))  # type: ignore[union-attr]
    return ids


async def similar(phone: Phone, thread_id: int, draft: str) -> list[dict[str, object]]:
    response = await phone.http.get(
        f"/e/{SLUG}/t/{thread_id}/similar", params={"body": draft}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    found: list[dict[str, object]] = response.json()
    return found


async def test_a_draft_gets_the_close_published_answers_as_json_and_html(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    ids = await post(board, thread_id, ANSWERS)
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    found = await similar(
        phone, thread_id, "reconnaître un droit à l'erreur pour les fonctionnaires qui innovent"
    )
    assert found[0]["id"] == ids[1] and found[0]["body"] == ANSWERS[1]
    assert set(found[0]) == {"id", "body", "similarity"} and float(found[0]["similarity"]) >= THRESHOLD  # type: ignore[arg-type]
    assert len(found) <= 3
    assert await similar(phone, thread_id, UNRELATED) == []
    for draft in ("", "court", "\u200b" * 40, "évaluer\x00 chaque expérimentation", "x" * 5000):
        assert await similar(phone, thread_id, draft) == [], draft

    html = await phone.http.get(
        f"/e/{SLUG}/t/{thread_id}/similar",
        params={"body": "évaluer chaque expérimentation avant de l'étendre"},
    )
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "Une réponse proche existe déjà" in html.text or "Des réponses proches existent déjà" in html.text
    assert f'id="similar-v{ids[11]}"' in html.text and f'id="similar-ag{ids[11]}"' in html.text
    assert f'id="v{ids[11]}"' not in html.text  # the list's own buttons keep their ids
    assert 'name="scope" value="similar"' in html.text

    voted = await phone.submit(
        f"/e/{SLUG}/answers/{ids[11]}/vote", {"value": "1", "scope": "similar"}, htmx=True
    )
    assert voted.status_code == 200
    assert f'id="similar-ag{ids[11]}">1<' in voted.text and 'aria-pressed="true"' in voted.text
    plain = await phone.submit(
        f"/e/{SLUG}/answers/{ids[11]}/vote", {"value": "0", "scope": "elsewhere"}, htmx=True
    )
    assert f'id="ag{ids[11]}">0<' in plain.text
    assert "/similar" in (await phone.open(f"/e/{SLUG}/t/{thread_id}")).text


async def test_published_answers_only_and_the_cache_follows_moderation(board: Board) -> None:
    thread_id = (await board.thread_ids())[1]
    ids = await post(board, thread_id, ANSWERS[:2])
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    draft = "le droit à l'erreur des agents publics qui innovent doit être reconnu"
    assert [a["id"] for a in await similar(phone, thread_id, draft)] == [ids[1]]
    assert await similar(phone, thread_id, UNRELATED) == []

    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    hidden = await moderator.submit(
        f"/mod/{SLUG}/answers/{ids[1]}", {"action": "hide", "reason": "duplicate"}
    )
    assert hidden.status_code == 303
    assert await similar(phone, thread_id, draft) == []
    [later] = await post(
        board, thread_id, ["Reconnaître le droit à l'erreur des agents publics qui innovent."]
    )
    assert [a["id"] for a in await similar(phone, thread_id, draft)] == [later]
    restored = await moderator.submit(f"/mod/{SLUG}/answers/{ids[1]}", {"action": "restore"})
    assert restored.status_code == 303
    assert {a["id"] for a in await similar(phone, thread_id, draft)} == {later, ids[1]}


async def test_many_drafts_at_once_get_the_same_answer(board: Board) -> None:
    thread_id = (await board.thread_ids())[2]
    ids = await post(board, thread_id, ANSWERS[:6])
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    draft = "associer les usagers à la conception des services publics numériques"
    results = await asyncio.gather(*(similar(phone, thread_id, draft) for _ in range(50)))
    assert all([a["id"] for a in r][:1] == [ids[2]] for r in results)


async def test_unknown_or_draft_threads_are_404(board: Board) -> None:
    phone = await board.phone(None)
    assert (await phone.http.get(f"/e/{SLUG}/t/9999/similar", params={"body": UNRELATED})).status_code == 404
    assert (await phone.http.get("/e/nope/t/1/similar", params={"body": UNRELATED})).status_code == 404

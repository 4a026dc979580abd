"""The read-only JSON API gives the same counts as the pages, and no participant ids."""

import re

from sqlmodel import col, update

from board.domain.results import is_bridge
from board.models import Thread
from tests.conftest import SLUG, Board


async def test_api_matches_the_pages_and_hides_participants(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    author = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Première"}, htmx=True)
    await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Seconde"}, htmx=True)
    answers = (await author.http.get(f"/api/threads/{thread_id}/answers?sort=new")).json()
    first, second = answers[1]["id"], answers[0]["id"]
    voters = [await board.phone(f"/e/{SLUG}/t/{thread_id}") for _ in range(7)]
    for n, voter in enumerate(voters):
        await voter.submit(f"/e/{SLUG}/profile", {"segment": "citoyen" if n < 5 else "étudiant"})
        await voter.submit(f"/e/{SLUG}/answers/{first}/vote", {"value": "1"}, htmx=True)
    await voters[0].submit(f"/e/{SLUG}/answers/{second}/vote", {"value": "-1"}, htmx=True)

    response = await author.http.get(f"/api/threads/{thread_id}/answers")
    assert response.status_code == 200
    rows = response.json()
    assert [r["body"] for r in rows] == ["Première", "Seconde"]
    top = rows[0]
    assert (top["agree"], top["disagree"], top["score"]) == (7, 0, 7)
    assert top["segments"] == {
        "citoyen": {"agree": 5, "disagree": 0},
        "étudiant": None,
        "agent public": None,
    }, "a segment's counts are published from five voters on"
    assert top["bridge"] is False
    assert set(top) == {
        "id",
        "body",
        "agree",
        "disagree",
        "score",
        "pinned",
        "bridge",
        "segments",
        "merged",
        "created_at",
    }
    assert "participant" not in response.text

    page = (await author.open(f"/e/{SLUG}/t/{thread_id}")).text
    assert re.search(rf'id="ag{first}">7<', page) and re.search(rf'id="di{second}">1<', page)
    event = (await author.http.get(f"/api/events/{SLUG}")).json()
    assert event["slug"] == SLUG and event["title"] == "Vers une République collaborative"
    assert event["threads"][0] == {
        "id": thread_id,
        "prompt": "L'expérimentation et l'action publique sont-elles compatibles ?",
        "status": "open",
        "answers": 2,
        "votes": 8,
        "timer_ends_at": None,
    }
    listing = (await author.open(f"/e/{SLUG}")).text
    assert f'id="t{thread_id}-answers">2<' in listing and f'id="t{thread_id}-votes">8<' in listing


async def test_api_errors_are_json_404(board: Board) -> None:
    phone = await board.phone(None)
    missing = await phone.http.get("/api/events/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/json")
    assert (await phone.http.get("/api/threads/9999/answers")).status_code == 404
    async with board.ctx.db.session() as session:
        await session.exec(update(Thread).where(col(Thread.id) == 5).values(status="draft"))
        await session.commit()
    assert (await phone.http.get("/api/threads/5/answers")).status_code == 404


async def test_openapi_schema_documents_the_api(board: Board) -> None:
    phone = await board.phone(None)
    schema = (await phone.http.get("/schema/openapi.json")).json()
    assert "/api/events/{slug}" in schema["paths"]
    assert "/api/threads/{thread_id}/answers" in schema["paths"]
    assert not any(p.startswith("/e/") for p in schema["paths"])


def test_bridge_needs_sixty_percent_in_two_published_segments() -> None:
    assert is_bridge({"citoyen": (5, 0), "agent public": (3, 2)})
    assert not is_bridge({"citoyen": (5, 0), "agent public": (2, 3)})
    assert not is_bridge({"citoyen": (9, 0), "étudiant": (4, 0)}), "four votes do not publish a segment"
    assert is_bridge({"citoyen": (9, 0), "étudiant": (3, 2), "agent public": (0, 4)})


async def test_segment_counts_follow_a_participant_who_changes_segment(redis_board: Board) -> None:
    board = redis_board
    thread_id = (await board.thread_ids())[0]
    author = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Segments"}, htmx=True)
    [row] = (await author.http.get(f"/api/threads/{thread_id}/answers")).json()
    for _ in range(5):
        phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
        await phone.submit(f"/e/{SLUG}/profile", {"segment": "citoyen"})
        await phone.submit(f"/e/{SLUG}/answers/{row['id']}/vote", {"value": "1"}, htmx=True)
        await phone.submit(f"/e/{SLUG}/profile", {"segment": "agent public"})
    [after] = (await author.http.get(f"/api/threads/{thread_id}/answers")).json()
    assert after["segments"]["agent public"] == {"agree": 5, "disagree": 0}
    assert after["segments"]["citoyen"] is None

"""Moderating answers end to end: decisions with reasons reach every phone, and authors are told why."""

import asyncio

from sqlmodel import col, select

from board.live.messages import Status
from board.models import Answer, Event, Vote
from tests.conftest import SLUG, Board, Phone


async def answer_on_first_thread(
    board: Board, body: str, phone: Phone | None = None
) -> tuple[int, int, Phone]:
    thread_id = (await board.thread_ids())[0]
    author = phone or await board.phone(f"/e/{SLUG}/t/{thread_id}")
    response = await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": body}, htmx=True)
    assert response.status_code in (201, 202), response.text
    async with board.ctx.db.session() as session:
        answer = (await session.exec(select(Answer).where(Answer.body == body))).one()
    assert answer.id is not None
    return thread_id, answer.id, author


async def decide(moderator: Phone, answer_id: int, action: str, **fields: object) -> object:
    data = {"action": action, **{k: str(v) for k, v in fields.items()}}
    return await moderator.submit(f"/mod/{SLUG}/answers/{answer_id}", data)


async def test_hide_needs_a_reason_and_tells_the_author_why(board: Board) -> None:
    thread_id, answer_id, author = await answer_on_first_thread(board, "Hors sujet total")
    moderator = await board.staff("moderator")
    missing = await decide(moderator, answer_id, "hide")
    assert missing.status_code == 422
    assert "motif" in missing.text
    hidden = await decide(moderator, answer_id, "hide", reason="offtopic")
    assert hidden.status_code == 303

    other = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    seen_by_other = (await other.open(f"/e/{SLUG}/t/{thread_id}")).text
    assert "Hors sujet total" not in seen_by_other
    assert "1 réponse mise de côté par la modération : 1 hors-sujet." in seen_by_other

    own = (await author.open(f"/e/{SLUG}/t/{thread_id}")).text
    assert "Hors sujet total" in own
    assert "Mise de côté par la modération : hors-sujet" in own
    rephrase = await author.open(f"/e/{SLUG}/t/{thread_id}?rephrase={answer_id}")
    assert ">Hors sujet total</textarea>" in rephrase.text
    stranger = await other.open(f"/e/{SLUG}/t/{thread_id}?rephrase={answer_id}")
    assert ">Hors sujet total</textarea>" not in stranger.text


async def test_set_aside_summary_counts_reasons(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    moderator = await board.staff("moderator")
    for n, reason in enumerate(["duplicate", "duplicate", "offtopic"]):
        _, answer_id, _ = await answer_on_first_thread(board, f"réponse {n}")
        await decide(moderator, answer_id, "hide", reason=reason)
    page = (await (await board.phone(f"/e/{SLUG}/t/{thread_id}")).open(f"/e/{SLUG}/t/{thread_id}")).text
    assert "3 réponses mises de côté par la modération : 2 doublons, 1 hors-sujet." in page


async def test_restore_and_pin_put_an_answer_first(board: Board) -> None:
    thread_id, first, _ = await answer_on_first_thread(board, "Première idée")
    _, second, _ = await answer_on_first_thread(board, "Seconde idée")
    voter = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    await voter.submit(f"/e/{SLUG}/answers/{second}/vote", {"value": "1"}, htmx=True)
    moderator = await board.staff("moderator")
    assert (await decide(moderator, first, "pin")).status_code == 303
    page = (await voter.open(f"/e/{SLUG}/t/{thread_id}")).text
    assert page.index("Première idée") < page.index("Seconde idée")
    assert "Épinglée" in page
    await decide(moderator, first, "unpin")
    page = (await voter.open(f"/e/{SLUG}/t/{thread_id}")).text
    assert page.index("Seconde idée") < page.index("Première idée")
    await decide(moderator, second, "hide", reason="abusive")
    assert "Seconde idée" not in (await voter.open(f"/e/{SLUG}/t/{thread_id}")).text
    assert (await decide(moderator, second, "restore")).status_code == 303
    assert "Seconde idée" in (await voter.open(f"/e/{SLUG}/t/{thread_id}")).text


async def test_a_hidden_answer_cannot_be_voted_on(board: Board) -> None:
    thread_id, answer_id, _ = await answer_on_first_thread(board, "Bientôt masquée")
    moderator = await board.staff("moderator")
    await decide(moderator, answer_id, "hide", reason="other")
    voter = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    assert (
        await voter.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=True)
    ).status_code == 404


async def test_merge_keeps_both_texts_and_counts_each_voter_once(board: Board) -> None:
    thread_id, target, _ = await answer_on_first_thread(board, "Évaluer les expérimentations")
    _, duplicate, _ = await answer_on_first_thread(board, "Il faut évaluer chaque expérimentation")
    voters = [await board.phone(f"/e/{SLUG}/t/{thread_id}") for _ in range(3)]
    await voters[0].submit(f"/e/{SLUG}/answers/{target}/vote", {"value": "-1"}, htmx=True)
    await voters[0].submit(f"/e/{SLUG}/answers/{duplicate}/vote", {"value": "1"}, htmx=True)
    await voters[1].submit(f"/e/{SLUG}/answers/{duplicate}/vote", {"value": "1"}, htmx=True)
    await voters[2].submit(f"/e/{SLUG}/answers/{target}/vote", {"value": "1"}, htmx=True)

    moderator = await board.staff("moderator")
    assert (await decide(moderator, duplicate, "merge", into=duplicate)).status_code == 422
    assert (await decide(moderator, duplicate, "merge", into=target)).status_code == 303

    async with board.ctx.db.session() as session:
        votes = (await session.exec(select(Vote).where(col(Vote.answer_id).in_([target, duplicate])))).all()
        merged = await session.get(Answer, duplicate)
        kept = await session.get(Answer, target)
    assert sorted((v.answer_id, v.value) for v in votes) == [(target, -1), (target, 1), (target, 1)]
    assert merged is not None and merged.merged_into == target
    assert kept is not None and (kept.agree, kept.disagree) == (2, 1)

    rows = (await voters[0].http.get(f"/api/threads/{thread_id}/answers")).json()
    assert [r["id"] for r in rows] == [target]
    assert rows[0]["merged"] == ["Il faut évaluer chaque expérimentation"]
    page = (await voters[1].open(f"/e/{SLUG}/t/{thread_id}")).text
    assert "Il faut évaluer chaque expérimentation" in page and 'class="merged"' in page
    assert (await decide(moderator, duplicate, "merge", into=target)).status_code == 409


async def test_pre_moderation_queue_then_approve_or_reject(board: Board) -> None:
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    switched = await moderator.submit(f"/mod/{SLUG}/settings", {"moderation": "pre"})
    assert switched.status_code == 303
    thread_id, waiting, _ = await answer_on_first_thread(board, "En attente de validation")
    _, refused, author = await answer_on_first_thread(board, "À refuser")
    queue = (await moderator.open(f"/mod/{SLUG}")).text
    assert queue.index("En attente de validation") < queue.index("À refuser")

    other = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    assert "En attente de validation" not in (await other.open(f"/e/{SLUG}/t/{thread_id}")).text
    assert (await decide(moderator, waiting, "approve")).status_code == 303
    assert "En attente de validation" in (await other.open(f"/e/{SLUG}/t/{thread_id}")).text
    assert (await decide(moderator, refused, "reject", reason="personal-data")).status_code == 303
    assert (
        "Mise de côté par la modération : données personnelles"
        in (await author.open(f"/e/{SLUG}/t/{thread_id}")).text
    )
    assert (await decide(moderator, refused, "reject", reason="other")).status_code == 409


async def test_htmx_decision_returns_the_refreshed_board(board: Board) -> None:
    _, answer_id, _ = await answer_on_first_thread(board, "Réponse à épingler")
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    response = await moderator.submit(f"/mod/{SLUG}/answers/{answer_id}", {"action": "pin"}, htmx=True)
    assert response.status_code == 200
    assert 'id="mod-board"' in response.text and "<html" not in response.text
    assert "Réponse épinglée." in response.text


async def test_a_banned_participant_can_no_longer_answer_or_vote(board: Board) -> None:
    thread_id, answer_id, author = await answer_on_first_thread(board, "Avant la suspension")
    async with board.ctx.db.session() as session:
        participant_id = (await session.get(Answer, answer_id)).participant_id  # type: ignore[union-attr]
    moderator = await board.staff("moderator")
    page = (await moderator.open(f"/mod/{SLUG}")).text
    assert f"/mod/{SLUG}/participants/{participant_id}/ban" in page
    assert (await moderator.submit(f"/mod/{SLUG}/participants/{participant_id}/ban", {})).status_code == 303
    answer = await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Après"}, htmx=True)
    assert answer.status_code == 403
    vote = await author.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=True)
    assert vote.status_code == 403
    assert "Avant la suspension" in (await moderator.open(f"/mod/{SLUG}")).text


async def test_closing_a_thread_refuses_answers_and_votes(board: Board) -> None:
    thread_id, answer_id, author = await answer_on_first_thread(board, "Juste avant la clôture")
    facilitator = await board.staff("facilitator")
    await facilitator.open(f"/mod/{SLUG}")
    closed = await facilitator.submit(f"/mod/{SLUG}/threads/{thread_id}", {"action": "close"})
    assert closed.status_code == 303
    assert (await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Trop tard"})).status_code == 409
    assert (await author.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"})).status_code == 409
    await facilitator.submit(f"/mod/{SLUG}/threads/{thread_id}", {"action": "open"})
    assert (await author.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"})).status_code == 303


async def test_create_edit_reorder_and_present_threads(board: Board) -> None:
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    created = await moderator.submit(f"/mod/{SLUG}/threads", {"prompt": "  Et   demain ?  "})
    assert created.status_code == 303
    ids = await board.thread_ids()
    participant = await board.phone()
    assert "Et demain ?" not in (await participant.open(f"/e/{SLUG}")).text, "a new thread is a draft"
    page = (await moderator.open(f"/mod/{SLUG}")).text
    assert "Et demain ?" in page
    assert (await moderator.submit(f"/mod/{SLUG}/threads", {"prompt": " "})).status_code == 422

    second = ids[1]
    await moderator.submit(f"/mod/{SLUG}/threads/{second}", {"action": "up"})
    assert (await board.thread_ids())[0] == second
    await moderator.submit(
        f"/mod/{SLUG}/threads/{second}", {"action": "edit", "prompt": "Numérique et service public ?"}
    )
    listing = (await participant.open(f"/e/{SLUG}")).text
    assert listing.index("Numérique et service public ?") < listing.index("L&#39;expérimentation")
    assert (await moderator.submit(f"/mod/{SLUG}/threads/{second}", {"action": "present"})).status_code == 303
    async with board.ctx.db.session() as session:
        row = (await session.exec(select(Event).where(Event.slug == SLUG))).one()
    assert row.screen_thread_id == second


async def test_decisions_reach_open_streams(redis_board: Board) -> None:
    board = redis_board
    thread_id, answer_id, _ = await answer_on_first_thread(board, "Sera masquée en direct")
    moderator = await board.staff("moderator")
    async with board.ctx.live.channels.subscribe([f"thread:{thread_id}"]) as stream:
        await decide(moderator, answer_id, "hide", reason="duplicate")
        async with asyncio.timeout(5):
            async for message in stream:
                if isinstance(message, Status) and message.thread == thread_id:
                    break
    assert message.status == "answers" and message.totals is not None and message.totals.answers == 0


async def test_the_export_withholds_text_set_aside_for_personal_data(board: Board) -> None:
    _, answer_id, _ = await answer_on_first_thread(board, "Mon voisin M. Durand, 12 rue des Lilas")
    moderator = await board.staff("moderator")
    await decide(moderator, answer_id, "hide", reason="personal-data")
    for fmt in ("csv", "json"):
        exported = await moderator.http.get(f"/mod/{SLUG}/export.{fmt}")
        assert exported.status_code == 200
        assert "Durand" not in exported.text
        assert "personal-data" in exported.text


async def test_moderators_see_who_wrote_each_answer(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    author = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    await author.submit(f"/e/{SLUG}/profile", {"segment": "étudiant", "name": "Camille"})
    await answer_on_first_thread(board, "Signée", phone=author)
    page = (await (await board.staff("moderator")).open(f"/mod/{SLUG}")).text
    assert "Camille · étudiant" in page

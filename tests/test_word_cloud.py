"""The word cloud (`?show=words`): words of a thread's published answers, sized by how many answers use
them, function words left out, plain plurals folded, hidden answers never counted, drawn without script."""

from __future__ import annotations

import re

from board.domain.words import WEIGHTS, cloud, words_of
from tests.conftest import SLUG, Board
from tests.test_moderation import answer_on_first_thread, decide


def test_function_words_numbers_and_elisions_are_left_out() -> None:
    assert words_of("L'expérimentation et les agents publics, d'abord : the open data of 2017") == {
        "expérimentation",
        "agents",
        "publics",
        "abord",
        "open",
        "data",
    }
    assert words_of("Tiers-lieux ou tiers lieux ? Aujourd\u2019hui, qu\u2019en dit-on ?") == {
        "tiers-lieux",
        "tiers",
        "lieux",
        "dit",
    }


def test_a_word_counts_once_per_answer_and_plain_plurals_fold_into_the_commoner_form() -> None:
    answers = [
        words_of("Un lieu ouvert, un lieu, encore un lieu"),
        words_of("Des lieux ouverts"),
        words_of("Les lieux de demain"),
        words_of("Les communs"),
    ]
    words = {w.text: w for w in cloud(answers)}
    assert words["lieux"].answers == 3, "lieu and lieux are one word, named as most answers write it"
    assert "lieu" not in words
    assert words["ouvert"].answers == 2 and "ouverts" not in words
    assert words["communs"].answers == 1 and words["demain"].answers == 1
    assert words["lieux"].weight == WEIGHTS and words["communs"].weight == 1
    assert [w.text for w in cloud(answers)][:2] == ["lieux", "ouvert"], "most used first"
    assert cloud([]) == []


async def test_the_screen_draws_the_cloud_of_published_answers_only(board: Board) -> None:
    thread_id, _, _ = await answer_on_first_thread(board, "Des laboratoires ouverts aux citoyens")
    await answer_on_first_thread(board, "Les laboratoires territoriaux")
    _, hidden, _ = await answer_on_first_thread(board, "Une insulte grossière")
    moderator = await board.staff("moderator")
    await decide(moderator, hidden, "hide", reason="abusive")
    viewer = await board.phone(None)
    page = await viewer.open(f"/e/{SLUG}/screen?show=words")
    assert page.status_code == 200
    words = {
        text: weight
        for weight, text in re.findall(r'<li class="word (w\d)" data-answers="\d+">([^<]+)</li>', page.text)
    }
    assert words["laboratoires"] == f"w{WEIGHTS}" and words["citoyens"] == "w1"
    assert "insulte" not in words and "grossière" not in words, "a hidden answer never counts"
    assert "les" not in words and "des" not in words
    assert 'hx-trigger="sse:counts, sse:status, sse:answer"' in page.text
    assert 'class="bar-row' not in page.text
    by_thread = await viewer.open(
        f"/e/{SLUG}/t/{thread_id}/screen?show=words&block=board", headers={"HX-Request": "true"}
    )
    assert "<html" not in by_thread.text and "laboratoires" in by_thread.text

    await decide(moderator, hidden, "restore")
    again = await viewer.open(f"/e/{SLUG}/screen?show=words")
    assert "insulte" in again.text, "a restored answer counts again at once"

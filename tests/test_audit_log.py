"""The audit log as people read it: dated sentences in French or English, filters, and a CSV download."""

from __future__ import annotations

import csv
import io

from tests.conftest import SLUG, Board
from tests.crowd import answer_thread


async def test_the_log_reads_as_sentences_in_english_too(board: Board) -> None:
    thread = (await board.thread_ids())[0]
    made = await answer_thread(board.ctx, SLUG, thread, 2)
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    await moderator.submit(f"/mod/{SLUG}/answers/{made[0]}", {"action": "hide", "reason": "offtopic"})
    await moderator.submit(f"/mod/{SLUG}/answers/{made[1]}", {"action": "pin"})
    name = next(c for c in (await moderator.open(f"/mod/{SLUG}")).text.split("Se déconnecter (")[1:]).split(
        ")"
    )[0]

    french = (await moderator.open(f"/mod/{SLUG}/audit")).text
    assert f"{name} a masqué la réponse n° {made[0]} (hors-sujet)" in french
    moderator.http.cookies.set("lang", "en")
    english = (await moderator.open(f"/mod/{SLUG}/audit")).text
    assert f"{name} hid answer no. {made[0]} (off-topic)" in english
    assert f"{name} pinned answer no. {made[1]}" in english
    assert "a masqué" not in english


async def test_the_csv_holds_the_filtered_entries_with_their_sentences(board: Board) -> None:
    first, second = (await board.thread_ids())[:2]
    made = await answer_thread(board.ctx, SLUG, first, 2)
    moderator = await board.staff("moderator")
    facilitator = await board.staff("facilitator")
    await moderator.open(f"/mod/{SLUG}")
    await facilitator.open(f"/mod/{SLUG}")
    await moderator.submit(f"/mod/{SLUG}/answers/{made[0]}", {"action": "pin"})
    await facilitator.submit(f"/mod/{SLUG}/threads/{second}", {"action": "close"})
    await moderator.submit(f"/mod/{SLUG}/threads", {"prompt": '=HYPERLINK("http://x") ?'})

    response = await moderator.open(f"/mod/{SLUG}/audit.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode()), "a byte-order mark for spreadsheets"
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0] == ["at", "date", "who", "action", "target", "reason", "thread", "sentence"]
    assert len(rows) == 4
    assert all(not row[-1].startswith("=") for row in rows), "no cell a spreadsheet would run"
    assert any("a fermé aux réponses le fil" in row[-1] for row in rows)

    only_first = list(
        csv.reader(io.StringIO((await moderator.open(f"/mod/{SLUG}/audit.csv?thread={first}")).text))
    )
    assert len(only_first) == 2 and only_first[1][3] == "pin"
    facilitator_name = next(row[2] for row in rows[1:] if row[3] == "thread-close")
    by_person = (await moderator.open(f"/mod/{SLUG}/audit.csv", params={"person": facilitator_name})).text
    assert len(list(csv.reader(io.StringIO(by_person)))) == 2
    page = (await moderator.open(f"/mod/{SLUG}/audit?person={facilitator_name}")).text
    assert f'href="/mod/{SLUG}/audit.csv?person={facilitator_name}"' in page, "the download keeps the filter"

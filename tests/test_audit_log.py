"""The audit log as people read it: dated sentences in French or English, filters, and a CSV download."""

from __future__ import annotations

import csv
import io

from tests.conftest import SLUG, Board
from tests.crowd import answer_thread
from tests.test_event_admin import NEW, admin_of, create, set_status


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
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
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


async def test_an_events_own_life_reads_as_sentences(board: Board) -> None:
    admin = await admin_of(board)
    await create(board, admin)
    for status in ("open", "closed", "archived", "draft"):
        assert (await set_status(admin, NEW, status)).status_code == 303
    assert (await set_status(admin, NEW, "draft", title="Atelier des communs, suite")).status_code == 303
    name = (await admin.open("/admin")).text.split("Se déconnecter (")[1].split(")")[0]

    french = (await admin.open(f"/mod/{NEW}/audit")).text
    for done in ("a créé", "a ouvert", "a clos", "a archivé", "a modifié"):
        assert f"{name} {done} l&#39;événement" in french, done
    assert f"{name} a remis l&#39;événement en brouillon" in french
    assert "event-" not in french
    admin.http.cookies.set("lang", "en")
    english = (await admin.open(f"/mod/{NEW}/audit")).text
    for done in ("created", "opened", "closed", "archived", "edited"):
        assert f"{name} {done} the event" in english, done
    assert f"{name} turned the event back into a draft" in english

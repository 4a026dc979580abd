"""The moderation console holds a real event: per-thread tabs, search and pages of 50, merge targets found
by typing, authors named by segment and name, and new answers sent as one card."""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from typing import Any

from sqlmodel import select

from board.models import Answer, Participant
from tests.conftest import SLUG, Board, Phone, get_scope
from tests.crowd import answer_thread

CARD = re.compile(r'<li class="mod-card[^"]*" id="a(\d+)"')


class VisibleText(HTMLParser):
    """What a reader sees: text outside tags, scripts and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def cards(html: str) -> list[int]:
    return [int(i) for i in CARD.findall(html)]


async def console(phone: Phone, **query: Any) -> str:
    response = await phone.open(f"/mod/{SLUG}", params=query)
    assert response.status_code == 200, response.text
    return response.text


async def test_a_thread_of_120_answers_is_shown_50_at_a_time_with_tab_counts(board: Board) -> None:
    thread = (await board.thread_ids())[0]
    made = await answer_thread(board.ctx, SLUG, thread, 120)
    moderator = await board.staff("moderator")

    first = await console(moderator, thread=thread, tab="published")
    assert len(cards(first)) == 50
    assert f'id="t{thread}-published-n">120<' in first and f'id="t{thread}-pending-n">0<' in first
    assert "Page 1 sur 3" in first and "page=2" in first
    third = await console(moderator, thread=thread, tab="published", page=3)
    assert len(cards(third)) == 20
    every = (
        set(cards(first)) | set(cards(await console(moderator, thread=thread, page=2))) | set(cards(third))
    )
    assert every == set(made), "the pages together hold every answer once"
    beyond = await console(moderator, thread=thread, page=99)
    assert cards(beyond) == cards(third), "a page past the end shows the last one"
    assert "<option" not in first.split('id="mod-board"')[1].replace("Motif…", "").split("reason")[0]
    assert first.count("<option") <= 50 * 6, "reason menus only: no list of every answer"
    assert len(first.encode()) < 300 * 1024, "a page of 50 cards keeps under the console's 300 KB budget"


async def test_the_overview_shows_the_queue_and_every_thread_with_its_first_answers(board: Board) -> None:
    threads = await board.thread_ids()
    await answer_thread(board.ctx, SLUG, threads[0], 12)
    moderator = await board.staff("moderator")
    overview = await console(moderator)
    assert len(cards(overview)) == 3, "three first answers of the one thread that has answers"
    for thread in threads:
        assert f'href="/mod/{SLUG}?thread={thread}' in overview
        assert f'action="/mod/{SLUG}/threads/{thread}"' in overview, "each thread keeps its controls"
    assert "Monter dans la liste des fils" in overview and "Modifier la question" in overview


async def test_search_narrows_a_tab_by_words_or_number(board: Board) -> None:
    thread = (await board.thread_ids())[0]
    made = await answer_thread(board.ctx, SLUG, thread, 30)
    moderator = await board.staff("moderator")
    found = await console(moderator, thread=thread, tab="published", q="TIERS LIEUX")
    assert len(cards(found)) == 5 and "5 réponses correspondent" in found
    by_number = await console(moderator, thread=thread, tab="published", q=f"n° {made[7]}")
    assert made[7] in cards(by_number)
    for odd in ("%", "_", "\x00", "‮", "x" * 5000):
        response = await moderator.open(f"/mod/{SLUG}", params={"thread": thread, "q": odd})
        assert response.status_code == 200, odd
    assert cards(await console(moderator, thread=thread, q="%")) == []


async def test_hidden_holds_rejected_and_hidden_answers_and_pinned_the_pinned(board: Board) -> None:
    thread = (await board.thread_ids())[0]
    published = await answer_thread(board.ctx, SLUG, thread, 6)
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    assert (await moderator.submit(f"/mod/{SLUG}/settings", {"moderation": "pre"})).status_code == 303
    pending = await answer_thread(board.ctx, SLUG, thread, 4, start=6)
    for answer_id, data in (
        (published[0], {"action": "hide", "reason": "offtopic"}),
        (published[1], {"action": "pin"}),
        (pending[0], {"action": "reject", "reason": "abusive"}),
    ):
        assert (await moderator.submit(f"/mod/{SLUG}/answers/{answer_id}", data)).status_code == 303
    hidden = await console(moderator, thread=thread, tab="hidden")
    assert sorted(cards(hidden)) == sorted([published[0], pending[0]])
    assert "Refusée" in hidden and "Masquée" in hidden
    assert cards(await console(moderator, thread=thread, tab="pinned")) == [published[1]]
    assert cards(await console(moderator, thread=thread, tab="pending")) == pending[1:]
    default = await console(moderator, thread=thread)
    assert 'aria-current="page">En attente' in default, "a thread with answers waiting opens on them"


async def test_the_merge_search_lists_matching_published_answers_of_the_thread_only(board: Board) -> None:
    first, second = (await board.thread_ids())[:2]
    here = await answer_thread(board.ctx, SLUG, first, 12)
    there = await answer_thread(board.ctx, SLUG, second, 6, start=100)
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    await moderator.submit(f"/mod/{SLUG}/answers/{here[3]}", {"action": "hide", "reason": "duplicate"})
    response = await moderator.open(
        f"/mod/{SLUG}/answers/search", params={"q": "droit à l'erreur", "thread": first, "exclude": here[1]}
    )
    assert response.status_code == 200 and "<html" not in response.text, "a fragment"
    listed = [int(i) for i in re.findall(r'data-into="(\d+)"', response.text)]
    assert listed and set(listed) <= set(here) - {here[1], here[3]}
    assert all("droit à l&#39;erreur" in line for line in response.text.split("<li>")[1:])
    everywhere = await moderator.open(f"/mod/{SLUG}/answers/search", params={"q": "droit à l'erreur"})
    assert set(re.findall(r'data-into="(\d+)"', everywhere.text)) & {str(i) for i in there}
    nothing = await moderator.open(f"/mod/{SLUG}/answers/search", params={"q": ""})
    assert "data-into" not in nothing.text
    assert (
        len(re.findall("data-into", (await moderator.open(f"/mod/{SLUG}/answers/search?q=Proposition")).text))
        <= 8
    )


async def test_a_merge_by_number_works_without_javascript(board: Board) -> None:
    thread = (await board.thread_ids())[0]
    made = await answer_thread(board.ctx, SLUG, thread, 4)
    moderator = await board.staff("moderator")
    page = await console(moderator, thread=thread, tab="published")
    assert 'name="into"' in page and 'id="merge-q-' in page
    response = await moderator.submit(
        f"/mod/{SLUG}/answers/{made[0]}", {"action": "merge", "into": f"#{made[1]}", "q": ""}
    )
    assert response.status_code == 303
    async with board.ctx.db.session() as session:
        merged = await session.get(Answer, made[0])
    assert merged is not None and merged.merged_into == made[1]
    after = await console(moderator, thread=thread, tab="published")
    assert "fusionnée avec cette réponse" in after
    phone = await board.phone(f"/e/{SLUG}/t/{thread}")
    seen = visible((await phone.open(f"/e/{SLUG}/t/{thread}")).text)
    assert "Fusionnée avec cette réponse :" in seen, "participants see a merged text labelled as such"
    bad = await moderator.submit(f"/mod/{SLUG}/answers/{made[2]}", {"action": "merge", "into": "douze"})
    assert bad.status_code == 422


async def test_authors_are_named_by_segment_and_name_never_by_participant_id(board: Board) -> None:
    thread = (await board.thread_ids())[0]
    await answer_thread(board.ctx, SLUG, thread, 8)
    async with board.ctx.db.session() as session:
        ids = [p.id for p in (await session.exec(select(Participant))).all()]
    moderator = await board.staff("moderator")
    for page in (await console(moderator), await console(moderator, thread=thread)):
        seen = visible(page)
        named = re.findall(r"(\w+ \d+) · (citoyen|étudiant|agent public)", seen)
        assert len(named) >= 3, "each author by name and segment"
        assert not any(pid in seen for pid in ids), "no participant id in what the moderator reads"


async def test_a_thread_action_from_the_console_returns_to_the_same_view(board: Board) -> None:
    thread = (await board.thread_ids())[0]
    made = await answer_thread(board.ctx, SLUG, thread, 3)
    moderator = await board.staff("moderator")
    where = f"http://testserver.local/mod/{SLUG}?thread={thread}&tab=published&q=Proposition"
    await console(moderator, thread=thread)
    plain = await moderator.http.post(
        f"/mod/{SLUG}/answers/{made[0]}",
        data={"action": "pin", "_csrf_token": moderator.csrf},
        headers={"Referer": where},
    )
    assert plain.status_code == 303
    assert plain.headers["location"].startswith(f"/mod/{SLUG}?thread={thread}&tab=published&q=Proposition")
    htmx = await moderator.http.post(
        f"/mod/{SLUG}/answers/{made[0]}",
        data={"action": "unpin"},
        headers={"HX-Request": "true", "x-csrftoken": moderator.csrf, "HX-Current-URL": where},
    )
    assert htmx.status_code == 200 and 'aria-current="page">Publiées' in htmx.text
    assert "<html" not in htmx.text


async def read_events(
    board: Board, phone: Phone, path: str, opened: asyncio.Event, wanted: int = 1
) -> list[tuple[str, str]]:
    """Named events of a stream, read as they are sent, until `wanted` answers came; `opened` is set once
    the stream has said it is connected (it subscribes before that)."""
    cookies = "; ".join(f"{k}={v}" for k, v in phone.http.cookies.items())
    scope = get_scope(path, [(b"host", b"testserver.local"), (b"cookie", cookies.encode())])
    got: list[tuple[str, str]] = []
    done = asyncio.Event()
    buffer = ""
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal buffer
        if message["type"] != "http.response.body":
            return
        buffer += message.get("body", b"").decode()
        opened.set()
        while "\r\n\r\n" in buffer or "\n\n" in buffer:
            sep = "\r\n\r\n" if "\r\n\r\n" in buffer else "\n\n"
            block, buffer = buffer.split(sep, 1)
            fields = [
                line.split(":", 1) for line in block.splitlines() if ":" in line and not line.startswith(":")
            ]
            name = next((v.strip() for k, v in fields if k == "event"), "")
            data = "\n".join(v[1:] if v.startswith(" ") else v for k, v in fields if k == "data")
            if name:
                got.append((name, data))
            if len([g for g in got if g[0] == "answer"]) >= wanted:
                done.set()

    serving = asyncio.create_task(board.app(scope, receive, send))  # type: ignore[arg-type]
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        done.set()
        await asyncio.wait_for(serving, 10)
    return got


async def test_a_new_answer_reaches_the_console_as_one_card_with_its_counters(board: Board) -> None:
    thread = (await board.thread_ids())[0]
    moderator = await board.staff("moderator")
    facilitator = await board.staff("facilitator")
    await moderator.open(f"/mod/{SLUG}")
    await facilitator.open(f"/mod/{SLUG}")

    opened = [asyncio.Event(), asyncio.Event()]
    readers = [
        asyncio.create_task(read_events(board, who, f"/mod/{SLUG}/stream", ready))
        for who, ready in zip((moderator, facilitator), opened, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in opened)), 10)
    made = await answer_thread(board.ctx, SLUG, thread, 1)
    for_moderator, for_facilitator = await asyncio.gather(*readers)
    card = next(data for name, data in for_moderator if name == "answer")
    assert cards(card) == made, "one card, the new answer"
    assert f'id="t{thread}-published-n" hx-swap-oob="true">1<' in card
    assert 'data-key="pin"' in card or 'value="pin"' in card, "a moderator's card carries the actions"
    assert "Zoé 0" in card and "citoyen" in card
    plain = next(data for name, data in for_facilitator if name == "answer")
    assert cards(plain) == made and 'value="pin"' not in plain, "a facilitator's card does not"

"""The projector in a real browser at every size it must fit, the join slide and the word cloud.

Eight 280-character answers are on the thread: at each size, every answer drawn is whole and inside the
screen, its text at least 1/45 of the screen height, the page never scrolls, and at least as many answers
as the budget says are shown, in rank order. Screenshots of each go to the browser tests' folder.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from tests.conftest import SLUG, Server, start_server, stop_server
from tests.test_browser import (
    LIVE_MS,
    Contexts,
    add_moderator,
    assert_not_reloaded,
    describe,
    live,
    log_in,
    screenshot_dir,
    serious,
)
from tests.test_browser import browser as browser

pytestmark = pytest.mark.asyncio(loop_scope="module")

SIZES = [(1024, 768, 2), (1280, 720, 2), (1920, 1080, 3), (3840, 2160, 3)]
WORDS = [
    "expérimentation",
    "évaluer",
    "agents",
    "publics",
    "territoires",
    "confiance",
    "tiers-lieux",
    "communs",
    "numérique",
]


def answer_text(n: int) -> str:
    """A distinct answer of exactly 280 characters."""
    start = f"Réponse {n} : "
    words = " ".join(WORDS[(n + i) % len(WORDS)] for i in range(60))
    text = (start + words)[:279]
    return (text[:-1] + "s" if text.endswith(" ") else text) + "."


@dataclass
class Room:
    server: Server
    thread_id: int
    ranked: list[str]
    """The bodies in the order the API ranks them, which the screen must follow."""


async def participant(http: httpx.AsyncClient, thread_id: int, segment: str | None = None) -> dict[str, str]:
    """A new participant's cookies and the CSRF header, with a segment if given."""
    http.cookies.clear()
    assert (await http.get(f"/e/{SLUG}/t/{thread_id}")).status_code == 200
    headers = {"HX-Request": "true", "x-csrftoken": http.cookies["csrftoken"]}
    if segment:
        done = await http.post(f"/e/{SLUG}/profile", data={"segment": segment}, headers=headers)
        assert done.status_code == 200, done.text
    return headers


async def post(http: httpx.AsyncClient, thread_id: int, headers: dict[str, str], body: str) -> int:
    done = await http.post(f"/e/{SLUG}/t/{thread_id}/answers", data={"body": body}, headers=headers)
    assert done.status_code == 201, done.text
    found = re.search(r'id="a(\d+)"', done.text)
    assert found
    return int(found.group(1))


async def prepare(server: Server) -> Room:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        event = (await http.get(f"/api/events/{SLUG}")).json()
        thread_id = next(t["id"] for t in event["threads"] if t["status"] == "open")
        ids = []
        for n in range(8):
            if n % 4 == 0:
                headers = await participant(http, thread_id)
            body = answer_text(n + 1)
            assert len(body) == 280
            ids.append(await post(http, thread_id, headers, body))
        for voter in range(6):
            headers = await participant(http, thread_id, ["citoyen", "agent public", "étudiant"][voter % 3])
            for rank, answer in enumerate(ids):
                if rank <= voter:
                    await http.post(
                        f"/e/{SLUG}/answers/{answer}/vote",
                        data={"value": "1" if rank % 3 else "-1"},
                        headers=headers,
                    )
        ranked = [a["body"] for a in (await http.get(f"/api/threads/{thread_id}/answers")).json()]
    return Room(server, thread_id, ranked)


@pytest.fixture(scope="module")
def room_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of the module's own: its thread holds exactly the answers posted here."""
    running = start_server(tmp_path_factory.mktemp("projector"))
    try:
        yield running
    finally:
        stop_server(running)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def room(room_server: Server) -> Room:
    return await prepare(room_server)


@pytest_asyncio.fixture(loop_scope="module")
async def contexts(browser: Browser, room: Room) -> AsyncIterator[Contexts]:
    made = Contexts(browser, room.server)
    try:
        yield made
    finally:
        await made.close()


MEASURE = """
() => {
  const rows = [...document.querySelectorAll("ol.ranking > li.bar-row")].filter(r => r.offsetParent !== null);
  const text = r => r.querySelector(".bar-text");
  return {
    width: innerWidth, height: innerHeight,
    scrollWidth: document.scrollingElement.scrollWidth, scrollHeight: document.scrollingElement.scrollHeight,
    rows: rows.map(r => {
      const box = r.getBoundingClientRect(), t = text(r);
      return {
        id: r.id, text: t.textContent, top: box.top, bottom: box.bottom, left: box.left, right: box.right,
        font: parseFloat(getComputedStyle(t).fontSize), clipped: t.scrollHeight > t.clientHeight + 1
          || t.scrollWidth > t.clientWidth + 1,
        segments: parseFloat(getComputedStyle(r.querySelector(".segments")).fontSize),
      };
    }),
  };
}
"""


def check_fits(shown: dict[str, Any], room: Room, least: int, where: str) -> None:
    width, height = shown["width"], shown["height"]
    rows = shown["rows"]
    assert len(rows) >= least, f"{where}: {len(rows)} answers shown, at least {least} expected"
    assert shown["scrollHeight"] <= height and shown["scrollWidth"] <= width, f"{where}: the page scrolls"
    for row in rows:
        assert row["left"] >= 0 and row["right"] <= width, f"{where}: {row['id']} sticks out sideways"
        assert row["top"] >= 0 and row["bottom"] <= height, f"{where}: {row['id']} is cut at the bottom"
        assert not row["clipped"], f"{where}: the text of {row['id']} is clipped"
        assert row["font"] >= height / 45, f"{where}: answer text {row['font']} px under 1/45 of {height}"
        assert row["segments"] >= height / 60, f"{where}: segment labels of {row['segments']} px"
    bodies = [" ".join(r["text"].split()) for r in rows]
    assert bodies == [" ".join(b.split()) for b in room.ranked[: len(rows)]], (
        f"{where}: not whole or not in rank order"
    )


@pytest.mark.parametrize(("width", "height", "least"), SIZES)
async def test_the_projector_fits_every_screen_size(
    contexts: Contexts, room: Room, width: int, height: int, least: int
) -> None:
    screen = await contexts.page({"viewport": {"width": width, "height": height}})
    await live(screen, f"/e/{SLUG}/screen")
    shown = await screen.evaluate(MEASURE)
    check_fits(shown, room, least, f"{width}x{height}")
    await screen.screenshot(
        path=str(screenshot_dir() / f"screen-{width}x{height}.png"), animations="disabled"
    )


async def test_without_javascript_the_first_answers_are_whole_and_the_page_does_not_scroll(
    contexts: Contexts, room: Room
) -> None:
    screen = await contexts.page({"viewport": {"width": 1280, "height": 720}}, java_script_enabled=False)
    response = await screen.goto(f"/e/{SLUG}/screen")
    assert response is not None and response.status == 200
    shown = await screen.evaluate(MEASURE)
    inside = [r for r in shown["rows"] if r["right"] <= shown["width"]]
    shown["rows"] = inside
    check_fits(shown, room, 2, "1280x720 without JavaScript")


async def test_counts_that_move_flash_and_the_controls_stay_hidden_from_the_room(
    contexts: Contexts, room: Room
) -> None:
    screen = await contexts.page({"viewport": {"width": 1920, "height": 1080}})
    await live(screen, f"/e/{SLUG}/screen")
    first = screen.locator("ol.ranking > li.bar-row").first
    answer_id = int((await first.get_attribute("id") or "s0")[1:])
    before = int(await first.locator(".agree-n").inner_text())
    async with httpx.AsyncClient(base_url=room.server.url) as http:
        headers = await participant(http, room.thread_id)
        voted = await http.post(f"/e/{SLUG}/answers/{answer_id}/vote", data={"value": "1"}, headers=headers)
        assert voted.status_code == 200
    moved = screen.locator(f"#s{answer_id} .agree-n")
    await expect(moved).to_have_text(str(before + 1), timeout=LIVE_MS)
    await expect(moved).to_have_class(re.compile(r"\bmoved\b"))
    await assert_not_reloaded(screen)

    facilitator = await contexts.page({"viewport": {"width": 1920, "height": 1080}})
    await log_in(facilitator, add_moderator(room.server))
    await live(facilitator, f"/e/{SLUG}/screen")
    controls = facilitator.locator("nav.controls")
    assert await controls.evaluate("e => getComputedStyle(e).opacity") == "0"
    await controls.locator("a").first.focus()
    await expect(controls).to_have_css("opacity", "1")


async def test_the_join_slide_shows_the_code_the_qr_and_an_unbroken_address(
    contexts: Contexts, room: Room
) -> None:
    async with httpx.AsyncClient(base_url=room.server.url) as http:
        code = (await http.get(f"/api/events/{SLUG}")).json()["code"]
    assert re.fullmatch(r"\d{6}", code)
    for width, height in ((1024, 768), (1920, 1080)):
        slide = await contexts.page({"viewport": {"width": width, "height": height}})
        await live(slide, f"/e/{SLUG}/screen?show=join")
        assert await slide.locator(".bar-row").count() == 0
        await expect(slide.locator(".join-code strong")).to_have_text(f"{code[:3]} {code[3:]}")
        layout = await slide.evaluate(
            """() => ({
              qr: document.querySelector(".join-slide img").getBoundingClientRect().toJSON(),
              parts: [...document.querySelectorAll(".address span")].map(s => ({
                 lines: s.getClientRects().length, right: s.getBoundingClientRect().right})),
              scroll: document.scrollingElement.scrollHeight,
            })"""
        )
        assert layout["qr"]["bottom"] <= height and layout["qr"]["width"] >= height / 3
        assert layout["scroll"] <= height
        assert all(p["lines"] == 1 and p["right"] <= width for p in layout["parts"]), layout["parts"]
        if width == 1920:
            await slide.screenshot(path=str(screenshot_dir() / "screen-join.png"), animations="disabled")

    beside = await contexts.page({"viewport": {"width": 1024, "height": 768}})
    await live(beside, f"/e/{SLUG}/screen")
    await expect(beside.locator("aside.join .join-code strong")).to_have_text(f"{code[:3]} {code[3:]}")
    parts = await beside.evaluate(
        "[...document.querySelectorAll('aside.join .address span')].map(s => s.getClientRects().length)"
    )
    assert parts and all(n == 1 for n in parts)


async def test_the_word_cloud_grows_live(contexts: Contexts, room: Room) -> None:
    cloud = await contexts.page({"viewport": {"width": 1920, "height": 1080}})
    await live(cloud, f"/e/{SLUG}/screen?show=words")
    words = cloud.locator("ul.cloud li.word")
    assert await words.count() >= len(WORDS) - 1
    assert await cloud.locator("ul.cloud li.word", has_text=re.compile(r"^(des|les|the)$")).count() == 0
    fresh = "mot" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:6])
    async with httpx.AsyncClient(base_url=room.server.url) as http:
        headers = await participant(http, room.thread_id)
        await post(http, room.thread_id, headers, f"Un {fresh} tout neuf pour le nuage")
    await expect(cloud.locator("ul.cloud li.word", has_text=fresh)).to_have_count(1, timeout=LIVE_MS)
    await assert_not_reloaded(cloud)
    inside = await cloud.evaluate(
        """() => [...document.querySelectorAll("ul.cloud li.word")].filter(w => !w.hidden).every(w => {
             const r = w.getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth && r.bottom <= innerHeight; })"""
    )
    assert inside
    await cloud.screenshot(path=str(screenshot_dir() / "screen-words.png"), animations="disabled")


@pytest.mark.parametrize(("language", "locale"), [("fr", "fr-FR"), ("en", "en-US")])
async def test_the_projector_shows_are_accessible(contexts: Contexts, language: str, locale: str) -> None:
    options = {"locale": locale, "extra_http_headers": {"Accept-Language": language}}
    axe = Axe()
    found = []
    for show in ("", "?show=join", "?show=words"):
        page: Page = await contexts.page({"viewport": {"width": 1280, "height": 720}}, **options)
        await live(page, f"/e/{SLUG}/screen{show}")
        assert await page.evaluate("document.documentElement.lang") == language
        bad = serious((await axe.run(page)).response["violations"])
        if bad:
            found.append(describe(f"screen{show}", bad))
    join = await contexts.page(None, **options)
    await join.goto("/join")
    bad = serious((await axe.run(join)).response["violations"])
    if bad:
        found.append(describe("/join", bad))
    assert not found, "serious or critical axe violations:\n" + "\n".join(found)

"""The real server in a real browser (Debian's chromium through Playwright): phones, projector, moderator.

Every live check runs without a page reload: each page carries a `window.__marker` set before the
action, and the same marker must still be there afterwards (a reload or navigation would drop it).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Locator, Page, Route, async_playwright, expect

from tests.conftest import ROOT, SLUG, Server, add_served_account

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
PROJECTOR: dict[str, Any] = {"viewport": {"width": 1920, "height": 1080}}
DESK: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
WAIT_MS = 5_000  # any single wait
LIVE_MS = WAIT_MS  # a live update must arrive within this (a bound on a hang: the machine may be busy)
MOD_PASSWORD = "a-long-password"

# Marks the document when the page's live stream is open (htmx-ext-sse fires htmx:sseOpen on each
# connection). An attribute, not a variable, so that a selector can wait for it: on these pages (strict
# CSP, no eval) `page.wait_for_function` was seen to time out now and then although its condition held.
SSE_PROBE = """
document.addEventListener("htmx:sseOpen", function () {
  var root = document.documentElement;
  root.setAttribute("data-sse-open", String(Number(root.getAttribute("data-sse-open") || 0) + 1));
});
"""

if not Path(CHROMIUM).exists():  # pragma: no cover - the machine has it, see DESIGN.md
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One chromium for the whole module; each test opens its own contexts (separate cookies)."""
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield launched
        finally:
            await launched.close()


class Contexts:
    """Browser contexts opened by one test, closed at its end."""

    def __init__(self, browser: Browser, server: Server) -> None:
        self.browser = browser
        self.server = server
        self.opened: list[BrowserContext] = []

    async def page(self, device: dict[str, Any] | None = None, **options: Any) -> Page:
        context = await self.browser.new_context(base_url=self.server.url, **(device or {}), **options)
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(WAIT_MS)
        if options.get("java_script_enabled", True):
            await context.add_init_script(SSE_PROBE)
        self.opened.append(context)
        return await context.new_page()

    async def close(self) -> None:
        for context in self.opened:
            await context.close()


@dataclass
class Board:
    """The real server shared by the module's tests, and a moderator account on the demo event."""

    server: Server
    moderator: str


@pytest.fixture(scope="module")
def board(shared_server: Server) -> Board:
    """The session's shared server (starting one costs seconds); tests do not rely on each other's data."""
    return Board(shared_server, add_moderator(shared_server))


@pytest_asyncio.fixture(loop_scope="module")
async def contexts(browser: Browser, board: Board) -> AsyncIterator[Contexts]:
    made = Contexts(browser, board.server)
    try:
        yield made
    finally:
        await made.close()


# --- helpers -----------------------------------------------------------------------------------------


async def live(page: Page, path: str) -> None:
    """Open a live page, wait until its event stream is connected, and mark the document."""
    response = await page.goto(path)
    assert response is not None and response.status == 200, path
    await stream_open(page)
    await page.evaluate("window.__marker = 1")


async def stream_open(page: Page) -> None:
    await page.wait_for_selector("html[data-sse-open]", state="attached", timeout=WAIT_MS)


async def assert_not_reloaded(page: Page) -> None:
    assert await page.evaluate("window.__marker") == 1, "the page was reloaded or navigated away"
    assert await page.evaluate("performance.getEntriesByType('navigation').length") == 1


async def open_first_thread(page: Page) -> str:
    """From the event page, tap (or click) the first thread; return the thread's path."""
    response = await page.goto(f"/e/{SLUG}")
    assert response is not None and response.status == 200
    link = page.locator("ol.threads a.card-link").first
    href = await link.get_attribute("href")
    assert href and re.fullmatch(rf"/e/{SLUG}/t/\d+", href), href
    if await page.evaluate("navigator.maxTouchPoints > 0"):
        await link.tap()
    else:
        await link.click()
    await page.wait_for_url(f"**{href}")
    await expect(page.locator("#body")).to_be_visible()
    return href


async def post_answer(page: Page, text: str) -> str:
    """Write an answer in the thread page's form and submit it; return the new card's element id.

    The card is looked up with `.first`: when the page's own stream delivers the answer before the
    post's response, the card is shown twice (see test_own_answer_is_shown_once_when_the_stream_wins).
    """
    await page.locator("#body").fill(text)
    await page.locator("#answer-form button[type=submit]").click()
    card = page.locator("article.answer", has_text=text).first
    await expect(card).to_be_visible()
    card_id = await card.get_attribute("id")
    assert card_id and re.fullmatch(r"a\d+", card_id), card_id
    return card_id


def card(page: Page, card_id: str) -> Locator:
    return page.locator(f"article.answer#{card_id}").first


async def thread_path_on_screen(contexts: Contexts) -> str:
    """The participant path of the thread the projector shows (the first thread once seeded)."""
    probe = await contexts.page(PHONE)
    await probe.goto(f"/e/{SLUG}/screen")
    thread_id = await probe.locator("#board").get_attribute("data-thread")
    assert thread_id and thread_id.isdigit()
    return f"/e/{SLUG}/t/{thread_id}"


def add_moderator(server: Server) -> str:
    username = f"mod-{uuid.uuid4().hex[:6]}"
    add_served_account(server.env, username, MOD_PASSWORD, role="moderator")
    return username


async def log_in(page: Page, username: str) -> None:
    await page.goto("/login")
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(MOD_PASSWORD)
    async with page.expect_navigation():
        await page.locator("form[action='/login'] button[type=submit]").click()
    assert "/login" not in page.url, "the login failed"


# --- 1, 2: phones ------------------------------------------------------------------------------------


async def test_phone_answers_and_votes_without_reload(contexts: Contexts) -> None:
    phone = await contexts.page(PHONE)
    thread = await open_first_thread(phone)
    await stream_open(phone)
    await phone.evaluate("window.__marker = 1")

    text = f"Expérimenter, puis évaluer en public ({uuid.uuid4().hex[:6]})"
    card_id = await post_answer(phone, text)
    mine = card(phone, card_id)
    await expect(mine).to_have_class(re.compile(r"\bmine\b"))
    await expect(phone.locator("#body")).to_have_value("")  # a fresh form for the next answer

    await expect(mine.locator("button.agree")).to_have_attribute("aria-pressed", "false")
    await mine.locator("button.agree").tap()
    await expect(mine.locator(".agree .n")).to_have_text("1")
    await expect(mine.locator("button.agree")).to_have_attribute("aria-pressed", "true")
    await expect(mine.locator(".disagree .n")).to_have_text("0")
    await expect(mine.locator("button.disagree")).to_have_attribute("aria-pressed", "false")

    assert phone.url.endswith(thread)
    await assert_not_reloaded(phone)


async def test_second_phone_sees_answer_and_vote_live(contexts: Contexts) -> None:
    author = await contexts.page(PHONE)
    thread = await open_first_thread(author)
    watcher = await contexts.page(PHONE)
    await live(watcher, thread)

    text = f"Un droit à l'expérimentation pour les agents ({uuid.uuid4().hex[:6]})"
    card_id = await post_answer(author, text)

    seen = watcher.locator(f"article.answer#{card_id}")
    await expect(seen).to_contain_text(text, timeout=LIVE_MS)
    await expect(seen.locator(".agree .n")).to_have_text("0")
    await expect(seen).not_to_have_class(re.compile(r"\bmine\b"))  # the stream does not leak authorship

    await card(author, card_id).locator("button.agree").tap()
    await expect(card(author, card_id).locator(".agree .n")).to_have_text("1")
    await expect(seen.locator(".agree .n")).to_have_text("1", timeout=LIVE_MS)
    # The watcher did not vote: its own button stays unpressed.
    await expect(seen.locator("button.agree")).to_have_attribute("aria-pressed", "false")
    await expect(seen).to_have_count(1)
    await assert_not_reloaded(watcher)


async def test_own_answer_is_shown_once_when_the_stream_wins(contexts: Contexts) -> None:
    """The race made certain: the post's response is held until the stream has delivered the answer."""
    phone = await contexts.page(PHONE)
    thread = await open_first_thread(phone)
    await stream_open(phone)

    async def hold_until_streamed(route: Route) -> None:
        response = await route.fetch()
        found = re.search(r'id="(a\d+)"', await response.text())
        assert found, "the post's response carries no answer card"
        await phone.locator(f"article.answer#{found.group(1)}").first.wait_for(state="attached")
        await route.fulfill(response=response)

    await phone.route(f"**{thread}/answers", hold_until_streamed)
    text = f"Une seule fois, s'il vous plaît ({uuid.uuid4().hex[:6]})"
    card_id = await post_answer(phone, text)
    await expect(phone.locator("#body")).to_have_value("")  # the response has been swapped in
    shown = await phone.locator(f"article.answer#{card_id}").count()
    assert shown == 1, f"the answer is shown {shown} times"


# --- 3, 4: projector ---------------------------------------------------------------------------------


async def test_projector_shows_new_answer_and_votes_live(contexts: Contexts) -> None:
    thread = await thread_path_on_screen(contexts)
    screen = await contexts.page(PROJECTOR)
    await live(screen, f"/e/{SLUG}/screen")
    phone = await contexts.page(PHONE)
    await phone.goto(thread)
    votes_before = int(await screen.locator(f"#t{thread.rsplit('/', 1)[1]}-votes").inner_text())

    text = f"Des lieux ouverts où l'on fabrique ensemble ({uuid.uuid4().hex[:6]})"
    card_id = await post_answer(phone, text)
    row = screen.locator(f"ol.ranking li.bar-row#s{card_id.removeprefix('a')}")
    await expect(row).to_contain_text(text, timeout=LIVE_MS)
    await expect(row.locator(".agree-n")).to_have_text("0")

    await card(phone, card_id).locator("button.agree").tap()
    await expect(card(phone, card_id).locator(".agree .n")).to_have_text("1")
    await expect(row.locator(".agree-n")).to_have_text("1", timeout=LIVE_MS)
    await expect(row.locator(".disagree-n")).to_have_text("0")
    await expect(screen.locator(f"#t{thread.rsplit('/', 1)[1]}-votes")).to_have_text(
        str(votes_before + 1), timeout=LIVE_MS
    )
    await assert_not_reloaded(screen)


async def test_moderator_presents_a_thread_and_the_screen_follows(contexts: Contexts, board: Board) -> None:
    screen = await contexts.page(PROJECTOR)
    await live(screen, f"/e/{SLUG}/screen")
    before = (await screen.locator("h1.screen-prompt").inner_text()).strip()

    mod = await contexts.page(DESK)
    await log_in(mod, board.moderator)
    response = await mod.goto(f"/mod/{SLUG}")
    assert response is not None and response.status == 200
    threads = mod.locator("article.mod-thread")
    assert await threads.count() >= 3
    third = threads.nth(2)
    prompt = (await third.locator("h3").inner_text()).strip()
    assert prompt and prompt != before, "the third thread is already on screen"

    await third.locator("form button[name=action][value=present]").click()
    await expect(screen.locator("h1.screen-prompt")).to_have_text(prompt, timeout=LIVE_MS)
    await assert_not_reloaded(screen)


async def test_moderation_board_marks_the_presented_thread(contexts: Contexts, board: Board) -> None:
    mod = await contexts.page(DESK)
    await log_in(mod, board.moderator)
    await live(mod, f"/mod/{SLUG}")
    second = mod.locator("article.mod-thread").nth(1)
    await second.locator("form button[name=action][value=present]").click()
    await expect(mod.locator("article.mod-thread").nth(1).locator("p.meta strong")).to_be_visible(
        timeout=LIVE_MS
    )
    await expect(mod.locator("article.mod-thread p.meta strong")).to_have_count(1)
    await assert_not_reloaded(mod)


async def test_moderator_keeps_typing_while_a_new_answer_arrives_as_one_card(
    contexts: Contexts, board: Board
) -> None:
    mod = await contexts.page(DESK)
    await log_in(mod, board.moderator)
    await live(mod, f"/mod/{SLUG}")
    prompt = mod.locator("#new-prompt")
    await prompt.click()
    await prompt.press_sequentially("Faut-il évaluer")

    phone = await contexts.page(PHONE)
    await open_first_thread(phone)
    await post_answer(phone, "Arrivée pendant la saisie du modérateur")
    # The new answer comes as one card in its thread's list: nothing else on the board is redrawn.
    arrived = mod.locator("#mod-board .mod-card > p.body", has_text="Arrivée pendant la saisie du modérateur")
    await expect(arrived).to_be_visible(timeout=LIVE_MS)
    await expect(prompt).to_be_focused()
    await expect(prompt).to_have_value("Faut-il évaluer")
    await expect(mod.locator("#mod-news")).to_be_hidden()

    await prompt.press_sequentially(" chaque expérimentation ?")
    await expect(mod.locator("#new-prompt")).to_have_value("Faut-il évaluer chaque expérimentation ?")
    await assert_not_reloaded(mod)


# --- 5: no JavaScript --------------------------------------------------------------------------------


async def redirected_by_303(page: Page, click: Locator) -> None:
    """Submit a plain form: a POST answered 303, then the GET it points to answered 200."""
    async with page.expect_navigation() as navigation:
        await click.tap()
    landed = await navigation.value
    assert landed is not None and landed.status == 200
    posted = landed.request.redirected_from
    assert posted is not None and posted.method == "POST", "no redirect after the post"
    first_hop = await posted.response()
    assert first_hop is not None and first_hop.status == 303


async def test_participant_flow_without_javascript(contexts: Contexts) -> None:
    phone = await contexts.page(PHONE, java_script_enabled=False)
    thread = await open_first_thread(phone)
    assert await phone.locator("html[data-sse-open]").count() == 0

    text = f"Sans JavaScript aussi ({uuid.uuid4().hex[:6]})"
    await phone.locator("#body").fill(text)
    await redirected_by_303(phone, phone.locator("#answer-form button[type=submit]"))
    assert thread in phone.url

    posted = phone.locator("article.answer", has_text=text)
    await expect(posted).to_have_count(1)
    card_id = await posted.get_attribute("id")
    assert card_id and phone.url.endswith(f"#{card_id}")  # the redirect lands on the new answer
    await expect(posted).to_have_class(re.compile(r"\bmine\b"))
    await expect(posted.locator(".agree .n")).to_have_text("0")

    await redirected_by_303(phone, posted.locator("button.agree"))
    voted = phone.locator(f"article.answer#{card_id}")
    await expect(voted.locator(".agree .n")).to_have_text("1")
    await expect(voted.locator("button.agree")).to_have_attribute("aria-pressed", "true")


# --- 6: screenshots ----------------------------------------------------------------------------------


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("BOARD_SCREENSHOTS") or ROOT / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def test_screenshots(browser: Browser, server: Server) -> None:
    """On a server of its own, so that the pictures show only the answers posted here."""
    folder = screenshot_dir()
    contexts = Contexts(browser, server)
    french = {"locale": "fr-FR", "extra_http_headers": {"Accept-Language": "fr"}}
    try:
        thread = await thread_path_on_screen(contexts)
        phone = await contexts.page(PHONE, **french)
        await live(phone, thread)
        for text in (
            "Expérimenter, c'est accepter de se tromper en public, puis évaluer ce qui marche.",
            "Il faut un droit à l'erreur pour les agents publics.",
        ):
            card_id = await post_answer(phone, text)
        await card(phone, card_id).locator("button.agree").tap()
        await expect(card(phone, card_id).locator(".agree .n")).to_have_text("1")

        screen = await contexts.page(PROJECTOR, **french)
        await live(screen, f"/e/{SLUG}/screen")
        await expect(screen.locator("ol.ranking li.bar-row")).to_have_count(2)

        mod = await contexts.page(DESK, **french)
        await log_in(mod, add_moderator(server))
        await live(mod, f"/mod/{SLUG}")
        await expect(mod.locator("article.mod-thread li.mod-card")).to_have_count(2)

        shots = {
            "participant-thread.png": (phone, True),
            "moderation.png": (mod, True),
            "screen.png": (screen, False),
        }
        for name, (page, full) in shots.items():
            path = folder / name
            await page.screenshot(path=str(path), full_page=full, animations="disabled", timeout=WAIT_MS)
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    finally:
        await contexts.close()


# --- 7: accessibility --------------------------------------------------------------------------------


def serious(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v.get("impact") in ("serious", "critical")]


def describe(where: str, violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{where}: [{v.get('impact')}] {v['id']}: {v.get('help')} ({v.get('helpUrl', '')})")
        for node in v.get("nodes", [])[:10]:
            lines.append(
                f"    {', '.join(map(str, node.get('target', [])))}: {node.get('failureSummary', '')}"
            )
    return "\n".join(lines)


@pytest.mark.parametrize(("language", "locale"), [("fr", "fr-FR"), ("en", "en-US")])
async def test_no_serious_accessibility_violation(
    contexts: Contexts, board: Board, language: str, locale: str
) -> None:
    options = {"locale": locale, "extra_http_headers": {"Accept-Language": language}}
    axe = Axe()
    found: list[str] = []

    async def check(page: Page, where: str) -> None:
        assert await page.evaluate("document.documentElement.lang") == language, where
        results = await axe.run(page)
        bad = serious(results.response["violations"])
        if bad:
            found.append(describe(where, bad))

    thread = await thread_path_on_screen(contexts)
    phone = await contexts.page(PHONE, **options)
    await live(phone, f"/e/{SLUG}")
    await check(phone, "event page")

    await live(phone, thread)
    card_id = await post_answer(phone, f"Une réponse pour l'audit d'accessibilité ({language}).")
    await card(phone, card_id).locator("button.agree").tap()
    await expect(card(phone, card_id).locator(".agree .n")).to_have_text("1")
    await expect(phone.locator(".htmx-request")).to_have_count(0)  # the vote sent: buttons no longer dimmed
    await check(phone, "thread page")

    mod = await contexts.page(DESK, **options)
    await log_in(mod, board.moderator)
    await live(mod, f"/mod/{SLUG}")
    await expect(mod.locator(f"article.mod-thread li.mod-card#{card_id}")).to_have_count(1)
    await check(mod, "moderation page")

    screen = await contexts.page(PROJECTOR, **options)
    await live(screen, f"/e/{SLUG}/screen")
    await expect(screen.locator(f"ol.ranking li.bar-row#s{card_id.removeprefix('a')}")).to_have_count(1)
    await check(screen, "screen page")

    assert not found, "serious or critical axe violations:\n" + "\n".join(found)

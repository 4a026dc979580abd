"""A phone in a real browser (Debian's chromium) follows what the facilitator does: the thread on the
projector, a timer and its last seconds, a closed thread; the answer form counts and never cuts; a vote
shows at once; similar answers come up while typing. On a server of its own: these tests close threads."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, Route, async_playwright, expect

from tests.conftest import CSRF_RE, SLUG, Server, add_served_account, start_server, stop_server
from tests.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    MOD_PASSWORD,
    PHONE,
    Contexts,
    describe,
    live,
    redirected_by_303,
    screenshot_dir,
    serious,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

FRENCH: dict[str, Any] = {"locale": "fr-FR", "extra_http_headers": {"Accept-Language": "fr"}}
LOADING_MS = 30_000
"""A bound on the first suggestion of a fresh server on a busy machine, not a speed check."""
FOLLOW_MS = 2_000
SPREAD_MS = 3_000
"""Refreshes triggered by a status wait a random delay of up to this (board.js), so that phones do not
all ask at once."""
"""A phone shows what the facilitator did within this, from the facilitator's response."""


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("phone"))
    try:
        yield running
    finally:
        stop_server(running)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def contexts(browser: Browser, own_server: Server) -> AsyncIterator[Contexts]:
    made = Contexts(browser, own_server)
    try:
        yield made
    finally:
        await made.close()


class Facilitator:
    """A facilitator's desk, driven over HTTP: the moderation console is not what is tested here."""

    def __init__(self, server: Server) -> None:
        self.username = f"anim-{uuid.uuid4().hex[:6]}"
        add_served_account(server.env, self.username, MOD_PASSWORD, role="facilitator")
        self.http = httpx.AsyncClient(base_url=server.url, timeout=10)
        self.csrf = ""

    async def __aenter__(self) -> Facilitator:
        page = await self.http.get("/login")
        self.csrf = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
        signed = await self.http.post(
            "/login", data={"username": self.username, "password": MOD_PASSWORD, "_csrf_token": self.csrf}
        )
        assert signed.status_code == 303
        self.csrf = CSRF_RE.search((await self.http.get(f"/mod/{SLUG}")).text).group(1)  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.aclose()

    async def thread(self, thread_id: int, **fields: str) -> None:
        done = await self.http.post(
            f"/mod/{SLUG}/threads/{thread_id}", data={**fields, "_csrf_token": self.csrf}
        )
        assert done.status_code == 303, done.text

    async def thread_ids(self) -> list[int]:
        event = (await self.http.get(f"/api/events/{SLUG}")).json()
        return [t["id"] for t in event["threads"]]


async def test_a_phone_follows_present_timer_and_close_within_2_s(
    contexts: Contexts, own_server: Server
) -> None:
    async with Facilitator(own_server) as desk:
        first, second, third = (await desk.thread_ids())[:3]
        listing = await contexts.page(PHONE)
        await live(listing, f"/e/{SLUG}")
        phone = await contexts.page(PHONE)
        await live(phone, f"/e/{SLUG}/t/{third}")

        await desk.thread(second, action="present")
        mark = listing.locator(f'li[data-thread="{second}"] [data-on-screen]')
        await expect(mark).to_be_visible(timeout=FOLLOW_MS)
        await expect(listing.locator("[data-on-screen]:visible")).to_have_count(1)
        await expect(listing.locator(f'li[data-thread="{second}"]')).to_have_class(
            re.compile(r"\bpresented\b")
        )

        await desk.thread(third, action="present")
        await expect(phone.locator(f'[data-on-screen="{third}"]')).to_be_visible(timeout=FOLLOW_MS)
        await desk.thread(first, action="present")
        await expect(phone.locator(f'[data-on-screen="{third}"]')).to_be_hidden(timeout=FOLLOW_MS)
        await desk.thread(third, action="present")
        await expect(phone.locator(f'[data-on-screen="{third}"]')).to_be_visible(timeout=FOLLOW_MS)

        await desk.thread(third, action="timer", seconds="300")
        countdown = phone.locator(f'[data-countdown="{third}"]')
        await expect(countdown).to_be_visible(timeout=FOLLOW_MS)
        await expect(countdown.locator(".time")).to_have_text(re.compile(r"^[45]:\d\d$"))
        await expect(listing.locator(f'li[data-thread="{third}"] [data-countdown]')).to_be_visible(
            timeout=FOLLOW_MS
        )
        await expect(countdown).not_to_have_class(re.compile(r"\bending\b"))

        await desk.thread(third, action="timer", seconds="12")
        await expect(countdown).to_have_class(re.compile(r"\bending\b"), timeout=4_000 + FOLLOW_MS)
        await expect(countdown.locator(".time")).to_have_text(re.compile(r"^0:(10|0\d)$"))
        await desk.thread(third, action="timer", seconds="0")
        await expect(countdown).to_be_hidden(timeout=FOLLOW_MS)

        await desk.thread(third, action="close")
        await expect(phone.locator("#body")).to_be_disabled(timeout=FOLLOW_MS)
        await expect(phone.locator("#answer-form button[type=submit]")).to_be_disabled()
        await expect(phone.locator("[data-closed-notice]")).to_be_visible()
        await expect(listing.locator(f'li[data-thread="{third}"] [data-closed-mark]')).to_be_visible(
            timeout=FOLLOW_MS
        )

        await desk.thread(third, action="open")
        await expect(phone.locator("#body")).to_be_enabled(timeout=FOLLOW_MS)
        await desk.thread(third, action="timer", seconds="2", auto_close="1")
        await expect(countdown).to_be_visible(timeout=FOLLOW_MS)
        await expect(phone.locator("#body")).to_be_disabled(timeout=2_000 + 1_000 + FOLLOW_MS)
        await expect(phone.locator("[data-closed-notice]")).to_be_visible()
        assert await phone.evaluate("window.__marker") == 1 and await listing.evaluate("window.__marker") == 1
        await desk.thread(third, action="open")
        await desk.thread(first, action="present")


async def test_the_answer_box_counts_and_a_long_paste_is_refused_whole(
    contexts: Contexts, own_server: Server
) -> None:
    async with Facilitator(own_server) as desk:
        thread_id = (await desk.thread_ids())[0]
    phone = await contexts.page(PHONE, **FRENCH)
    await live(phone, f"/e/{SLUG}/t/{thread_id}")
    pasted = "Une réponse collée bien trop longue. " * 14
    await phone.locator("#body").fill(pasted)
    assert len(await phone.locator("#body").input_value()) == len(pasted)
    over = len(pasted.strip()) - 500
    await expect(phone.locator("#body-count")).to_have_text(f"{over} caractères de trop")
    await phone.locator("#answer-form button[type=submit]").click()
    await expect(phone.locator("#body-error")).to_contain_text(
        f"{len(pasted.strip())} caractères ; 500 au plus"
    )
    assert (await phone.locator("#body").input_value()).strip() == pasted.strip()
    await phone.locator("#body").fill("Court.")
    await expect(phone.locator("#body-count")).to_have_text("6 / 500 caractères")


async def test_a_vote_shows_pressed_before_the_server_answers(contexts: Contexts, own_server: Server) -> None:
    async with Facilitator(own_server) as desk:
        thread_id = (await desk.thread_ids())[0]
    author = await contexts.page(PHONE)
    await live(author, f"/e/{SLUG}/t/{thread_id}")
    text = f"Voter doit se voir tout de suite ({uuid.uuid4().hex[:6]})"
    await author.locator("#body").fill(text)
    await author.locator("#answer-form button[type=submit]").click()
    await expect(author.locator("article.answer", has_text=text).first).to_be_visible()

    voter = await contexts.page(PHONE)
    await live(voter, f"/e/{SLUG}/t/{thread_id}")
    answer = voter.locator("article.answer", has_text=text)
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold(route: Route) -> None:
        held.set()
        await release.wait()
        await route.continue_()

    await voter.route("**/vote", hold)
    await answer.locator("button.agree").tap()
    await asyncio.wait_for(held.wait(), 5)
    await expect(answer.locator("button.agree")).to_have_attribute("aria-pressed", "true")
    await expect(answer.locator(".agree .n")).to_have_text("1")
    release.set()
    await expect(answer.locator("form.vote")).not_to_have_class(re.compile(r"\bsending\b"))
    await expect(answer.locator(".agree .n")).to_have_text("1")

    await voter.unroute("**/vote")
    await voter.route("**/vote", lambda route: route.abort())
    await answer.locator("button.disagree").tap()
    await expect(answer.locator("button.agree")).to_have_attribute("aria-pressed", "true")
    await expect(answer.locator(".disagree .n")).to_have_text("0")


async def test_similar_answers_come_up_while_typing_and_posting_stays_possible(
    contexts: Contexts, own_server: Server
) -> None:
    async with Facilitator(own_server) as desk:
        thread_id = (await desk.thread_ids())[1]
    first = await contexts.page(PHONE, **FRENCH)
    await live(first, f"/e/{SLUG}/t/{thread_id}")
    original = "Le droit à l'erreur doit être reconnu aux agents publics qui innovent."
    await first.locator("#body").fill(original)
    await first.locator("#answer-form button[type=submit]").click()
    await expect(first.locator("article.answer", has_text=original).first).to_be_visible()

    phone = await contexts.page(PHONE, **FRENCH)
    await live(phone, f"/e/{SLUG}/t/{thread_id}")
    await phone.locator("#body").press_sequentially(
        "reconnaître un droit à l'erreur pour les fonctionnaires qui innovent"
    )
    suggestion = phone.locator("#similar .similar-answer", has_text=original)
    await expect(suggestion).to_be_visible(timeout=LOADING_MS)
    await suggestion.locator("button.agree").tap()
    await expect(suggestion.locator(".agree .n")).to_have_text("1")
    await expect(phone.locator(".similar-answer")).to_have_count(1)

    path = screenshot_dir() / "phone.png"
    await phone.screenshot(path=str(path), full_page=True, animations="disabled")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    await phone.locator("#answer-form button[type=submit]").click()
    await expect(phone.locator("article.answer.mine")).to_have_count(1)
    await expect(phone.locator("#similar .similar-answer")).to_have_count(0)


async def test_without_javascript_the_state_is_drawn_by_the_server(
    contexts: Contexts, own_server: Server
) -> None:
    async with Facilitator(own_server) as desk:
        thread_ids = await desk.thread_ids()
        await desk.thread(thread_ids[3], action="timer", seconds="600")
        await desk.thread(thread_ids[2], action="close")
        phone = await contexts.page(PHONE, java_script_enabled=False, **FRENCH)
        await phone.goto(f"/e/{SLUG}/t/{thread_ids[3]}")
        await expect(phone.locator(f'[data-countdown="{thread_ids[3]}"] .time')).to_have_text(
            re.compile(r"^(9|10):\d\d$")
        )
        await phone.locator("#body").fill("x" * 501)
        await phone.locator("#answer-form button[type=submit]").click()
        await expect(phone.locator("#body-error")).to_contain_text("501")
        await phone.locator("#body").fill("Une réponse sans JavaScript, le minuteur tourne.")
        await redirected_by_303(phone, phone.locator("#answer-form button[type=submit]"))
        posted = phone.locator("article.answer", has_text="le minuteur tourne")
        await redirected_by_303(phone, posted.locator("button.agree"))
        await expect(
            phone.locator("article.answer", has_text="le minuteur tourne").locator(".agree .n")
        ).to_have_text("1")
        await phone.goto(f"/e/{SLUG}/t/{thread_ids[2]}")
        await expect(phone.locator("#body")).to_be_disabled()
        await expect(phone.locator("[data-closed-notice]")).to_be_visible()
        await desk.thread(thread_ids[2], action="open")
        await desk.thread(thread_ids[3], action="timer", seconds="0")


@pytest.mark.parametrize(("language", "locale"), [("fr", "fr-FR"), ("en", "en-US")])
async def test_phone_pages_with_timer_suggestions_and_closed_threads_are_accessible(
    contexts: Contexts, own_server: Server, language: str, locale: str
) -> None:
    options: dict[str, Any] = {"locale": locale, "extra_http_headers": {"Accept-Language": language}}
    axe = Axe()
    found: list[str] = []

    async def check(page: Page, where: str) -> None:
        assert await page.evaluate("document.documentElement.lang") == language
        bad = serious((await axe.run(page)).response["violations"])
        if bad:
            found.append(describe(where, bad))

    async with Facilitator(own_server) as desk:
        thread_ids = await desk.thread_ids()
        thread_id = thread_ids[1]
        await desk.thread(thread_id, action="timer", seconds="300", auto_close="1")
        await desk.thread(thread_ids[2], action="close")
        phone = await contexts.page(PHONE, **options)
        await live(phone, f"/e/{SLUG}")
        await expect(phone.locator(f'li[data-thread="{thread_id}"] [data-countdown]')).to_be_visible()
        await check(phone, "event page")
        await live(phone, f"/e/{SLUG}/t/{thread_id}")
        await phone.locator("#body").fill(
            "Le droit à l'erreur des agents publics qui innovent doit être reconnu"
        )
        await phone.locator("#body").dispatch_event("input")
        await expect(phone.locator("#similar .similar-answer").first).to_be_visible(timeout=LOADING_MS)
        await check(phone, "thread page with a timer and suggestions")
        await live(phone, f"/e/{SLUG}/t/{thread_ids[2]}")
        await check(phone, "closed thread page")
        header = phone.locator("header.top .lang-switch a.lang")
        box = await header.bounding_box()
        assert box is not None and box["height"] >= 44
        await desk.thread(thread_id, action="timer", seconds="0")
        await desk.thread(thread_ids[2], action="open")
    assert not found, "serious or critical axe violations:\n" + "\n".join(found)


async def test_last_an_event_that_closes_sends_phones_to_the_results(
    contexts: Contexts, own_server: Server
) -> None:
    """Last in the module: it closes the event of the module's server."""
    from board.app import build_context
    from board.domain import accounts
    from board.settings import Settings
    from tests.conftest import in_thread
    from tests.test_event_admin import _form_values

    username = f"admin-{uuid.uuid4().hex[:6]}"

    async def add_admin() -> None:
        ctx = build_context(Settings.from_env(env=own_server.env))
        try:
            await accounts.add_account(ctx, username, MOD_PASSWORD, is_admin=True)
        finally:
            await ctx.db.dispose()
            await ctx.live.close()

    in_thread(add_admin)
    async with Facilitator(own_server) as desk:
        thread_id = (await desk.thread_ids())[0]
    phone = await contexts.page(PHONE, **FRENCH)
    await live(phone, f"/e/{SLUG}/t/{thread_id}")
    listing = await contexts.page(PHONE, **FRENCH)
    await live(listing, f"/e/{SLUG}")
    async with httpx.AsyncClient(base_url=own_server.url, timeout=10) as admin:
        token = CSRF_RE.search((await admin.get("/login")).text).group(1)  # type: ignore[union-attr]
        signed = await admin.post(
            "/login", data={"username": username, "password": MOD_PASSWORD, "_csrf_token": token}
        )
        assert signed.status_code == 303
        form = await admin.get(f"/admin/events/{SLUG}")
        fields = {**_form_values(form.text), "status": "closed"}
        fields["_csrf_token"] = CSRF_RE.search(form.text).group(1)  # type: ignore[union-attr]
        assert (await admin.post(f"/admin/events/{SLUG}", data=fields)).status_code == 303
    await expect(phone.locator("#body")).to_be_disabled(timeout=FOLLOW_MS)
    for page in (phone, listing):
        await expect(page.locator(f'.event-over a[href="/e/{SLUG}/results"]')).to_be_visible(
            timeout=SPREAD_MS + FOLLOW_MS
        )
        assert await page.evaluate("window.__marker") == 1

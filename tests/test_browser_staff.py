"""Staff in a real browser (Debian's chromium): an admin invites a moderator and a facilitator, each accepts
in a browser of their own, and the moderator runs a thread of 300 answers with search and merge-by-search;
the new pages pass axe in French and English; screenshots of the console on a laptop and a phone."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from board.app import build_context
from board.domain import accounts, events, passwords
from board.settings import Settings
from tests.conftest import CSRF_RE, SLUG, Server, in_thread
from tests.crowd import answer_thread
from tests.test_browser import (
    LIVE_MS,
    PHONE,
    Contexts,
    assert_not_reloaded,
    browser,
    describe,
    live,
    screenshot_dir,
    serious,
)

__all__ = ["browser"]
pytestmark = pytest.mark.asyncio(loop_scope="module")

LAPTOP: dict[str, Any] = {"viewport": {"width": 1366, "height": 768}}
ADMIN_PASSWORD = "le mot de passe de l'admin"
CHOSEN_PASSWORD = "mon mot de passe choisi"


def served(server: Server, job: Any) -> Any:
    """Runs `job(ctx)` against the served board's database, from the test process (what it publishes stays
    in this process: the served board reads it from the database)."""

    async def run() -> Any:
        ctx = build_context(Settings.from_env(env=server.env))
        try:
            async with ctx.live.channels.plugin:
                return await job(ctx)
        finally:
            await ctx.db.dispose()
            await ctx.live.close()

    return in_thread(run)


def add_admin(server: Server) -> str:
    username = f"admin-{uuid.uuid4().hex[:6]}"
    served(server, lambda ctx: accounts.add_account(ctx, username, ADMIN_PASSWORD, is_admin=True))
    return username


def thread_ids(server: Server) -> list[int]:
    async def listed(ctx: Any) -> list[int]:
        event = await events.get_event(ctx, SLUG)
        return [t.id for t in await events.list_threads(ctx, event.id)]

    ids: list[int] = served(server, listed)
    return ids


async def sign_in(page: Page, username: str, password: str) -> None:
    await page.goto("/login")
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(password)
    async with page.expect_navigation():
        await page.locator("form[action='/login'] button[type=submit]").click()
    assert "/login" not in page.url, "the sign-in failed"


async def invite(admin: Page, role: str, label: str) -> str:
    """On the staff page, create a link for `role`; return its path as the page shows it once."""
    await admin.goto(f"/admin/events/{SLUG}/staff")
    await admin.locator("#label").fill(label)
    await admin.locator(f"input[name=role][value={role}]").check()
    async with admin.expect_navigation():
        await admin.get_by_role("button", name=re.compile("Créer le lien|Create the invitation")).click()
    link = await admin.locator("#invite-link").input_value()
    found = re.search(r"/invite/[A-Za-z0-9_-]+$", link)
    assert found, link
    return found.group(0)


async def accept(page: Page, path: str, username: str) -> None:
    await page.goto(path)
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(CHOSEN_PASSWORD)
    async with page.expect_navigation():
        await page.locator("form button[type=submit]").click()
    assert page.url.endswith(f"/mod/{SLUG}"), page.url


@pytest_asyncio.fixture(loop_scope="module")
async def own(browser: Browser, server: Server) -> AsyncIterator[Contexts]:
    made = Contexts(browser, server)
    try:
        yield made
    finally:
        await made.close()


async def answer_over_http(server: Server, thread: int, text: str) -> str:
    """A participant's answer sent as the phone's form would (a phone rendering 300 answers is slow to drive)."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as phone:
        page = await phone.get(f"/e/{SLUG}/t/{thread}")
        token = CSRF_RE.search(page.text)
        assert token, "the thread page has its form"
        posted = await phone.post(
            f"/e/{SLUG}/t/{thread}/answers", data={"body": text, "_csrf_token": token.group(1)}
        )
        assert posted.status_code == 303, posted.text
    found = re.search(r"#(a\d+)$", posted.headers["location"])
    assert found, posted.headers["location"]
    return found.group(1)


async def no_horizontal_scroll(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= await page.evaluate("window.innerWidth"), f"the page is {width}px wide"


async def test_an_organiser_invites_staff_and_the_moderator_runs_300_answers(
    own: Contexts, server: Server
) -> None:
    french = {"locale": "fr-FR", "extra_http_headers": {"Accept-Language": "fr"}}
    admin = await own.page(LAPTOP, **french)
    await sign_in(admin, add_admin(server), ADMIN_PASSWORD)
    moderator_link = await invite(admin, "moderator", "Camille, modération")
    facilitator_link = await invite(admin, "facilitator", "Fatou, animation")

    facilitator = await own.page(PHONE, **french)
    await accept(facilitator, facilitator_link, "fatou")
    await expect(facilitator.locator("button[data-key=pin]")).to_have_count(0)
    await no_horizontal_scroll(facilitator)

    mod = await own.page(LAPTOP, **french)
    await accept(mod, moderator_link, "camille")
    staff_page = await admin.goto(f"/admin/events/{SLUG}/staff")
    assert staff_page is not None and staff_page.status == 200
    await expect(admin.locator("ul.people").first).to_contain_text("camille")
    await expect(admin.locator("ul.people").first).to_contain_text("fatou")

    thread = thread_ids(server)[0]
    served(server, lambda ctx: answer_thread(ctx, SLUG, thread, 300))
    await live(mod, f"/mod/{SLUG}?thread={thread}&tab=published")
    await expect(mod.locator("ol.mod-answers > li.mod-card")).to_have_count(50)
    await expect(mod.locator(f"#t{thread}-published-n")).to_have_text("300")

    # Search narrows the tab; then merge one answer into another found by typing.
    await mod.locator("#console-q").fill("tiers lieux")
    async with mod.expect_navigation():
        await mod.locator("#console-q").press("Enter")
    await expect(mod.locator("ol.mod-answers > li.mod-card")).to_have_count(50)
    await expect(mod.locator("ol.mod-answers > li.mod-card p.body").first).to_contain_text("tiers lieux")
    await live(mod, f"/mod/{SLUG}?thread={thread}&tab=published")
    source = mod.locator("ol.mod-answers > li.mod-card").first
    source_id = await source.get_attribute("id")
    await source.locator("details.merge summary").click()
    await source.locator("input[type=search]").press_sequentially("droit à l'erreur", delay=20)
    pick = source.locator("button.pick").first
    await expect(pick).to_be_visible(timeout=LIVE_MS)
    target_id = await pick.get_attribute("data-into")
    await pick.click()
    await expect(mod.locator(f"ol.mod-answers > li#{source_id}")).to_have_count(0)
    merged = mod.locator(f"li#a{target_id} .merged#{source_id}")
    await expect(merged).to_contain_text("fusionnée avec cette réponse")
    await assert_not_reloaded(mod)

    # A new answer arrives as one card while the moderator types a search: the text and focus stay.
    await mod.locator("#console-q").click()
    await mod.locator("#console-q").press_sequentially("en cours de saisie")
    card_id = await answer_over_http(server, thread, "Une nouvelle réponse pendant la modération")
    await expect(mod.locator(f"ol.mod-answers > li#{card_id}")).to_be_visible(timeout=LIVE_MS)
    await expect(mod.locator("#console-q")).to_be_focused()
    await expect(mod.locator("#console-q")).to_have_value("en cours de saisie")
    await expect(mod.locator(f"#t{thread}-published-n")).to_have_text("300")  # 300, less 1 merged, plus 1 new
    await assert_not_reloaded(mod)

    folder = screenshot_dir()
    await mod.locator("#console-q").fill("")
    await mod.evaluate("window.scrollTo(0, 0)")
    await mod.screenshot(path=str(folder / "moderation-console-laptop.png"), animations="disabled")
    small = await own.page(PHONE, **french)
    await sign_in(small, "camille", CHOSEN_PASSWORD)
    await small.goto(f"/mod/{SLUG}?thread={thread}&tab=published")
    await no_horizontal_scroll(small)
    await small.screenshot(path=str(folder / "moderation-console-phone.png"), animations="disabled")
    await small.goto(f"/mod/{SLUG}")
    await no_horizontal_scroll(small)
    await admin.screenshot(path=str(folder / "staff-laptop.png"), animations="disabled")
    for name in ("moderation-console-laptop.png", "moderation-console-phone.png", "staff-laptop.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


@pytest.mark.parametrize(("language", "locale"), [("fr", "fr-FR"), ("en", "en-US")])
async def test_the_staff_pages_and_the_console_pass_axe(
    own: Contexts, server: Server, language: str, locale: str
) -> None:
    options = {"locale": locale, "extra_http_headers": {"Accept-Language": language}}
    axe = Axe()
    found: list[str] = []

    async def check(page: Page, where: str) -> None:
        assert await page.evaluate("document.documentElement.lang") == language, where
        bad = serious((await axe.run(page)).response["violations"])
        if bad:
            found.append(describe(where, bad))

    thread = thread_ids(server)[0]
    served(server, lambda ctx: answer_thread(ctx, SLUG, thread, 8))
    admin = await own.page(LAPTOP, **options)
    await sign_in(admin, add_admin(server), ADMIN_PASSWORD)
    link = await invite(admin, "moderator", "Axe")
    await check(admin, "staff page with a new link")

    newcomer = await own.page(PHONE, **options)
    await newcomer.goto(link)
    await check(newcomer, "invitation page")
    await accept(newcomer, link, f"axe-{language}")
    await check(newcomer, "console overview (phone)")
    await live(newcomer, f"/mod/{SLUG}?thread={thread}&tab=published")
    await newcomer.locator("li.mod-card details.merge summary").first.click()
    await newcomer.locator("li.mod-card input[type=search]").first.press_sequentially("Proposition", delay=20)
    await expect(newcomer.locator("button.pick").first).to_be_visible(timeout=LIVE_MS)
    await check(newcomer, "console thread with a merge search (phone)")
    await newcomer.goto(f"/mod/{SLUG}/audit")
    await check(newcomer, "audit log")
    await newcomer.goto("/account/password")
    await check(newcomer, "password page")
    token = served(server, lambda ctx: passwords.create_reset(ctx, f"axe-{language}"))
    reset = await newcomer.goto(f"/reset/{token}")
    assert reset is not None and reset.status == 200, "the link printed by `board account reset` opens"
    await check(newcomer, "reset page")
    assert not found, "serious or critical axe violations:\n" + "\n".join(found)

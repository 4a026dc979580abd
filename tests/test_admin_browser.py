"""An organiser's walk in a real browser (Debian's chromium through Playwright): sign in, create an event with
its prompts, open it, watch a phone answer, close it, download it as TOML; the console's keyboard shortcuts on a
pre-moderated event; accessibility and screenshots of the organisers' pages on a laptop and a phone."""

from __future__ import annotations

import asyncio
import re
import tomllib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright, expect

from board.settings import Settings
from tests.conftest import CSRF_RE, Server, in_thread
from tests.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    WAIT_MS,
    Contexts,
    assert_not_reloaded,
    describe,
    live,
    post_answer,
    screenshot_dir,
    serious,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

LAPTOP: dict[str, Any] = {"viewport": {"width": 1366, "height": 768}}
PASSWORD = "an organiser's long password"
FRENCH: dict[str, Any] = {"locale": "fr-FR", "extra_http_headers": {"Accept-Language": "fr"}}
ENGLISH: dict[str, Any] = {"locale": "en-US", "extra_http_headers": {"Accept-Language": "en"}}

if not Path(CHROMIUM).exists():  # pragma: no cover - the machine has it, see DESIGN.md
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)


def add_served_admin(server: Server) -> str:
    """What `board account add NAME --admin` does, for the served board's database."""
    username = f"admin-{uuid.uuid4().hex[:6]}"

    async def add() -> None:
        from board.app import build_context
        from board.domain import accounts

        ctx = build_context(Settings.from_env(env=server.env))
        try:
            await accounts.add_account(ctx, username, PASSWORD, is_admin=True)
        finally:
            await ctx.db.dispose()
            await ctx.live.close()

    in_thread(add)
    return username


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="module")
def admin_name(shared_server: Server) -> str:
    return add_served_admin(shared_server)


@pytest_asyncio.fixture(loop_scope="module")
async def contexts(browser: Browser, shared_server: Server) -> AsyncIterator[Contexts]:
    made = Contexts(browser, shared_server)
    try:
        yield made
    finally:
        await made.close()


async def sign_in(page: Page, username: str) -> None:
    """From a participant page, through the discreet link, to the organisers' space."""
    await page.goto("/")
    await page.locator("footer a.staff-link").click()
    await page.wait_for_url("**/login")
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(PASSWORD)
    async with page.expect_navigation():
        await page.locator("form[action='/login'] button[type=submit]").click()
    assert page.url.endswith("/admin"), page.url


async def create_event(page: Page, slug: str, prompts: list[str]) -> None:
    await page.goto("/admin")
    await page.locator("a[href='/admin/events']").click()
    await page.wait_for_url("**/admin/events")
    await page.locator("#f-title").fill("Atelier des communs")
    await page.locator("#f-slug").fill(slug)
    await page.locator("#f-place").fill("Roubaix — La Condition publique")
    await page.locator("#f-date").fill("2018-03-14")
    await page.locator("#f-responsible").fill("Ville de Roubaix")
    await page.locator("#f-prompts").fill("\n".join(prompts))
    async with page.expect_navigation():
        await page.locator("#event-form button[type=submit]").click()
    assert page.url.endswith(f"/admin/events/{slug}"), page.url


async def set_state(page: Page, slug: str, status: str) -> None:
    await page.goto(f"/admin/events/{slug}")
    await page.locator(f"input[name=status][value={status}]").check()
    async with page.expect_navigation():
        await page.locator("#event-form button[type=submit]").click()
    await expect(page.locator("h1 .status")).to_have_class(f"status status-{status}")


async def test_an_organiser_runs_an_event_from_creation_to_results(
    contexts: Contexts, admin_name: str
) -> None:
    slug = f"atelier-{uuid.uuid4().hex[:6]}"
    prompts = ["Qu'est-ce qu'un commun urbain ?", "Qui en prend soin ?"]
    admin = await contexts.page(LAPTOP, **FRENCH)
    await sign_in(admin, admin_name)
    await create_event(admin, slug, prompts)
    await expect(admin.locator(f"a[href='/admin/events/{slug}/staff']")).to_have_text("Équipe")
    draft = await admin.request.get(f"/e/{slug}")
    assert draft.status == 404, "a draft is invisible to participants"
    await set_state(admin, slug, "open")

    phone = await contexts.page(PHONE, **FRENCH)
    await phone.goto(f"/e/{slug}")
    await expect(phone.locator("ol.threads a.card-link")).to_have_count(2)
    thread = await phone.locator("ol.threads a.card-link").first.get_attribute("href")
    assert thread is not None
    await live(phone, thread)
    await post_answer(phone, "Un jardin partagé que les habitants gèrent eux-mêmes.")
    await expect(phone.locator("a[href$='/results']")).to_have_count(0)

    await set_state(admin, slug, "closed")
    results_link = phone.locator(f"a[href='/e/{slug}/results']")
    await expect(results_link).to_be_visible()
    await assert_not_reloaded(phone)
    await results_link.click()
    await phone.wait_for_url(f"**/e/{slug}/results")
    await expect(phone.locator("body")).to_contain_text("Un jardin partagé")

    await admin.goto(f"/admin/events/{slug}")
    async with admin.expect_download() as downloading:
        await admin.locator(f"a[href='/admin/events/{slug}/event.toml']").click()
    download = await downloading.value
    saved = await download.path()
    data = tomllib.loads(await asyncio.to_thread(Path(saved).read_text, encoding="utf-8"))
    assert (data["event"]["slug"], data["event"]["status"]) == (slug, "closed")
    assert [t["prompt"] for t in data["threads"]] == prompts


@pytest.mark.parametrize(("language", "options"), [("fr", FRENCH), ("en", ENGLISH)])
async def test_the_organisers_pages_have_no_serious_accessibility_violation(
    contexts: Contexts, admin_name: str, language: str, options: dict[str, Any]
) -> None:
    axe = Axe()
    found: list[str] = []
    page = await contexts.page(LAPTOP, **options)
    await sign_in(page, admin_name)
    slug = f"axe-{language}-{uuid.uuid4().hex[:6]}"
    await create_event(page, slug, ["Une question ?"])
    await page.goto("/admin/events")
    await page.locator("#f-slug").fill("Pas Une Adresse")
    await page.locator("#f-title").fill("Un titre")
    async with page.expect_navigation():
        await page.locator("#event-form button[type=submit]").click()
    await expect(page.locator("#f-slug-error")).to_be_visible()
    for path in (None, "/admin", "/admin/events", f"/admin/events/{slug}"):
        if path is not None:
            await page.goto(path)
        assert await page.evaluate("document.documentElement.lang") == language
        bad = serious((await axe.run(page)).response["violations"])
        if bad:
            found.append(describe(path or "the event form with its errors", bad))
    assert not found, "serious or critical axe violations:\n" + "\n".join(found)


async def test_screenshots_of_the_organisers_pages(contexts: Contexts, admin_name: str) -> None:
    folder = screenshot_dir()
    for device, name in ((LAPTOP, "laptop"), (PHONE, "phone")):
        page = await contexts.page(device, **FRENCH)
        await sign_in(page, admin_name)
        for path, shot in (("/admin", "admin"), ("/admin/events", "event-form")):
            await page.goto(path)
            target = folder / f"{shot}-{name}.png"
            await page.screenshot(path=str(target), full_page=True, animations="disabled", timeout=WAIT_MS)
            assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", target
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= device["viewport"]["width"], f"{path} scrolls sideways on a {name}"


async def send_answer(server: Server, slug: str, thread: int, text: str) -> None:
    """A participant's answer as the phone's form sends it."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as phone:
        token = CSRF_RE.search((await phone.get(f"/e/{slug}/t/{thread}")).text)
        assert token, "the thread page has its form"
        posted = await phone.post(
            f"/e/{slug}/t/{thread}/answers", data={"body": text, "_csrf_token": token.group(1)}
        )
        assert posted.status_code == 303, posted.text


async def test_the_console_keyboard_moves_publishes_and_picks_a_reason(
    contexts: Contexts, admin_name: str
) -> None:
    slug = f"clavier-{uuid.uuid4().hex[:6]}"
    admin = await contexts.page(LAPTOP, **FRENCH)
    await sign_in(admin, admin_name)
    await create_event(admin, slug, ["Une question ?"])
    await admin.locator("input[name=moderation][value=pre]").check()
    await admin.locator("input[name=status][value=open]").check()
    async with admin.expect_navigation():
        await admin.locator("#event-form button[type=submit]").click()
    await expect(admin.locator("h1 .status")).to_have_class("status status-open")
    await admin.goto(f"/mod/{slug}")
    found = re.search(
        r"thread=(\d+)",
        await admin.locator(f"a[href^='/mod/{slug}?thread=']").first.get_attribute("href") or "",
    )
    assert found
    thread = int(found.group(1))
    for text in ("Première réponse à valider", "Seconde réponse à valider"):
        await send_answer(contexts.server, slug, thread, text)

    await live(admin, f"/mod/{slug}?thread={thread}&tab=pending")
    pending = admin.locator("ol.mod-answers > li.mod-card")
    await expect(pending).to_have_count(2)
    await admin.locator("body").press("j")
    await expect(pending.first).to_be_focused()
    await admin.keyboard.press("j")
    await expect(pending.nth(1)).to_be_focused()
    await admin.keyboard.press("k")
    await expect(pending.first).to_be_focused()
    first = await pending.first.get_attribute("id")
    await admin.keyboard.press("a")
    await expect(admin.locator(f"ol.mod-answers > li#{first}")).to_have_count(0)
    await expect(admin.locator(f"#t{thread}-published-n")).to_have_text("1")
    await assert_not_reloaded(admin)
    await admin.keyboard.press("j")
    await expect(pending.first).to_be_focused()
    await admin.keyboard.press("r")
    await expect(pending.first.locator("form.with-reason select")).to_be_focused()

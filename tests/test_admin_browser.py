"""An organiser's walk in a real browser (Debian's chromium through Playwright): sign in, create an event with
its prompts, invite a moderator and a facilitator who accept in browsers of their own, open it, moderate 300
answers by search, close it, read the results, download it as TOML; the console's keyboard shortcuts on a
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

from board.app import build_context
from board.domain import accounts
from board.settings import Settings
from tests.conftest import CSRF_RE, Server, in_thread
from tests.crowd import answer_thread
from tests.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LIVE_MS,
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
CHOSEN_PASSWORD = "mon mot de passe choisi"
FRENCH: dict[str, Any] = {"locale": "fr-FR", "extra_http_headers": {"Accept-Language": "fr"}}
ENGLISH: dict[str, Any] = {"locale": "en-US", "extra_http_headers": {"Accept-Language": "en"}}

if not Path(CHROMIUM).exists():  # pragma: no cover - the machine has it, see DESIGN.md
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)


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


def add_served_admin(server: Server) -> str:
    """What `board account add NAME --admin` does, for the served board's database."""
    username = f"admin-{uuid.uuid4().hex[:6]}"
    served(server, lambda ctx: accounts.add_account(ctx, username, PASSWORD, is_admin=True))
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


async def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """From a participant page, through the discreet link, to the organisers' space (or the console)."""
    await page.goto("/")
    await page.locator("footer a.staff-link").click()
    await page.wait_for_url("**/login")
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(password)
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


async def invite(admin: Page, slug: str, role: str, label: str) -> str:
    """On the event's staff page, create a link for `role`; return its path as the page shows it once."""
    await admin.goto(f"/admin/events/{slug}/staff")
    await admin.locator("#label").fill(label)
    await admin.locator(f"input[name=role][value={role}]").check()
    async with admin.expect_navigation():
        await admin.get_by_role("button", name=re.compile("Créer le lien|Create the invitation")).click()
    link = await admin.locator("#invite-link").input_value()
    found = re.search(r"/invite/[A-Za-z0-9_-]+$", link)
    assert found, link
    return found.group(0)


async def accept(page: Page, slug: str, path: str, username: str) -> None:
    """Open the invitation, choose a username and password: signed in, on the event's console."""
    await page.goto(path)
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(CHOSEN_PASSWORD)
    async with page.expect_navigation():
        await page.locator("form button[type=submit]").click()
    assert page.url.endswith(f"/mod/{slug}"), page.url


async def send_answer(server: Server, slug: str, thread: int, text: str) -> str:
    """A participant's answer as the phone's form sends it (a phone rendering 300 answers is slow to drive);
    the new card's element id."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as phone:
        token = CSRF_RE.search((await phone.get(f"/e/{slug}/t/{thread}")).text)
        assert token, "the thread page has its form"
        posted = await phone.post(
            f"/e/{slug}/t/{thread}/answers", data={"body": text, "_csrf_token": token.group(1)}
        )
        assert posted.status_code == 303, posted.text
    found = re.search(r"#(a\d+)$", posted.headers["location"])
    assert found, posted.headers["location"]
    return found.group(1)


async def no_horizontal_scroll(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= await page.evaluate("window.innerWidth"), f"the page is {width}px wide"


def thread_id(href: str | None) -> int:
    found = re.search(r"/t/(\d+)$", href or "")
    assert found, href
    return int(found.group(1))


async def test_an_organiser_runs_an_event_with_staff_from_creation_to_results(
    contexts: Contexts, admin_name: str
) -> None:
    """The whole walk on one new event: create it with its prompts, invite a moderator and a facilitator
    (each accepts in a browser of their own), open it, moderate 300 answers by search, close it, read
    the results, download the TOML."""
    server = contexts.server
    slug = f"atelier-{uuid.uuid4().hex[:6]}"
    prompts = ["Qu'est-ce qu'un commun urbain ?", "Qui en prend soin ?"]
    admin = await contexts.page(LAPTOP, **FRENCH)
    await sign_in(admin, admin_name)
    await create_event(admin, slug, prompts)
    await expect(admin.locator(f"a[href='/admin/events/{slug}/staff']")).to_have_text("Équipe")
    draft = await admin.request.get(f"/e/{slug}")
    assert draft.status == 404, "a draft is invisible to participants"

    moderator_link = await invite(admin, slug, "moderator", "Camille, modération")
    facilitator_link = await invite(admin, slug, "facilitator", "Fatou, animation")
    people = uuid.uuid4().hex[:4]
    facilitator = await contexts.page(PHONE, **FRENCH)
    await accept(facilitator, slug, facilitator_link, f"fatou-{people}")
    await no_horizontal_scroll(facilitator)
    mod = await contexts.page(LAPTOP, **FRENCH)
    await accept(mod, slug, moderator_link, f"camille-{people}")
    staff_page = await admin.goto(f"/admin/events/{slug}/staff")
    assert staff_page is not None and staff_page.status == 200
    await expect(admin.locator("ul.people").first).to_contain_text("camille")
    await expect(admin.locator("ul.people").first).to_contain_text("fatou")
    folder = screenshot_dir()
    await admin.screenshot(path=str(folder / "staff-laptop.png"), animations="disabled")

    await set_state(admin, slug, "open")
    phone = await contexts.page(PHONE, **FRENCH)
    await phone.goto(f"/e/{slug}")
    links = phone.locator("ol.threads a.card-link")
    await expect(links).to_have_count(2)
    crowded = thread_id(await links.first.get_attribute("href"))
    other = await links.nth(1).get_attribute("href")
    assert other is not None
    await live(phone, other)
    await post_answer(phone, "Un jardin partagé que les habitants gèrent eux-mêmes.")
    await expect(phone.locator("a[href$='/results']")).to_have_count(0)

    served(server, lambda ctx: answer_thread(ctx, slug, crowded, 300))
    tab = f"/mod/{slug}?thread={crowded}&tab=published"
    await facilitator.goto(tab)
    await expect(facilitator.locator("ol.mod-answers > li.mod-card")).to_have_count(50)
    await expect(facilitator.locator("button[data-key=pin]")).to_have_count(0)
    await no_horizontal_scroll(facilitator)

    await live(mod, tab)
    await expect(mod.locator("ol.mod-answers > li.mod-card")).to_have_count(50)
    await expect(mod.locator(f"#t{crowded}-published-n")).to_have_text("300")
    # Search narrows the tab; then merge one answer into another found by typing.
    await mod.locator("#console-q").fill("tiers lieux")
    async with mod.expect_navigation():
        await mod.locator("#console-q").press("Enter")
    await expect(mod.locator("ol.mod-answers > li.mod-card")).to_have_count(50)
    await expect(mod.locator("ol.mod-answers > li.mod-card p.body").first).to_contain_text("tiers lieux")
    await live(mod, tab)
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
    card_id = await send_answer(server, slug, crowded, "Une nouvelle réponse pendant la modération")
    await expect(mod.locator(f"ol.mod-answers > li#{card_id}")).to_be_visible(timeout=LIVE_MS)
    await expect(mod.locator("#console-q")).to_be_focused()
    await expect(mod.locator("#console-q")).to_have_value("en cours de saisie")
    # 300, less 1 merged, plus 1 new
    await expect(mod.locator(f"#t{crowded}-published-n")).to_have_text("300")
    await assert_not_reloaded(mod)

    await mod.locator("#console-q").fill("")
    await mod.evaluate("window.scrollTo(0, 0)")
    await mod.screenshot(path=str(folder / "moderation-console-laptop.png"), animations="disabled")
    small = await contexts.page(PHONE, **FRENCH)
    await sign_in(small, f"camille-{people}", CHOSEN_PASSWORD)
    await small.goto(tab)
    await no_horizontal_scroll(small)
    await small.screenshot(path=str(folder / "moderation-console-phone.png"), animations="disabled")
    await small.goto(f"/mod/{slug}")
    await no_horizontal_scroll(small)
    for name in ("moderation-console-laptop.png", "moderation-console-phone.png", "staff-laptop.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name

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

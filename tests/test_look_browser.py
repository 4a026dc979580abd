"""An event's look in a real browser: an admin picks the accent and uploads the logo through the event's page;
a phone and the projector at 1920x1080 then wear both, with no serious axe violation in French or English.
Screenshots go to the browser tests' folder (projector-look.png, phone-look.png, admin-look.png)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from tests.conftest import SLUG, Server, in_thread, start_server, stop_server
from tests.pictures import png
from tests.test_browser import (
    MOD_PASSWORD,
    PHONE,
    PROJECTOR,
    Contexts,
    describe,
    live,
    screenshot_dir,
    serious,
)
from tests.test_browser import browser as browser

pytestmark = pytest.mark.asyncio(loop_scope="module")

PLUM = "#8a1c7c"
PLUM_RGB = "rgb(138, 28, 124)"
DESK = {"viewport": {"width": 1280, "height": 900}}
LANGUAGES = {"fr": "fr-FR", "en": "en-US"}


def add_admin(server: Server) -> str:
    from board.app import build_context
    from board.domain import accounts
    from board.settings import Settings

    username = f"admin-{uuid.uuid4().hex[:6]}"

    async def add() -> None:
        ctx = build_context(Settings.from_env(env=server.env))
        try:
            await accounts.add_account(ctx, username, MOD_PASSWORD, is_admin=True)
        finally:
            await ctx.db.dispose()
            await ctx.live.close()

    in_thread(add)
    return username


@pytest.fixture(scope="module")
def look_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of the module's own: the demo event's look changes here, and nowhere else."""
    running = start_server(tmp_path_factory.mktemp("look"))
    try:
        yield running
    finally:
        stop_server(running)


@pytest_asyncio.fixture(loop_scope="module")
async def contexts(browser: Browser, look_server: Server) -> AsyncIterator[Contexts]:
    made = Contexts(browser, look_server)
    try:
        yield made
    finally:
        await made.close()


async def sign_in(page: Page, username: str) -> None:
    await page.goto("/login")
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(MOD_PASSWORD)
    async with page.expect_navigation():
        await page.locator("form[action='/login'] button[type=submit]").click()
    assert "/login" not in page.url, "the sign-in failed"


async def axe_problems(page: Page, where: str, language: str) -> list[str]:
    assert await page.evaluate("document.documentElement.lang") == language, where
    bad = serious((await Axe().run(page)).response["violations"])
    return [describe(f"{where} ({language})", bad)] if bad else []


async def logo_drawn(page: Page, selector: str) -> dict[str, float]:
    """The logo as laid out, once it is: a live page may be between two redraws when first asked."""
    measure = (
        "img => ({natural: img.naturalWidth, width: img.getBoundingClientRect().width,"
        " height: img.getBoundingClientRect().height, complete: img.complete})"
    )
    for _ in range(50):
        drawn: dict[str, float] = await page.locator(selector).first.evaluate(measure)
        if drawn["complete"] and drawn["height"] > 0:
            return drawn
        await page.wait_for_timeout(100)
    return drawn


async def test_an_admin_sets_the_look_and_phones_and_projector_wear_it_accessibly(
    contexts: Contexts, look_server: Server, tmp_path: Path
) -> None:
    admin = await contexts.page(DESK, locale="fr-FR", extra_http_headers={"Accept-Language": "fr"})
    await sign_in(admin, add_admin(look_server))
    await admin.goto(f"/admin/events/{SLUG}")
    await admin.locator("#f-accent").fill(PLUM)
    await expect(admin.locator("input[name=accent_default]")).not_to_be_checked()
    async with admin.expect_navigation():
        await admin.locator("#event-form button[type=submit]").click()
    await expect(admin.locator("#f-accent")).to_have_value(PLUM)

    logo = tmp_path / "logo.png"
    logo.write_bytes(png(240, 80))
    await admin.locator("#f-logo").set_input_files(str(logo))
    async with admin.expect_navigation():
        await admin.locator("#logo-upload button[type=submit]").click()
    preview = await logo_drawn(admin, "img.logo-preview")
    assert preview["natural"] == 240, "the organisers' page shows the logo as uploaded"
    await admin.screenshot(
        path=str(screenshot_dir() / "admin-look.png"), full_page=True, animations="disabled"
    )

    found: list[str] = []
    for language, locale in LANGUAGES.items():
        options = {"locale": locale, "extra_http_headers": {"Accept-Language": language}}
        phone = await contexts.page(PHONE, **options)
        await live(phone, f"/e/{SLUG}")
        drawn = await logo_drawn(phone, ".top img.event-logo")
        assert drawn["natural"] == 240 and drawn["height"] == 40, drawn
        assert drawn["width"] == pytest.approx(6 + 34 * 3, abs=1), "the logo keeps its proportions"
        await expect(phone.locator(".on-screen").first).to_have_css("background-color", PLUM_RGB)
        await expect(phone.locator("ol.threads li.presented .card-link")).to_have_css(
            "border-top-color", PLUM_RGB
        )
        found += await axe_problems(phone, "event page", language)
        await phone.locator("ol.threads a.card-link").first.click()
        await expect(phone.locator("#answer-form button[type=submit]")).to_have_css(
            "background-color", PLUM_RGB
        )
        found += await axe_problems(phone, "thread page", language)
        if language == "fr":
            await phone.screenshot(path=str(screenshot_dir() / "phone-look.png"), animations="disabled")

        screen = await contexts.page(PROJECTOR, **options)
        await live(screen, f"/e/{SLUG}/screen")
        await expect(screen.locator("#board")).to_have_css("border-top-color", PLUM_RGB)
        shown = await logo_drawn(screen, ".event-name img.event-logo")
        assert shown["natural"] == 240 and shown["height"] >= 1080 * 0.05 - 1, shown
        assert await screen.evaluate("document.scrollingElement.scrollHeight") <= 1080, (
            "the page never scrolls"
        )
        found += await axe_problems(screen, "projector", language)
        if language == "fr":
            await screen.screenshot(path=str(screenshot_dir() / "projector-look.png"), animations="disabled")

        admin_page = await contexts.page(DESK, **options)
        await sign_in(admin_page, add_admin(look_server))
        await admin_page.goto(f"/admin/events/{SLUG}")
        found += await axe_problems(admin_page, "event form", language)
    assert not found, "serious or critical axe violations:\n" + "\n".join(found)

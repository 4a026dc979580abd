"""The staff's pages in a real browser (Debian's chromium) pass axe in French and English: the staff page with
a new invitation link, the invitation, the console with a merge search on a phone, the audit log, the password
and reset pages. The invitations and the 300-answer console are walked in test_admin_browser.py."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from board.domain import passwords
from board.domain.seeding import seed_file
from tests.conftest import Server
from tests.crowd import answer_thread
from tests.test_admin_browser import (
    LAPTOP,
    accept,
    admin_name,
    browser,
    contexts,
    invite,
    served,
    sign_in,
    thread_id,
)
from tests.test_browser import LIVE_MS, PHONE, Contexts, describe, live, serious

__all__ = ["admin_name", "browser", "contexts"]
pytestmark = pytest.mark.asyncio(loop_scope="module")


def seed_event(server: Server, slug: str) -> None:
    """An open event of the test's own on the shared server, as `board seed` makes it from a file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{slug}.toml"
        path.write_text(
            f'[event]\nslug = "{slug}"\ntitle = "Atelier axe"\n\n[[threads]]\nprompt = "Une question ?"\n',
            encoding="utf-8",
        )
        served(server, lambda ctx: seed_file(ctx, path))


@pytest.mark.parametrize(("language", "locale"), [("fr", "fr-FR"), ("en", "en-US")])
async def test_the_staff_pages_and_the_console_pass_axe(
    contexts: Contexts, admin_name: str, language: str, locale: str
) -> None:
    options = {"locale": locale, "extra_http_headers": {"Accept-Language": language}}
    axe = Axe()
    found: list[str] = []

    async def check(page: Page, where: str) -> None:
        assert await page.evaluate("document.documentElement.lang") == language, where
        bad = serious((await axe.run(page)).response["violations"])
        if bad:
            found.append(describe(where, bad))

    server = contexts.server
    slug = f"axe-staff-{language}-{uuid.uuid4().hex[:6]}"
    seed_event(server, slug)
    admin = await contexts.page(LAPTOP, **options)
    await sign_in(admin, admin_name)
    await admin.goto(f"/e/{slug}")
    thread = thread_id(await admin.locator("ol.threads a.card-link").first.get_attribute("href"))
    served(server, lambda ctx: answer_thread(ctx, slug, thread, 8))
    link = await invite(admin, slug, "moderator", "Axe")
    await check(admin, "staff page with a new link")

    username = f"axe-{language}-{uuid.uuid4().hex[:4]}"
    newcomer = await contexts.page(PHONE, **options)
    await newcomer.goto(link)
    await check(newcomer, "invitation page")
    await accept(newcomer, slug, link, username)
    await check(newcomer, "console overview (phone)")
    await live(newcomer, f"/mod/{slug}?thread={thread}&tab=published")
    await newcomer.locator("li.mod-card details.merge summary").first.click()
    await newcomer.locator("li.mod-card input[type=search]").first.press_sequentially("Proposition", delay=20)
    await expect(newcomer.locator("button.pick").first).to_be_visible(timeout=LIVE_MS)
    await check(newcomer, "console thread with a merge search (phone)")
    await newcomer.goto(f"/mod/{slug}/audit")
    await check(newcomer, "audit log")
    await newcomer.goto("/account/password")
    await check(newcomer, "password page")
    token = served(server, lambda ctx: passwords.create_reset(ctx, username))
    reset = await newcomer.goto(f"/reset/{token}")
    assert reset is not None and reset.status == 200, "the link printed by `board account reset` opens"
    await check(newcomer, "reset page")
    assert not found, "serious or critical axe violations:\n" + "\n".join(found)

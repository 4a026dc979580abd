"""The projector's opinion map in a real browser: it fills and changes as votes arrive, with no reload.

Votes come from plain HTTP clients (phones without a browser); the projector is Debian's chromium at
1920x1080. A screenshot of the result goes to the screenshots folder of the other browser tests.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright, expect

from tests.conftest import CSRF_RE, SLUG, Server, start_server, stop_server
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, PROJECTOR, live, screenshot_dir

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT_MS = 60_000
"""A bound on a hang, not a speed check: the first computation starts a worker process that loads scikit-learn."""
CAMP_ANSWERS = [
    "Expérimenter, c'est accepter de se tromper en public.",
    "Il faut d'abord une loi avant toute expérimentation.",
    "Les agents publics doivent avoir un droit à l'erreur.",
    "Une expérimentation sans évaluation ne sert à rien.",
    "Les citoyens doivent pouvoir proposer des expérimentations.",
]
SHARED = "Il faut évaluer et publier les résultats de chaque expérimentation."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of the module's own, recomputing opinion groups at most every 0.5 s."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BOARD_OPINIONS_INTERVAL", "0.5")
        running = start_server(tmp_path_factory.mktemp("opinions"))
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


class Voter:
    """A phone without a browser: its own cookies and CSRF token."""

    def __init__(self, url: str, thread_path: str) -> None:
        self.http = httpx.AsyncClient(base_url=url, timeout=30)
        self.thread_path = thread_path
        self.csrf = ""

    async def join(self) -> None:
        page = await self.http.get(self.thread_path)
        found = CSRF_RE.search(page.text)
        assert page.status_code == 200 and found
        self.csrf = found.group(1)

    async def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return await self.http.post(path, data=data, headers={"HX-Request": "true", "x-csrftoken": self.csrf})


async def answer_ids(voter: Voter, thread_id: int) -> dict[str, int]:
    rows = (await voter.http.get(f"/api/threads/{thread_id}/answers?limit=50")).json()
    return {r["body"]: r["id"] for r in rows}


async def vote_as_camp(
    url: str, thread_path: str, ids: dict[str, int], side: int, dissent: int | None
) -> Voter:
    """Votes with the camp on every answer but `dissent` (an index in CAMP_ANSWERS), so that dots spread."""
    voter = Voter(url, thread_path)
    await voter.join()
    for n, body in enumerate(CAMP_ANSWERS):
        value = side * (1 if n % 2 else -1) * (-1 if n == dissent else 1)
        assert (
            await voter.post(f"/e/{SLUG}/answers/{ids[body]}/vote", {"value": str(value)})
        ).status_code == 200
    assert (await voter.post(f"/e/{SLUG}/answers/{ids[SHARED]}/vote", {"value": "1"})).status_code == 200
    return voter


async def test_the_opinion_map_follows_the_votes_live(browser: Browser, server: Server) -> None:
    context = await browser.new_context(
        base_url=server.url, locale="fr-FR", extra_http_headers={"Accept-Language": "fr"}, **PROJECTOR
    )
    voters: list[Voter] = []
    try:
        screen = await context.new_page()
        await screen.add_init_script(
            'document.addEventListener("htmx:sseOpen", function () {'
            ' document.documentElement.setAttribute("data-sse-open", "1"); });'
        )
        await live(screen, f"/e/{SLUG}/screen?show=opinions")
        thread_id = int(await screen.locator("#board").get_attribute("data-thread") or 0)
        thread_path = f"/e/{SLUG}/t/{thread_id}"
        await expect(screen.locator(".opinion-view")).to_contain_text("apparaîtra dès les premiers votes")

        authors = [Voter(server.url, thread_path) for _ in range(2)]
        for n, body in enumerate([*CAMP_ANSWERS, SHARED]):
            author = authors[n % 2]
            if not author.csrf:
                await author.join()
            assert (await author.post(f"{thread_path}/answers", {"body": body})).status_code == 201
        voters += authors
        ids = await answer_ids(authors[0], thread_id)

        for n in range(10):
            dissent = None if n < 4 else n % len(CAMP_ANSWERS)
            voters.append(await vote_as_camp(server.url, thread_path, ids, 1 if n % 2 else -1, dissent))
        await expect(screen.locator("circle.dot")).to_have_count(10, timeout=WAIT_MS)
        await expect(screen.locator(".group-size", has_text="5 personnes")).to_have_count(2, timeout=WAIT_MS)
        await expect(screen.locator(".consensus")).to_contain_text(SHARED, timeout=WAIT_MS)

        for n in range(4):
            voters.append(await vote_as_camp(server.url, thread_path, ids, 1 if n % 2 else -1, n % 3))
        await expect(screen.locator("circle.dot")).to_have_count(14, timeout=WAIT_MS)
        await expect(screen.locator(".group-size", has_text="7 personnes")).to_have_count(2, timeout=WAIT_MS)
        assert await screen.evaluate("window.__marker") == 1, "the projector reloaded"

        overflow = await screen.evaluate(
            "document.documentElement.scrollHeight > window.innerHeight + 1"
            " || document.documentElement.scrollWidth > window.innerWidth + 1"
        )
        assert not overflow, "the opinion view makes the projector scroll at 1920x1080"
        path: Path = screenshot_dir() / "screen-opinions.png"
        await screen.screenshot(path=str(path), animations="disabled")
        assert (await asyncio.to_thread(path.read_bytes))[:8] == b"\x89PNG\r\n\x1a\n"
        text = await screen.locator(".opinion-view").inner_text()
        assert not re.search(r"[0-9a-f]{32}", text), "no participant id on the projector"
    finally:
        for voter in voters:
            await voter.http.aclose()
        await context.close()

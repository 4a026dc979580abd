"""The projector's ranking follows the votes live: an answer voted past the others moves to the top without a
reload, and the rows that change rank slide to their new place (screen.js) rather than jump."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from tests.conftest import SLUG, Server, start_server, stop_server
from tests.test_browser import LIVE_MS, PROJECTOR, Contexts, assert_not_reloaded, live
from tests.test_browser import browser as browser
from tests.test_projector_browser import participant, post

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Every row that is given the `sliding` class, in order, whatever redraw it happens in: a slide lasts
# 0.7 s, too short to catch by polling on a busy machine.
SLIDE_PROBE = """
window.__slid = [];
new MutationObserver(function (changes) {
  changes.forEach(function (change) {
    var row = change.target;
    if (row.classList && row.classList.contains("bar-row") && row.classList.contains("sliding")) {
      window.__slid.push(row.id);
    }
  });
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["class"] });
"""


@pytest.fixture(scope="module")
def slide_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of the module's own: the thread holds only the three answers ranked here."""
    running = start_server(tmp_path_factory.mktemp("slide"))
    try:
        yield running
    finally:
        stop_server(running)


@pytest_asyncio.fixture(loop_scope="module")
async def contexts(browser: Browser, slide_server: Server) -> AsyncIterator[Contexts]:
    made = Contexts(browser, slide_server)
    try:
        yield made
    finally:
        await made.close()


async def agree(http: httpx.AsyncClient, thread_id: int, answer_id: int, people: int) -> None:
    """`people` new participants each vote « d'accord » on the answer."""
    for _ in range(people):
        headers = await participant(http, thread_id)
        voted = await http.post(f"/e/{SLUG}/answers/{answer_id}/vote", data={"value": "1"}, headers=headers)
        assert voted.status_code == 200, voted.text


async def ranked_ids(http: httpx.AsyncClient, thread_id: int) -> list[str]:
    answers = (await http.get(f"/api/threads/{thread_id}/answers")).json()
    return [f"s{a['id']}" for a in answers]


async def test_an_answer_voted_past_the_others_slides_to_the_top_of_the_projector(
    contexts: Contexts, slide_server: Server
) -> None:
    async with httpx.AsyncClient(base_url=slide_server.url, timeout=30) as http:
        event = (await http.get(f"/api/events/{SLUG}")).json()
        thread_id = next(t["id"] for t in event["threads"] if t["status"] == "open")
        author = await participant(http, thread_id)
        first = await post(http, thread_id, author, "Évaluer chaque expérimentation avant de la généraliser.")
        second = await post(http, thread_id, author, "Donner aux agents un droit à l'erreur.")
        third = await post(http, thread_id, author, "Ouvrir les données de chaque expérimentation.")
        await agree(http, thread_id, first, 2)
        await agree(http, thread_id, second, 1)
        assert await ranked_ids(http, thread_id) == [f"s{first}", f"s{second}", f"s{third}"]

        screen = await contexts.page(PROJECTOR)
        await screen.context.add_init_script(SLIDE_PROBE)
        await live(screen, f"/e/{SLUG}/t/{thread_id}/screen")
        rows = screen.locator("ol.ranking > li.bar-row")
        assert await rows.evaluate_all("rows => rows.map(r => r.id)") == [
            f"s{first}",
            f"s{second}",
            f"s{third}",
        ]

        await agree(http, thread_id, third, 3)
        expected = await ranked_ids(http, thread_id)
        assert expected == [f"s{third}", f"s{first}", f"s{second}"]
        await expect(rows.first).to_have_id(f"s{third}", timeout=LIVE_MS)
        await expect(screen.locator(f"#s{third} .agree-n")).to_have_text("3", timeout=LIVE_MS)
        assert await rows.evaluate_all("rows => rows.map(r => r.id)") == expected

    slid = await screen.evaluate("window.__slid")
    assert f"s{third}" in slid, f"the answer that climbed moved without sliding: {slid}"
    assert f"s{first}" in slid or f"s{second}" in slid, f"the answers it passed jumped: {slid}"
    await expect(screen.locator(".bar-row.sliding")).to_have_count(0, timeout=LIVE_MS)
    await assert_not_reloaded(screen)

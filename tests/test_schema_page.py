"""The API documentation at /schema in a real browser: it renders from the board alone, under its own CSP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from tests.conftest import Server, start_server, stop_server
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

if not Path(CHROMIUM).exists():  # pragma: no cover - the machine has it, see DESIGN.md
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Server]:
    running = start_server(tmp_path)
    try:
        yield running
    finally:
        stop_server(running)


async def test_the_schema_page_renders_without_any_request_off_the_machine(served: Server) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page = await browser.new_page()
            requested: list[str] = []
            problems: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.on(
                "console", lambda message: problems.append(message.text) if message.type == "error" else None
            )
            page.on("pageerror", lambda error: problems.append(str(error)))
            response = await page.goto(f"{served.url}/schema")
            assert response is not None and response.status == 200
            await expect(page.get_by_text("/api/events/{slug}").first).to_be_visible(timeout=10_000)
            await page.wait_for_load_state("networkidle")
        finally:
            await browser.close()
    elsewhere = [url for url in requested if not url.startswith(f"{served.url}/")]
    assert elsewhere == []
    assert f"{served.url}/schema/openapi.json" in requested
    assert problems == [], requested

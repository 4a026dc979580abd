"""Weight and render time of the moderation console with 300 answers on one thread.

    uv run python -m tests.bench_moderation [--answers 300] [--repeat 20] [--database sqlite|postgres]
        [--browser-repeat 5] [--phone-cpu-slowdown 4] [--no-browser]

The real app in process on a temporary SQLite file (or a PostgreSQL schema of its own), seeded with the demo
event; a crowd posts the answers through the domain, a moderator signs in over HTTP, then each console page
is requested `--repeat` times. Prints, per page, the HTML weight (raw and gzip) and the server's time to
answer (median and slowest), and whether the page keeps under the 300 KB budget.

Then the same crowd on the real server (granian, as `board serve`) and Debian's chromium through Playwright,
signed in as the moderator on a laptop (1366 x 768) and a phone (390 x 844, its CPU slowed down as
Lighthouse's mobile profile does): each console page is opened `--browser-repeat` times and the Performance
API gives the time to the first byte, the first contentful paint, DOMContentLoaded and the load event
(medians, from the navigation's start), the HTML's size on the wire and parsed, and the element count. A page whose
median load event comes after a second is flagged.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import logging
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, async_playwright

from board.app import build_context
from board.domain import accounts, events
from board.settings import Settings
from tests.conftest import (
    PASSWORD,
    SLUG,
    Server,
    postgres_schema,
    start_board,
    start_server,
    stop_server,
)
from tests.crowd import answer_thread
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, PHONE

BUDGET_BYTES = 300 * 1024
RENDER_BUDGET_MS = 1000
LAPTOP: dict[str, Any] = {"viewport": {"width": 1366, "height": 768}}

# From the navigation's start: the first byte, the first contentful paint (resolved as soon as the paint
# entry exists: `buffered` replays it), DOMContentLoaded's and the load event's end; the HTML as sent
# (compressed) and as parsed.
TIMINGS = """
async () => {
  const fcp = await new Promise((resolve) => {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if (entry.name === "first-contentful-paint") resolve(entry.startTime);
      }
    }).observe({ type: "paint", buffered: true });
  });
  const nav = performance.getEntriesByType("navigation")[0];
  return {
    ttfb: nav.responseStart,
    fcp: fcp,
    dcl: nav.domContentLoadedEventEnd,
    load: nav.loadEventEnd,
    sent: nav.encodedBodySize,
    html: nav.decodedBodySize,
    elements: document.getElementsByTagName("*").length,
  };
}
"""


async def run(answers: int, repeat: int, database: str) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        async for board in start_board(Path(folder), database=database):
            thread = (await board.thread_ids())[0]
            made = await answer_thread(board.ctx, SLUG, thread, answers)
            await accounts.add_account(board.ctx, "bench", PASSWORD, event_slug=SLUG, role="moderator")
            phone = await board.phone("/login")
            signed = await phone.submit("/login", {"username": "bench", "password": PASSWORD})
            assert signed.status_code == 303, signed.text
            for answer_id in made[:20]:
                await phone.submit(
                    f"/mod/{SLUG}/answers/{answer_id}", {"action": "hide", "reason": "duplicate"}
                )
            pages = {
                "overview": f"/mod/{SLUG}",
                "thread, published tab": f"/mod/{SLUG}?thread={thread}&tab=published",
                "thread, last page": f"/mod/{SLUG}?thread={thread}&tab=published&page=6",
                "thread, hidden tab": f"/mod/{SLUG}?thread={thread}&tab=hidden",
                "thread, search": f"/mod/{SLUG}?thread={thread}&tab=published&q=tiers+lieux",
                "merge search fragment": f"/mod/{SLUG}/answers/search?thread={thread}&q=droit",
            }
            print(f"{answers} answers on one thread ({database}), {repeat} requests per page")
            print(f"{'page':<24} {'HTML':>10} {'gzip':>9} {'median':>9} {'slowest':>9}  budget")
            ok = True
            for name, path in pages.items():
                times = []
                body = b""
                for _ in range(repeat):
                    started = time.perf_counter()
                    response = await phone.http.get(path)
                    times.append(time.perf_counter() - started)
                    assert response.status_code == 200, (path, response.status_code)
                    body = response.content
                fits = len(body) < BUDGET_BYTES
                ok = ok and fits and statistics.median(times) < 1.0
                print(
                    f"{name:<24} {len(body) / 1024:>8.1f}KB {len(gzip.compress(body)) / 1024:>7.1f}KB "
                    f"{statistics.median(times) * 1000:>7.0f}ms {max(times) * 1000:>7.0f}ms  "
                    f"{'ok' if fits else 'OVER 300 KB'}"
                )
    return ok


def console_pages(thread: int) -> dict[str, str]:
    """The console's pages a moderator opens in the browser (the merge search is a fragment, not a page)."""
    return {
        "overview": f"/mod/{SLUG}",
        "thread, published tab": f"/mod/{SLUG}?thread={thread}&tab=published",
        "thread, last page": f"/mod/{SLUG}?thread={thread}&tab=published&page=6",
        "thread, search": f"/mod/{SLUG}?thread={thread}&tab=published&q=tiers+lieux",
    }


@asynccontextmanager
async def served_board(folder: Path, database: str) -> AsyncIterator[Server]:
    """`board serve` on its own database, seeded with the demo event."""
    if database == "postgres":
        async with postgres_schema() as schema:
            server = await asyncio.to_thread(start_server, folder, schema=schema)
            try:
                yield server
            finally:
                await asyncio.to_thread(stop_server, server)
    else:
        server = await asyncio.to_thread(start_server, folder)
        try:
            yield server
        finally:
            await asyncio.to_thread(stop_server, server)


async def crowd_on(server: Server, answers: int) -> int:
    """The crowd's answers and a moderator account, written to the served board's database; the thread."""
    ctx = build_context(Settings.from_env(env=server.env))
    try:
        async with ctx.live.channels.plugin:
            event = await events.get_event(ctx, SLUG)
            thread = (await events.list_threads(ctx, event.id))[0].id
            await answer_thread(ctx, SLUG, thread, answers)
            await accounts.add_account(ctx, "bench", PASSWORD, event_slug=SLUG, role="moderator")
    finally:
        await ctx.db.dispose()
        await ctx.live.close()
    return thread


async def measure(page: Page, path: str, repeat: int) -> dict[str, float]:
    """Medians of `repeat` navigations to `path`."""
    runs: list[dict[str, float]] = []
    for _ in range(repeat):
        response = await page.goto(path, wait_until="load")
        assert response is not None and response.status == 200, (path, response and response.status)
        runs.append(await page.evaluate(TIMINGS))
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


async def render_on(
    browser: Browser, server: Server, device: dict[str, Any], slowdown: float, thread: int, repeat: int
) -> bool:
    """One device's rows: the moderator signs in, then each console page is timed."""
    context = await browser.new_context(base_url=server.url, **device)
    try:
        page = await context.new_page()
        if slowdown > 1:
            cdp = await context.new_cdp_session(page)
            await cdp.send("Emulation.setCPUThrottlingRate", {"rate": slowdown})
        await page.goto("/login")
        await page.locator("#username").fill("bench")
        await page.locator("#password").fill(PASSWORD)
        async with page.expect_navigation():
            await page.locator("form[action='/login'] button[type=submit]").click()
        assert "/login" not in page.url, "the moderator could not sign in"
        ok = True
        for label, path in console_pages(thread).items():
            got = await measure(page, path, repeat)
            fits = got["load"] < RENDER_BUDGET_MS
            ok = ok and fits
            print(
                f"  {label:<22} {got['sent'] / 1024:>5.1f}KB {got['html'] / 1024:>6.1f}KB "
                f"{got['elements']:>8.0f} {got['ttfb']:>6.0f} {got['fcp']:>6.0f} {got['dcl']:>6.0f} "
                f"{got['load']:>6.0f}  {'ok' if fits else 'OVER 1 s'}"
            )
        return ok
    finally:
        await context.close()


async def render(answers: int, repeat: int, database: str, slowdown: float) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        async with served_board(Path(folder), database) as server:
            thread = await crowd_on(server, answers)
            print(
                f"\nIn chromium ({CHROMIUM}), the real server ({database}), {answers} answers, "
                f"medians of {repeat} loads (ms from the navigation's start)"
            )
            print(
                f"{'page':<24} {'sent':>7} {'HTML':>8} {'elements':>8} {'TTFB':>6} {'FCP':>6} {'DCL':>6} "
                f"{'load':>6}  budget"
            )
            ok = True
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    for name, device, rate in (
                        ("laptop 1366x768", LAPTOP, 1.0),
                        (f"phone 390x844, CPU x{slowdown:g}", PHONE, slowdown),
                    ):
                        print(name)
                        ok = await render_on(browser, server, device, rate, thread, repeat) and ok
                finally:
                    await browser.close()
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--browser-repeat", type=int, default=5, help="loads of each page in chromium")
    parser.add_argument(
        "--phone-cpu-slowdown", type=float, default=4.0, help="the phone's CPU throttling (Lighthouse: 4)"
    )
    parser.add_argument("--no-browser", action="store_true", help="only the server's time and the weight")
    args = parser.parse_args()
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ok = asyncio.run(run(args.answers, args.repeat, args.database))
    if not args.no_browser:
        rendered = asyncio.run(
            render(args.answers, args.browser_repeat, args.database, args.phone_cpu_slowdown)
        )
        ok = ok and rendered
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()

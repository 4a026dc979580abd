"""Weight and render time of the moderation console with 300 answers on one thread.

    uv run python -m tests.bench_moderation [--answers 300] [--repeat 20] [--database sqlite|postgres]

The real app in process on a temporary SQLite file (or a PostgreSQL schema of its own), seeded with the demo
event; a crowd posts the answers through the domain, a moderator signs in over HTTP, then each console page
is requested `--repeat` times. Prints, per page, the HTML weight (raw and gzip) and the server's time to
answer (median and slowest), and whether the page keeps under the 300 KB budget.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import logging
import statistics
import tempfile
import time
from pathlib import Path

from board.domain import accounts
from tests.conftest import PASSWORD, SLUG, start_board
from tests.crowd import answer_thread

BUDGET_BYTES = 300 * 1024


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    ok = asyncio.run(run(args.answers, args.repeat, args.database))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()

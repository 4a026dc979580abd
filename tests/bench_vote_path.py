"""CPU per vote through the board's ASGI app, in process: the vote path without a server or a client.

Run from the project root:

    uv run python -m tests.bench_vote_path [--votes 20000] [--clients 20] [--redis-url URL] [--profile]

It builds the app on a fresh SQLite file (with Redis unless --redis-url ''), seeds the demo event,
posts answers, then sends votes as ASGI calls from --clients concurrent callers (htmx, CSRF header,
a participant cookie each, rotating, every vote a change) and the same number of calls to a bare
Litestar app with one route. It prints the process CPU time per vote and per bare call, and their
ratio: unlike a served benchmark, other processes on the machine barely move these figures, so they
show what a change to the vote path costs or saves. `--profile` adds a pyinstrument profile of the
vote run (pyinstrument must be installed: `uv run --with pyinstrument ...`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from litestar import Litestar

from board.app import create_app
from board.domain.context import BoardContext
from board.domain.seeding import seed_file
from board.settings import Settings
from tests.bare_litestar import app as bare_app

ROOT = Path(__file__).resolve().parent.parent
SLUG = "republique-collaborative"
CSRF_RE = re.compile(r'name="_csrf_token" value="([^"]+)"')

Call = Callable[[dict[str, Any], bytes], Awaitable[tuple[int, list[tuple[bytes, bytes]], bytes]]]


def main_thread_cpu() -> float:
    """CPU seconds of the event loop's thread alone (Linux), beside the process's total."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = (
            Path(f"/proc/self/task/{threading.get_native_id()}/stat").read_text().rsplit(")", 1)[1].split()
        )
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / tick


def asgi_caller(app: Any) -> Call:
    """One HTTP request as an ASGI server sends it: the status, headers and body of the response."""

    async def call(scope: dict[str, Any], body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        sent = False
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, send)
        return status, headers, b"".join(chunks)

    return call


def scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


def cookies_of(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    found = {}
    for key, value in headers:
        if key.lower() == b"set-cookie":
            name, _, rest = value.decode().partition("=")
            found[name] = rest.split(";", 1)[0]
    return found


async def prepare(app: Litestar, answers: int, people: int) -> tuple[str, list[int], list[str]]:
    """The CSRF token, the answers to vote on, and `people` participant cookies (made by a first vote)."""
    call = asgi_caller(app)
    status, headers, page = await call(scope("GET", f"/e/{SLUG}", []), b"")
    assert status == 200, status
    csrf = cookies_of(headers)["csrftoken"]
    thread = int(re.search(rf"/e/{SLUG}/t/(\d+)", page.decode()).group(1))  # type: ignore[union-attr]
    answer_ids: list[int] = []
    for n in range(answers):
        author = [(b"cookie", f"csrftoken={csrf}".encode()), (b"x-csrftoken", csrf.encode())]
        body = f"body=Réponse de banc d'essai {n} {secrets.token_hex(3)}&client_key={uuid.uuid4()}".encode()
        status, _, text = await call(
            scope(
                "POST",
                f"/e/{SLUG}/t/{thread}/answers",
                [*author, (b"hx-request", b"true"), (b"content-type", b"application/x-www-form-urlencoded")],
            ),
            body,
        )
        assert status == 201, (status, text[:300])
        answer_ids.append(int(re.search(rb'id="a(\d+)"', text).group(1)))  # type: ignore[union-attr]
    participants = []
    cookie_name = f"bp_{SLUG}"
    for n in range(people):
        status, headers, text = await call(
            vote_scope(csrf, None, answer_ids[n % len(answer_ids)]), b"value=1"
        )
        assert status == 200, (status, text[:300])
        participants.append(cookies_of(headers)[cookie_name])
    return csrf, answer_ids, participants


def vote_scope(csrf: str, participant: str | None, answer_id: int) -> dict[str, Any]:
    cookie = f"csrftoken={csrf}" + (f"; bp_{SLUG}={participant}" if participant else "")
    return scope(
        "POST",
        f"/e/{SLUG}/answers/{answer_id}/vote",
        [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"hx-request", b"true"),
            (b"x-csrftoken", csrf.encode()),
            (b"cookie", cookie.encode()),
            (b"content-length", b"7"),
        ],
    )


async def run_votes(
    app: Litestar, votes: int, clients: int, csrf: str, answers: list[int], people: list[str]
) -> tuple[float, float]:
    """CPU seconds (process, event loop thread) for `votes` votes from `clients` concurrent callers;
    every vote changes something."""
    call = asgi_caller(app)
    counter = iter(range(votes))
    failures: list[int] = []

    async def client() -> None:
        for n in counter:
            person = n % len(people)
            answer = answers[(n // len(people)) % len(answers)]
            value = b"value=1" if (n // (len(people) * len(answers))) % 2 else b"value=-1"
            status, _, _ = await call(vote_scope(csrf, people[person], answer), value)
            if status != 200:
                failures.append(status)

    started, loop_started = time.process_time(), main_thread_cpu()
    await asyncio.gather(*(client() for _ in range(clients)))
    spent, loop_spent = time.process_time() - started, main_thread_cpu() - loop_started
    if failures:
        raise SystemExit(f"{len(failures)} votes failed, e.g. {failures[0]}")
    return spent, loop_spent


async def run_bare(calls: int, clients: int) -> float:
    call = asgi_caller(bare_app)
    counter = iter(range(calls))

    async def client() -> None:
        for _ in counter:
            status, _, _ = await call(scope("GET", "/", []), b"")
            assert status == 200

    started = time.process_time()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.process_time() - started


async def bench(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'board.sqlite3'}",
            redis_url=args.redis_url or None,
            redis_prefix=f"bench-path:{uuid.uuid4().hex[:8]}:",
            secret_key=secrets.token_hex(16),
            public_url="http://127.0.0.1:8000",
            seeds_dir=ROOT / "seeds",
            vote_limit="1000000/minute",
            join_limit="1000000/minute",
        )
        app = create_app(settings)
        ctx: BoardContext = app.state.board
        await ctx.db.upgrade()
        await seed_file(ctx, ROOT / "seeds" / f"{SLUG}.toml")
        async with app.lifespan():
            csrf, answers, people = await prepare(app, args.answers, args.participants)
            await run_votes(app, min(2000, args.votes), args.clients, csrf, answers, people)
            profiler = None
            if args.profile:
                from pyinstrument import Profiler

                profiler = Profiler(async_mode="disabled", interval=0.0005)
                profiler.start()
            rounds = [
                await run_votes(app, args.votes, args.clients, csrf, answers, people)
                for _ in range(args.rounds)
            ]
            if profiler is not None:
                profiler.stop()
            spent, loop_spent = min(rounds)
            await run_bare(min(2000, args.votes), args.clients)
            bare = min([await run_bare(args.votes, args.clients) for _ in range(args.rounds)])
        if args.redis_url:
            from redis.asyncio import Redis

            redis = Redis.from_url(args.redis_url)
            keys = [k async for k in redis.scan_iter(match=f"{settings.redis_prefix}*", count=1000)]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()
    per_vote, per_bare = spent / args.votes * 1e6, bare / args.votes * 1e6
    print(
        f"votes: {args.votes} from {args.clients} concurrent callers, {len(people)} participants, {len(answers)} answers"
    )
    print(f"CPU per vote        {per_vote:8.0f} µs   ({args.votes / spent:7.0f} votes per CPU second)")
    print(
        f"  of which the event loop's thread {loop_spent / args.votes * 1e6:6.0f} µs (the rest: SQLite's thread)"
    )
    print(f"CPU per bare call   {per_bare:8.0f} µs   (a Litestar app with one route, same calls)")
    print(f"ratio bare ÷ vote   {per_bare / per_vote:8.3f}   (in process: no server, no client, no network)")
    if profiler is not None:
        print(profiler.output_text(unicode=True, color=False, show_all=False))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m tests.bench_vote_path", description=__doc__.split("\n\n")[0])
    p.add_argument("--votes", type=int, default=20000)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--participants", type=int, default=500)
    p.add_argument("--answers", type=int, default=40)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="'' for the in-process live layer")
    p.add_argument("--rounds", type=int, default=3, help="runs of --votes each; the least CPU is reported")
    p.add_argument("--profile", action="store_true")
    asyncio.run(bench(p.parse_args(argv)))


if __name__ == "__main__":
    main()

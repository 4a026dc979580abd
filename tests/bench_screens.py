"""What projectors cost during a vote storm: database work and vote throughput with and without them.

Run from the project root:

    uv run python -m tests.bench_screens [--projectors 10] [--seconds 10] [--clients 50] \\
        [--answers 200] [--participants 2000] [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test] \\
        [--redis-url redis://127.0.0.1:6379/0] [--code DIR]

It starts `board serve` (one worker) on a fresh PostgreSQL database that it creates and drops, posts
answers on the demo event's first thread, creates participants, then runs the vote benchmark's wrk load
twice: without projectors, then with `--projectors` of them open. A projector here does what the
screen page does in a browser: it holds the event's live stream and, whenever a `counts`, `status` or
`answer` message arrives, fetches the board again (`GET /e/{slug}/screen?block=board`), one fetch at a
time, keeping the last message that came during a fetch, like htmx. For each run it prints votes/s and
p99, the projectors' fetches, and what the database did (PostgreSQL's own statistics of the run's
database: transactions, rows read, table scans, per second).

`--code DIR` runs the server from another checkout (for example `git worktree add /tmp/main main`), to
compare the same load on other code. It needs wrk (`apt-get install -y wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.bench_votes import (
    HTMX,
    ROOT,
    SLUG,
    Fixture,
    Server,
    WrkResult,
    check_prerequisites,
    code_revision,
    create_participants,
    first_thread,
    free_port,
    post_answers,
    run_wrk,
    say,
    workspace,
    write_vote_script,
)

REDRAW_ON = {"counts", "status", "answer"}
STATS_SETTLE = 11.0
"""PostgreSQL backends report their statistics when idle, at the latest 10 s later: wait that long."""


def board(root: Path, env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "board.cli", *args], cwd=root, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"`board {' '.join(args)}` failed:\n{done.stdout}{done.stderr}")


def serve(root: Path, env: dict[str, str], workdir: Path) -> Server:
    port = free_port()
    out, err = workdir / "server.out", workdir / "server.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "board.cli", "serve", "--port", str(port), "--workers", "1"],
            cwd=root,
            env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, out, err)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not server.alive():
            raise SystemExit(f"the server exited:\n{server.stderr_tail()}")
        try:
            if httpx.get(f"{server.base}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"the server did not start:\n{server.stderr_tail()}")


@dataclass
class DatabaseWork:
    transactions: int
    rows: int
    scans: int

    def __sub__(self, other: DatabaseWork) -> DatabaseWork:
        return DatabaseWork(
            self.transactions - other.transactions, self.rows - other.rows, self.scans - other.scans
        )


async def database_work(url: str) -> DatabaseWork:
    """The run's database as PostgreSQL counts it (its statistics, flushed by idle backends)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            xact, rows = (
                await conn.execute(
                    text(
                        "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched"
                        " FROM pg_stat_database WHERE datname = current_database()"
                    )
                )
            ).one()
            scans = (
                await conn.execute(
                    text(
                        "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0) FROM pg_stat_user_tables"
                    )
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    return DatabaseWork(int(xact), int(rows), int(scans))


@dataclass
class Projectors:
    fetches: int = 0
    failures: int = 0
    received: int = 0
    bytes: int = 0


async def projector(base: str, tally: Projectors, stop: asyncio.Event) -> None:
    """One screen: the event stream, and a board fetch after each message that redraws it."""
    wake = asyncio.Event()

    async def listen(http: httpx.AsyncClient) -> None:
        async with http.stream("GET", f"/e/{SLUG}/stream", timeout=None) as stream:
            async for line in stream.aiter_lines():
                if line.startswith("event:") and line[6:].strip() in REDRAW_ON:
                    tally.received += 1
                    wake.set()

    async def redraw(http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            await wake.wait()
            wake.clear()
            response = await http.get(f"/e/{SLUG}/screen?block=board", headers=HTMX)
            tally.fetches += 1
            tally.bytes += len(response.content)
            if response.status_code != 200:
                tally.failures += 1

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        tasks = [asyncio.create_task(listen(http)), asyncio.create_task(redraw(http))]
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass
class Run:
    name: str
    votes: WrkResult
    work: DatabaseWork
    seconds: float
    projectors: Projectors | None


async def one_run(
    name: str, args: argparse.Namespace, server: Server, script: Path, database_url: str, count: int
) -> Run:
    await asyncio.sleep(STATS_SETTLE)
    before = await database_work(database_url)
    stop = asyncio.Event()
    tally = Projectors()
    screens = [asyncio.create_task(projector(server.base, tally, stop)) for _ in range(count)]
    started = time.monotonic()
    votes = await run_wrk(
        server,
        f"/e/{SLUG}/answers/{args.first_answer}/vote",
        script,
        seconds=args.seconds,
        clients=args.clients,
        threads=2,
        patience=0.0,
    )
    stop.set()
    await asyncio.gather(*screens, return_exceptions=True)
    seconds = time.monotonic() - started
    await asyncio.sleep(STATS_SETTLE)
    work = await database_work(database_url) - before
    return Run(name, votes, work, seconds, tally if count else None)


async def measure(args: argparse.Namespace, server: Server, tmp: Path, database_url: str) -> list[Run]:
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        thread_id = await first_thread(http)
    answers = await post_answers(server.base, thread_id, args.answers)
    joins = await create_participants(server.base, args.participants, 50)
    say(f"prepared: {len(answers)} answers on thread {thread_id}, {len(joins.cookies)} participants")
    args.first_answer = answers[0]
    script = tmp / "votes.lua"
    write_vote_script(script, Fixture(thread_id, answers, joins.csrf, joins.cookies), 2, gzip=False)
    runs = [await one_run("no projector", args, server, script, database_url, 0)]
    runs.append(
        await one_run(f"{args.projectors} projectors", args, server, script, database_url, args.projectors)
    )
    return runs


def report(args: argparse.Namespace, runs: list[Run]) -> None:
    say()
    say("=" * 78)
    say(
        f"Projectors during the vote benchmark: wrk -c{args.clients} -d{args.seconds}s, {args.answers} answers, "
        f"code {code_revision() if args.code is None else args.code}"
    )
    say("-" * 78)
    for run in runs:
        per = 1 / run.seconds
        say(
            f"{run.name:15s} votes {run.votes.rate:7.0f}/s  p99 {run.votes.p99_ms:6.1f} ms  errors {run.votes.errors}"
        )
        say(
            f"{'':15s} database: {run.work.transactions * per:7.0f} transactions/s  "
            f"{run.work.scans * per:7.0f} table scans/s  {run.work.rows * per:9.0f} rows read/s"
        )
        if run.projectors:
            p = run.projectors
            say(
                f"{'':15s} projectors: {p.received} redraw messages, {p.fetches} board fetches "
                f"({p.fetches * per:.0f}/s, {p.bytes / max(p.fetches, 1) / 1000:.1f} KB each), {p.failures} failed"
            )
    say("=" * 78)


def bench(args: argparse.Namespace) -> int:
    check_prerequisites(
        argparse.Namespace(workers=1, clients=args.clients, threads=2, redis_url=args.redis_url)
    )
    root = Path(args.code).resolve() if args.code else ROOT
    args.wait_quiet = 0.0
    with workspace(args) as (tmp, env):
        database_url = env["BOARD_DATABASE_URL"]
        if not database_url.startswith("postgresql"):
            raise SystemExit("--database-url must name a PostgreSQL server: its statistics count the work")
        board(root, env, "db", "upgrade")
        board(root, env, "seed")
        server = serve(root, env, tmp)
        say(f"server: {server.base} from {root} ({urlsplit(database_url).path.lstrip('/')})")
        try:
            runs = asyncio.run(measure(args, server, tmp, database_url))
        finally:
            server.stop()
    report(args, runs)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.bench_screens", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--projectors", type=int, default=10, help="screens open during the second run (default 10)"
    )
    p.add_argument("--seconds", type=int, default=10, help="duration of each wrk run (default 10)")
    p.add_argument("--clients", type=int, default=50, help="wrk connections (default 50)")
    p.add_argument("--answers", type=int, default=200, help="answers on the thread (default 200)")
    p.add_argument("--participants", type=int, default=2000, help="distinct voters (default 2000)")
    p.add_argument(
        "--database-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="a PostgreSQL server; a fresh database is created on it and dropped",
    )
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="'' for the in-process live layer")
    p.add_argument("--code", default=None, metavar="DIR", help="run the server from this checkout instead")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    sys.exit(bench(parse_args(argv)))


if __name__ == "__main__":
    main()

"""Live-layer benchmarks against the real server: SSE fan-out and a crowd joining at once.

Run from the project root:

    uv run python -m tests.bench_live fanout [--streams 2000] [--workers 2] [--votes 20]
    uv run python -m tests.bench_live crowd [--people 1000] [--concurrency 100] [--workers 2]
    uv run python -m tests.bench_live logins [--guesses 60] [--workers 1]

fanout: opens --streams SSE connections on one thread (spread over the workers by the kernel), then
casts --votes votes one every 0.5 s and times, for every stream, how long each new count takes to
arrive: p50, p95 and max delivery latency against the 250 ms p95 budget, and each worker's resident
memory against the 200 MB budget; then it holds as many streams on the bare Litestar app of
tests/bare_litestar.py, served the same way, without and with the board's libraries imported, and
prints its workers' memory: what streams cost before any of the board's own code. crowd: --people new participants each open the event page, then
each votes once on the same answer, as fast as --concurrency allows: the page views and the first
votes timed apart (together against the 10 s budget), the participant count after each (views add
nobody), the 5xx count, and the final count against the number of voters. logins: a participant page's latency
while idle and while --guesses wrong passwords arrive at once (limits raised so that every guess
reaches the password check): a password check must not hold up participants. All use Redis (--redis-url) and a fresh
SQLite file unless --database-url is given (with BOARD_DATABASE_SCHEMA for a PostgreSQL schema).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import statistics
import subprocess
import time
from pathlib import Path

import httpx

from tests.bench_votes import (
    ROOT,
    SLUG,
    Server,
    board_command,
    run_board,
    say,
    start_reference,
    start_server,
    workspace,
)

CSRF_RE = re.compile(r'name="_csrf_token" value="([^"]+)"')


def rss_mb(server: Server) -> dict[int, float]:
    """Resident memory of each worker process (the server's children), in MB."""
    sizes: dict[int, float] = {}
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    for pid in children.read_text().split() if children.exists() else []:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes[int(pid)] = int(line.split()[1]) / 1024
    return sizes


async def participant(http: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    """A new participant: its cookies and the CSRF token of its first page."""
    page = await http.get(f"/e/{SLUG}/t/1")
    page.raise_for_status()
    found = CSRF_RE.search(page.text)
    assert found, "no CSRF token on the thread page"
    return dict(page.cookies), found.group(1)


async def post_answer(base: str, body: str) -> int:
    async with httpx.AsyncClient(base_url=base) as http:
        _, token = await participant(http)
        posted = await http.post(
            f"/e/{SLUG}/t/1/answers",
            data={"body": body},
            headers={"HX-Request": "true", "x-csrftoken": token},
        )
        posted.raise_for_status()
        return int(re.search(r'id="a(\d+)"', posted.text).group(1))  # type: ignore[union-attr]


class Stream:
    """One raw SSE connection; records when each agree count of the answer first shows up."""

    def __init__(self, host: str, port: int, answer_id: int) -> None:
        self.host, self.port = host, port
        self.marker = f'id="ag{answer_id}" hx-swap-oob="true">'.encode()
        self.seen: dict[int, float] = {}
        self.ready = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None

    async def run(self) -> None:
        reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        self.writer.write(
            f"GET /e/{SLUG}/t/1/stream HTTP/1.1\r\nHost: {self.host}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        await self.writer.drain()
        while True:
            line = await reader.readline()
            if not line:
                return
            if not self.ready.is_set() and line.startswith(b"event: counts"):
                self.ready.set()
            at = line.find(self.marker)
            if at >= 0:
                end = line.find(b"<", at + len(self.marker))
                value = int(line[at + len(self.marker) : end])
                self.seen.setdefault(value, time.monotonic())

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def fanout(args: argparse.Namespace, server: Server) -> bool:
    answer_id = await post_answer(server.base, "Réponse suivie par tous les écrans")
    started = time.monotonic()
    streams, tasks = await open_streams(server, args.streams, answer_id)
    say(f"{len(streams)} streams open in {time.monotonic() - started:.1f} s")
    await asyncio.sleep(1.0)
    idle_rss = rss_mb(server)

    sent: dict[int, float] = {}
    voters = [httpx.AsyncClient(base_url=server.base, timeout=10) for _ in range(args.votes)]
    tokens = [(await participant(http))[1] for http in voters]
    for count, (http, token) in enumerate(zip(voters, tokens, strict=True), start=1):
        sent[count] = time.monotonic()
        response = await http.post(
            f"/e/{SLUG}/answers/{answer_id}/vote",
            data={"value": "1"},
            headers={"HX-Request": "true", "x-csrftoken": token},
        )
        response.raise_for_status()
        await http.aclose()
        await asyncio.sleep(0.5)
    await asyncio.sleep(1.5)
    busy_rss = rss_mb(server)
    latencies = [1000 * (s.seen[n] - sent[n]) for s in streams for n in sent if n in s.seen]
    missing = sum(1 for s in streams for n in sent if n not in s.seen)
    await close_streams(streams, tasks)

    ordered = sorted(latencies)
    p95 = ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("inf")
    say(f"deliveries: {len(latencies)} (expected {len(streams) * len(sent)}), missing {missing}")
    if ordered:
        say(f"latency ms: p50 {statistics.median(ordered):.0f}  p95 {p95:.0f}  max {ordered[-1]:.0f}")
    worst = max(busy_rss.values(), default=0.0)
    say(
        f"worker RSS MB idle: {', '.join(f'{v:.0f}' for v in idle_rss.values())}; "
        f"after votes: {', '.join(f'{v:.0f}' for v in busy_rss.values())}"
    )
    ok_latency = p95 <= 250 and missing == 0
    ok_memory = worst <= 200
    say(f"p95 <= 250 ms and none missing: {'PASS' if ok_latency else 'FAIL'}")
    say(f"RSS <= 200 MB per worker: {'PASS' if ok_memory else 'FAIL'}")
    return ok_latency and ok_memory


async def open_streams(
    server: Server, count: int, answer_id: int = 0
) -> tuple[list[Stream], list[asyncio.Task[None]]]:
    host, port = server.base.removeprefix("http://").split(":")
    streams = [Stream(host, int(port), answer_id) for _ in range(count)]
    tasks = []
    for index, stream in enumerate(streams):
        tasks.append(asyncio.create_task(stream.run()))
        if index % 100 == 99:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in streams)), 120)
    return streams, tasks


async def close_streams(streams: list[Stream], tasks: list[asyncio.Task[None]]) -> None:
    for stream in streams:
        stream.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def reference_memory(args: argparse.Namespace, env: dict[str, str], workdir: Path) -> None:
    """The same streams held by the bare Litestar app (tests/bare_litestar.py) on granian, without and
    with the board's libraries imported: what a worker costs before any of the board's own code."""
    for libraries in ("0", "1"):
        server = start_reference({**env, "BARE_LIBRARIES": libraries}, args.workers, workdir)
        try:
            before = rss_mb(server)
            streams, tasks = await open_streams(server, args.streams)
            await asyncio.sleep(1.0)
            held = rss_mb(server)
            await close_streams(streams, tasks)
        finally:
            server.stop()
        say(
            f"reference: bare Litestar on granian{' with the libraries of the board' if libraries == '1' else ''}, "
            f"worker RSS MB idle: {', '.join(f'{v:.0f}' for v in before.values())}; "
            f"with the same {args.streams} streams: {', '.join(f'{v:.0f}' for v in held.values())}"
        )


async def people(base: str) -> int:
    async with httpx.AsyncClient(base_url=base) as http:
        return int((await http.get(f"/api/events/{SLUG}")).json()["participants"])


async def crowd(args: argparse.Namespace, server: Server) -> bool:
    """Page views first (every person opens the event page), then first actions (every person votes):
    timed apart, since a view stores nothing and a first vote brings the participant's row. A view
    closes its connection: kept idle through the other views, it would outlive the server's
    keep-alive timeout (5 s) and fail the vote sent on it."""
    answer_id = await post_answer(server.base, "Réponse votée par la foule")
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    gate = asyncio.Semaphore(args.concurrency)
    views: list[int] = []
    votes: list[int] = []
    tokens: dict[int, str] = {}
    clients = [httpx.AsyncClient(base_url=server.base, timeout=30, limits=limits) for _ in range(args.people)]
    before = await people(server.base)

    async def view(n: int, http: httpx.AsyncClient) -> None:
        async with gate:
            try:
                page = await http.get(f"/e/{SLUG}", headers={"Connection": "close"})
            except httpx.TransportError:
                views.append(0)
                return
            views.append(page.status_code)
            token = CSRF_RE.search(page.text)
            if page.status_code == 200 and token is not None:
                tokens[n] = token.group(1)

    async def first_vote(n: int, http: httpx.AsyncClient) -> None:
        async with gate:
            try:
                vote = await http.post(
                    f"/e/{SLUG}/answers/{answer_id}/vote",
                    data={"value": "1"},
                    headers={"HX-Request": "true", "x-csrftoken": tokens[n]},
                )
            except httpx.TransportError:
                votes.append(0)
                return
            votes.append(vote.status_code)

    started = time.monotonic()
    await asyncio.gather(*(view(n, c) for n, c in enumerate(clients)))
    viewing = time.monotonic() - started
    after_views = await people(server.base)
    started = time.monotonic()
    await asyncio.gather(*(first_vote(n, clients[n]) for n in tokens))
    voting = time.monotonic() - started
    for client in clients:
        await client.aclose()
    async with httpx.AsyncClient(base_url=server.base) as http:
        rows = (await http.get("/api/threads/1/answers?limit=500")).json()
    agree = next(r["agree"] for r in rows if r["id"] == answer_id)
    after_votes = await people(server.base)
    statuses = views + votes
    server_errors = sum(1 for s in statuses if s >= 500)
    other = sum(1 for s in statuses if 400 <= s < 500)
    dropped = statuses.count(0)
    say(
        f"page views: {args.people} first visits (GET /e/{{slug}}, no cookie) in {viewing:.1f} s "
        f"({args.people / viewing:.0f}/s); participants {before} -> {after_views}"
    )
    say(
        f"first actions: {len(tokens)} first votes in {voting:.1f} s ({len(tokens) / voting:.0f}/s); "
        f"participants {after_views} -> {after_votes}"
    )
    say(
        f"5xx: {server_errors}; 4xx: {other}; connections lost: {dropped}; "
        f"agree count {agree} for {args.people} voters"
    )
    ok = (
        viewing + voting <= 10
        and server_errors == dropped == 0
        and agree == args.people
        and after_views == before
        and after_votes == before + args.people
    )
    say(
        "views and first votes within 10 s, no 5xx, views store nobody, every vote counted once: "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return ok


async def page_latencies(
    base: str, count: int = 0, until: asyncio.Future[object] | None = None
) -> list[float]:
    """Times of participant page loads by one participant, one every 50 ms: `count` of them, or until `until`."""
    times = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        await http.get(f"/e/{SLUG}")
        while len(times) < count or (until is not None and not until.done()):
            started = time.monotonic()
            (await http.get(f"/e/{SLUG}")).raise_for_status()
            times.append(time.monotonic() - started)
            await asyncio.sleep(0.05)
    return times


def latency_line(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1000
    return f"{name}: page p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {ordered[-1] * 1000:.0f} ms ({len(times)} loads)"


async def logins(args: argparse.Namespace, server: Server) -> bool:
    idle = await page_latencies(server.base, 20)
    say(latency_line("idle", idle))

    async def guess(n: int) -> int:
        async with httpx.AsyncClient(base_url=server.base, timeout=120) as http:
            page = await http.get("/login")
            token = CSRF_RE.search(page.text)
            assert token, "no CSRF token on the login page"
            response = await http.post(
                "/login",
                data={"username": "bench", "password": f"wrong {n}", "_csrf_token": token.group(1)},
            )
            return response.status_code

    started = time.monotonic()
    storm = asyncio.gather(*(guess(n) for n in range(args.guesses)))
    during = await page_latencies(server.base, until=storm)
    statuses = await storm
    elapsed = time.monotonic() - started
    say(latency_line(f"during {args.guesses} concurrent wrong logins", during))
    say(f"the guesses took {elapsed:.1f} s; statuses {sorted(set(statuses))}")
    worst = max(during)
    ok = worst < 1.0 and all(s == 401 for s in statuses)
    say(f"no page load above 1 s during the login storm, every guess refused: {'PASS' if ok else 'FAIL'}")
    return ok


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario", choices=["fanout", "crowd", "logins"])
    parser.add_argument("--guesses", type=int, default=60)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--votes", type=int, default=20)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 65536)), hard))
    with workspace(args) as (tmp, env):
        env["BOARD_JOIN_LIMIT"] = "100000/minute"
        env["BOARD_STREAM_LIMIT_ADDRESS"] = "100000"
        run_board(env, "db", "upgrade")
        run_board(env, "seed")
        if args.scenario == "logins":
            env.update(BOARD_LOGIN_LIMIT="100000/minute", BOARD_LOGIN_ADDRESS_LIMIT="100000/minute")
            subprocess.run(
                board_command("account", "add", "bench", "--event", SLUG, "--password-stdin"),
                cwd=ROOT,
                env=env,
                input="bench password 12345\n",
                text=True,
                check=True,
                capture_output=True,
            )
        server = start_server(env, args.workers, tmp)
        try:
            run = {"fanout": fanout, "crowd": crowd, "logins": logins}[args.scenario]
            ok = asyncio.run(run(args, server))
        finally:
            server.stop()
        if args.scenario == "fanout":
            asyncio.run(reference_memory(args, env, tmp))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()

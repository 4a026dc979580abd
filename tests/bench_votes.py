"""Vote throughput benchmark against the real server (granian), with wrk as the load generator.

Run from the project root:

    uv run python -m tests.bench_votes [--seconds 10] [--clients 20,50] [--participants 5000] \\
        [--answers 50] [--workers 1] [--database-url URL] [--redis-url redis://127.0.0.1:6379/0]

It starts `board serve` on a fresh temporary SQLite file (or on a fresh database that it creates on
the PostgreSQL server of --database-url and drops at the end) with a Redis key prefix of its own,
posts answers on the first thread of the demo event, creates participants over HTTP, then runs wrk
with the same threads and duration: votes (POST .../vote, htmx, CSRF header, one participant cookie
per request, rotating) at each --clients count (20 and 50 by default), the bare GET /healthz, page
views (GET /e/{slug} with no cookie: a visit stores nothing) and first votes (no participant cookie:
each vote brings a new participant); then it serves a bare Litestar app (tests/bare_litestar.py) on
granian with the same workers and loads it with the same runs, the reference for the vote's ratio. Participants are created by their first action (POST
/e/{slug}/profile without a cookie: each a new participant), timed while preparing. It prints votes/s,
latency, errors and the ratios to the bare app and to /healthz against the budgets in DESIGN.md, the time 1,000 page views
and 1,000 first actions take, checks
that the API's counts equal the rows of the vote table, and weighs a phone's first load of a thread page.

More options: --threads (wrk threads, 2), --concurrency (concurrent joins while preparing, 50),
--accept-gzip (votes carry Accept-Encoding: gzip as browsers send), --wait-quiet SECONDS (wait for
other processes to leave the CPUs idle before each wrk run: the numbers mean little on a busy
machine; the report also gives the server's CPU time per request, which other load skews much less).

This is not a pytest test. It needs wrk (`apt-get install -y wrk`) and, by default, a Redis server.
Pass `--redis-url ''` to run with the in-process live layer (one worker only).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import html.parser
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
SLUG = "republique-collaborative"
COOKIE = f"bp_{SLUG}"
HTMX = {"HX-Request": "true"}
RESULT_RE = re.compile(r"^BENCH (.*)$", re.MULTILINE)

# Budgets, from DESIGN.md "Budgets" and its second wave.
MIN_RATIO = 0.08
MAX_P99_MS = 100.0
LEAN_CLIENTS = 20
MIN_BARE_RATIO = 0.20
MAX_LEAN_P99_MS = 10.0
FIRST_VOTES_BUDGET = (1000, 3.0)
MAX_PAGE_BYTES = 40 * 1000
MAX_PAGE_REQUESTS = 6
MAX_VOTE_BYTES = 2 * 1000
BENCH_LIMITS = {"BOARD_JOIN_LIMIT": "100000/minute", "BOARD_VOTE_LIMIT": "100000/minute"}


def say(message: str = "") -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------------------------
# The server


@dataclass
class Server:
    """`board serve` in a subprocess of its own session, its output in files under the temp dir."""

    base: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stderr_tail(self, lines: int = 60) -> str:
        text = self.stderr.read_text(errors="replace") if self.stderr.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> int | None:
        """SIGINT (granian's graceful shutdown), then SIGTERM, then SIGKILL to our own process group."""
        if not self.alive():
            return self.process.returncode
        for sig, wait in ((signal.SIGINT, 20.0), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                return self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                say(f"  server still running after {signal.Signals(sig).name}")
        return self.process.poll()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def process_tree_cpu(root: int) -> float | None:
    """CPU seconds (user + system) used so far by a process and its descendants; None off Linux."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(used.get(pid, 0.0) for pid in tree)


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies over all CPUs since boot, from /proc/stat; None off Linux."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


BUSY = 0.1  # other processes using more than this share of the CPUs make the numbers unreliable


def others_busy(server_pid: int, seconds: float = 1.0) -> float | None:
    """Share of all CPUs that processes other than the (idle) server kept busy over `seconds`."""
    before, server_before = _cpu_times(), process_tree_cpu(server_pid)
    time.sleep(seconds)
    after, server_after = _cpu_times(), process_tree_cpu(server_pid)
    if before is None or after is None or after[1] == before[1]:
        return None
    server = ((server_after or 0.0) - (server_before or 0.0)) * os.sysconf("SC_CLK_TCK")
    return max(0.0, (after[0] - before[0] - server) / (after[1] - before[1]))


def wait_until_quiet(server_pid: int, patience: float) -> str:
    """Wait up to `patience` seconds for the other processes to calm down; describe the machine."""
    deadline = time.monotonic() + patience
    while True:
        busy = others_busy(server_pid)
        if busy is None:
            return "machine load: unknown"
        if busy < BUSY or time.monotonic() >= deadline:
            break
    cpus = os.cpu_count() or 1
    note = "" if busy < BUSY else "  WARNING: other processes compete with the benchmark"
    return f"other processes kept {busy:.0%} of {cpus} CPUs busy just before this run{note}"


def code_revision() -> str:
    """The commit under test, and whether the work tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return head + (" + uncommitted changes" if dirty else "")


def board_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "board.cli", *args]


def run_board(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(board_command(*args), cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"`board {' '.join(args)}` failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    for line in done.stdout.splitlines():
        say(f"  board {args[0]}: {line}")


def start_server(env: dict[str, str], workers: int, workdir: Path) -> Server:
    port = free_port()
    command = board_command("serve", "--port", str(port), "--workers", str(workers))
    return _started(command, env, workdir, "server", port, "/healthz")


def start_reference(env: dict[str, str], workers: int, workdir: Path) -> Server:
    """The bare Litestar app, served on granian with the board's workers."""
    port = free_port()
    command = [sys.executable, "-m", "tests.bare_litestar", str(port), str(workers)]
    return _started(command, env, workdir, "reference", port, "/")


def _started(
    command: list[str], env: dict[str, str], workdir: Path, name: str, port: int, probe: str
) -> Server:
    out, err = workdir / f"{name}.out", workdir / f"{name}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr, start_new_session=True
        )
    server = Server(f"http://127.0.0.1:{port}", process, out, err)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not server.alive():
            raise SystemExit(f"the {name} exited ({process.returncode}):\n{server.stderr_tail()}")
        with suppress(httpx.HTTPError):
            if httpx.get(f"{server.base}{probe}", timeout=1).status_code == 200:
                return server
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"the {name} did not answer {probe} within 60 s:\n{server.stderr_tail()}")


def drop_redis_prefix(url: str, prefix: str) -> int:
    from redis import Redis

    redis = Redis.from_url(url)
    try:
        keys = list(redis.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            redis.delete(*keys[start : start + 1000])
        return len(keys)
    finally:
        redis.close()


# --------------------------------------------------------------------------------------------
# Preparation over HTTP


def no_cookie_jar() -> CookieJar:
    """A jar that keeps nothing, so one client can play many first-time visitors at once.

    A plain CookieJar, not httpx.Cookies: the client copies an httpx.Cookies into a default jar.
    """
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


@dataclass
class Fixture:
    thread_id: int
    answer_ids: list[int]
    csrf: str
    cookies: list[str] = field(default_factory=list)


async def first_thread(http: httpx.AsyncClient) -> int:
    response = await http.get(f"/api/events/{SLUG}")
    response.raise_for_status()
    threads = [t for t in response.json()["threads"] if t["status"] == "open"]
    if not threads:
        raise SystemExit(f"no open thread in {SLUG}: {response.text}")
    thread_id: int = threads[0]["id"]
    return thread_id


async def post_answers(base: str, thread_id: int, count: int) -> list[int]:
    """`count` answers, a new participant for every 5 (the answer limit is 5 a minute each)."""
    ids: list[int] = []
    client: httpx.AsyncClient | None = None
    try:
        for n in range(count):
            if n % 5 == 0:
                if client is not None:
                    await client.aclose()
                client = httpx.AsyncClient(base_url=base, timeout=30)
                page = await client.get(f"/e/{SLUG}/t/{thread_id}")
                page.raise_for_status()
                if 'name="_csrf_token"' not in page.text:
                    say("  note: no hidden _csrf_token input on the thread page")
            assert client is not None
            response = await client.post(
                f"/e/{SLUG}/t/{thread_id}/answers",
                data={
                    "body": f"Réponse de banc d'essai n° {n + 1} : {secrets.token_hex(4)}",
                    "client_key": str(uuid.uuid4()),
                },
                headers={**HTMX, "x-csrftoken": client.cookies.get("csrftoken") or ""},
            )
            if response.status_code != 201:
                raise SystemExit(f"posting answer {n + 1}: {response.status_code} {response.text[:500]}")
            found = re.search(r'id="a(\d+)"', response.text)
            if found:
                ids.append(int(found.group(1)))
    finally:
        if client is not None:
            await client.aclose()
    if len(ids) != count:
        # The fragment did not carry the id: read the answers back from the API, newest first.
        async with httpx.AsyncClient(base_url=base) as http:
            response = await http.get(
                f"/api/threads/{thread_id}/answers", params={"sort": "new", "limit": count}
            )
        ids = [a["id"] for a in response.json()]
    return ids


JOIN_BUDGET = (1000, 10.0)  # DESIGN.md: 1,000 new participants within 10 s, no errors.


@dataclass(frozen=True)
class Joins:
    cookies: list[str]
    csrf: str
    seconds: float
    marks: list[float]  # seconds from the start at every 1,000th join

    def summary(self) -> str:
        blocks = [b - a for a, b in zip([0.0, *self.marks], self.marks, strict=False)]
        per_block = ", ".join(f"{1000 / b:.0f}" for b in blocks if b > 0)
        count = len(self.cookies)
        text = f"{count} participants in {self.seconds:.1f} s ({count / self.seconds:.0f}/s"
        return text + (f"; joins/s per 1,000: {per_block})" if len(blocks) > 1 else ")")

    def budget(self) -> str:
        count, limit = JOIN_BUDGET
        if not self.marks:
            return (
                f"join budget ({count} within {limit:.0f} s): not measured, fewer than {count} participants"
            )
        first = self.marks[0]
        return (
            f"first actions while preparing (POST profile without a cookie, Python client, 50 concurrent, "
            f"sharing the CPUs): first {count} "
            f"participants in {first:.1f} s, target ≤ {limit:.0f} s  {verdict(first <= limit)} (informational)"
        )


async def create_participants(base: str, count: int, concurrency: int) -> Joins:
    """`count` first actions (a profile sent without a cookie): the signed participant cookies and
    one CSRF token. A visit alone creates no participant."""
    cookies: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        csrf = (await http.get(f"/e/{SLUG}")).cookies.get("csrftoken") or ""
    failures: list[str] = []
    marks: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started = time.perf_counter()

    async def worker(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            queue.get_nowait()
            response = await http.post(
                f"/e/{SLUG}/profile",
                data={"segment": "", "name": ""},
                headers={"x-csrftoken": csrf, "Cookie": f"csrftoken={csrf}"},
            )
            jar = response.cookies
            if response.status_code != 303 or COOKIE not in jar:
                failures.append(f"{response.status_code} {response.text[:200]}")
                continue
            cookies.append(jar[COOKIE])
            if len(cookies) % 1000 == 0:
                marks.append(time.perf_counter() - started)

    async with httpx.AsyncClient(base_url=base, cookies=no_cookie_jar(), limits=limits, timeout=60) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} of {count} joins failed, e.g. {failures[0]}")
    if len(set(cookies)) != count:
        raise SystemExit(f"expected {count} distinct participant cookies, got {len(set(cookies))}")
    if not csrf:
        raise SystemExit("no csrftoken cookie was set by GET /e/{slug}")
    return Joins(cookies, csrf, elapsed, marks)


# --------------------------------------------------------------------------------------------
# wrk

WRK_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d "
    .. "connect=%d read=%d write=%d timeout=%d status=%d%s\\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status, status_summary and status_summary() or ""))
end
"""

WRK_FIRST_VOTES = """
-- Generated by tests/bench_votes.py. Every request is a first vote: the CSRF cookie only, no
-- participant cookie, so each one brings a new participant in.
local path_prefix = "/e/%(slug)s/answers/"
local csrf = %(csrf)s
local answers = {%(answers)s}
local i = 0

function init(args)
  math.randomseed(os.time())
end

function request()
  i = i + 1
  return wrk.format("POST", path_prefix .. answers[(i %% #answers) + 1] .. "/vote", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["HX-Request"] = "true",
    ["x-csrftoken"] = csrf,
    ["Cookie"] = "csrftoken=" .. csrf,
  }, "value=" .. ((math.random(2) == 1) and "1" or "-1"))
end
"""

WRK_VOTES = """
-- Generated by tests/bench_votes.py. Vote number g (counted over all wrk threads) goes from
-- participant g mod P to answer (g + g div P) mod A, with 1 or -1 at random: no (participant,
-- answer) pair repeats within the first P x A votes, so nearly every vote adds a row.
local path_prefix = "/e/%(slug)s/answers/"
local csrf = %(csrf)s
local cookies = {
%(cookies)s
}
local answers = {%(answers)s}

local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local i = 0
seen = {}

function init(args)
  math.randomseed(tid * 7919 + os.time())
  i = tid - 1
end

function request()
  local p = (i %% #cookies) + 1
  local a = ((i + math.floor(i / #cookies)) %% #answers) + 1
  i = i + %(threads)d
  local value = (math.random(2) == 1) and "1" or "-1"
  return wrk.format("POST", path_prefix .. answers[a] .. "/vote", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["HX-Request"] = "true",
    ["x-csrftoken"] = csrf,
    ["Cookie"] = "csrftoken=" .. csrf .. "; %(cookie)s=" .. cookies[p],%(extra)s
  }, "value=" .. value)
end

function response(status, headers, body)
  if status >= 300 then
    seen[status] = (seen[status] or 0) + 1
  end
end

function status_summary()
  local totals = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("seen")
    if s then
      for code, n in pairs(s) do totals[code] = (totals[code] or 0) + n end
    end
  end
  local parts = {}
  for code, n in pairs(totals) do table.insert(parts, code .. ":" .. n) end
  table.sort(parts)
  if #parts == 0 then return "" end
  return " codes=" .. table.concat(parts, ",")
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    status_errors: int
    socket_errors: int
    codes: str
    server_cpu: float | None = None

    @property
    def cpu_us_per_request(self) -> float | None:
        if self.server_cpu is None or not self.requests:
            return None
        return self.server_cpu / self.requests * 1e6

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.status_errors + self.socket_errors


async def run_wrk(
    server: Server, path: str, script: Path, *, seconds: int, clients: int, threads: int, patience: float
) -> WrkResult:
    """One wrk run, with the CPU time the server's processes spent during it."""
    say(f"load: wrk -t{threads} -c{clients} -d{seconds}s -s {script.name} {path}")
    say(f"      {await asyncio.to_thread(wait_until_quiet, server.process.pid, patience)}")
    cpu_before = process_tree_cpu(server.process.pid)
    result = await asyncio.to_thread(
        wrk, f"{server.base}{path}", script, seconds=seconds, clients=clients, threads=threads
    )
    cpu_after = process_tree_cpu(server.process.pid)
    if cpu_before is not None and cpu_after is not None:
        result = dataclasses.replace(result, server_cpu=cpu_after - cpu_before)
    return result


def wrk(url: str, script: Path, *, seconds: int, clients: int, threads: int) -> WrkResult:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{clients}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    found = RESULT_RE.search(done.stdout)
    if done.returncode != 0 or not found:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    fields = dict(part.split("=", 1) for part in found.group(1).split())
    number = {k: int(v) for k, v in fields.items() if k != "codes"}
    return WrkResult(
        requests=number["requests"],
        seconds=number["duration_us"] / 1e6,
        p50_ms=number["p50_us"] / 1000,
        p90_ms=number["p90_us"] / 1000,
        p99_ms=number["p99_us"] / 1000,
        max_ms=number["max_us"] / 1000,
        status_errors=number["status"],
        socket_errors=number["connect"] + number["read"] + number["write"] + number["timeout"],
        codes=fields.get("codes", ""),
    )


def write_first_votes_script(path: Path, fixture: Fixture) -> None:
    body = WRK_FIRST_VOTES % {
        "slug": SLUG,
        "csrf": json.dumps(fixture.csrf),
        "answers": ", ".join(str(a) for a in fixture.answer_ids),
    }
    path.write_text(body + WRK_DONE)


def write_vote_script(path: Path, fixture: Fixture, threads: int, *, gzip: bool) -> None:
    cookies = ",\n".join(f"  {json.dumps(c)}" for c in fixture.cookies)
    body = WRK_VOTES % {
        "slug": SLUG,
        "csrf": json.dumps(fixture.csrf),
        "cookies": cookies,
        "answers": ", ".join(str(a) for a in fixture.answer_ids),
        "threads": threads,
        "cookie": COOKIE,
        "extra": '\n    ["Accept-Encoding"] = "gzip",' if gzip else "",
    }
    path.write_text(body + WRK_DONE)


# --------------------------------------------------------------------------------------------
# Page weight


class AssetParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "link" and "stylesheet" in (a.get("rel") or "").split() and a.get("href"):
            self.assets.append(a["href"] or "")
        elif tag == "script" and a.get("src"):
            self.assets.append(a["src"] or "")


@dataclass(frozen=True)
class Transfer:
    url: str
    status: int
    encoding: str
    wire: int
    decoded: int


async def fetch(http: httpx.AsyncClient, url: str) -> tuple[Transfer, httpx.Response]:
    """One GET; `num_bytes_downloaded` counts the body as it came over the wire, before decoding."""
    response = await http.get(url)
    encoding = response.headers.get("content-encoding", "-")
    wire, decoded = response.num_bytes_downloaded, len(response.content)
    return Transfer(url, response.status_code, encoding, wire, decoded), response


async def page_weight(base: str, thread_id: int) -> list[Transfer]:
    """A phone's first load of a thread page: HTML, then its same-origin stylesheets and scripts."""
    headers = {"Accept-Encoding": "gzip"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        page, response = await fetch(http, f"/e/{SLUG}/t/{thread_id}")
        parser = AssetParser()
        parser.feed(response.text)
        transfers = [page]
        origin = urlsplit(base).netloc
        for href in dict.fromkeys(parser.assets):
            url = urljoin(f"{base}/e/{SLUG}/t/{thread_id}", href)
            if urlsplit(url).netloc != origin:
                say(f"  (not same-origin, not counted: {url})")
                continue
            transfer, _ = await fetch(http, url)
            transfers.append(transfer)
    return transfers


async def vote_response(base: str, fixture: Fixture) -> tuple[int, int, int]:
    """One htmx vote as a phone sends it: status, decoded body bytes, gzip bytes on the wire."""
    async with httpx.AsyncClient(base_url=base, cookies=no_cookie_jar(), timeout=30) as http:
        cookie = f"csrftoken={fixture.csrf}; {COOKIE}={fixture.cookies[0]}"
        response = await http.post(
            f"/e/{SLUG}/answers/{fixture.answer_ids[0]}/vote",
            data={"value": "1"},
            headers={**HTMX, "x-csrftoken": fixture.csrf, "Cookie": cookie, "Accept-Encoding": "gzip"},
        )
        return response.status_code, len(response.content), response.num_bytes_downloaded


# --------------------------------------------------------------------------------------------
# Correctness


async def api_totals(base: str, thread_id: int, answer_ids: list[int]) -> tuple[int, int]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        response = await http.get(f"/api/threads/{thread_id}/answers", params={"limit": 500})
        response.raise_for_status()
    mine = set(answer_ids)
    listed = [a for a in response.json() if a["id"] in mine]
    return sum(a["agree"] for a in listed), sum(a["disagree"] for a in listed)


async def sql_totals(database_url: str, answer_ids: list[int]) -> tuple[int, int, int]:
    """Rows of the vote table for the benchmark's answers: (agree, disagree, every row of the table)."""
    from sqlalchemy import bindparam, text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            query = text(
                "SELECT COALESCE(SUM(CASE WHEN value = 1 THEN 1 ELSE 0 END), 0),"
                " COALESCE(SUM(CASE WHEN value = -1 THEN 1 ELSE 0 END), 0)"
                " FROM vote WHERE answer_id IN :ids"
            ).bindparams(bindparam("ids", expanding=True))
            agree, disagree = (await conn.execute(query, {"ids": answer_ids})).one()
            total = (await conn.execute(text("SELECT COUNT(*) FROM vote"))).scalar_one()
    finally:
        await engine.dispose()
    return int(agree), int(disagree), int(total)


async def settled_totals(base: str, fixture: Fixture, database_url: str) -> tuple[int, int, int, int, int]:
    """Counts once the last votes of closed connections have been committed (two equal readings)."""
    previous: tuple[int, int, int, int, int] | None = None
    for _ in range(20):
        api = await api_totals(base, fixture.thread_id, fixture.answer_ids)
        sql = await sql_totals(database_url, fixture.answer_ids)
        current = (*api, *sql)
        if current == previous:
            break
        previous = current
        await asyncio.sleep(0.5)
    return current


# --------------------------------------------------------------------------------------------
# The run


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


async def _postgres(url: str, statement: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def fresh_database(url: str, tmp: Path, name: str) -> Iterator[str]:
    """A new SQLite file, or a new database on the given PostgreSQL server, dropped afterwards.

    Every run starts from no votes: the vote path's cost depends on how many are already counted.
    """
    if not url:
        yield f"sqlite+aiosqlite:///{tmp / 'board.sqlite3'}"
        return
    if not url.startswith("postgresql"):
        say(f"note: using {url.split('://')[0]} as given; it is not emptied first nor cleaned up")
        yield url
        return
    from sqlalchemy.engine import make_url

    fresh = make_url(url).set(database=name).render_as_string(hide_password=False)
    try:
        asyncio.run(_postgres(url, f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise SystemExit(f"could not create a fresh PostgreSQL database {name}: {exc}") from None
    say(f"database: created PostgreSQL database {name} for this run")
    try:
        yield fresh
    finally:
        try:
            asyncio.run(_postgres(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            say(f"cleanup: dropped PostgreSQL database {name}")
        except Exception as exc:
            say(f"cleanup: could not drop PostgreSQL database {name}: {exc}")


@contextmanager
def workspace(args: argparse.Namespace) -> Iterator[tuple[Path, dict[str, str]]]:
    """A temporary directory, a fresh database, a Redis key prefix and the server's environment."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-votes-"))
    token = secrets.token_hex(6)
    prefix = f"bench:{token}:"
    env = dict(os.environ)
    env.pop("BOARD_DEMO", None)
    env.update(
        BOARD_DATA_DIR=str(tmp),
        BOARD_SECRET_KEY=secrets.token_urlsafe(48),
        BOARD_REDIS_PREFIX=prefix,
        BOARD_SEEDS_DIR=str(ROOT / "seeds"),
        PYTHONUNBUFFERED="1",
        **BENCH_LIMITS,
    )
    if args.redis_url:
        env["BOARD_REDIS_URL"] = args.redis_url
    else:
        env.pop("BOARD_REDIS_URL", None)
    try:
        with fresh_database(args.database_url, tmp, f"bench_{token}") as database_url:
            env["BOARD_DATABASE_URL"] = database_url
            yield tmp, env
    finally:
        if args.redis_url:
            try:
                dropped = drop_redis_prefix(args.redis_url, prefix)
                say(f"cleanup: deleted {dropped} Redis key(s) under {prefix}")
            except Exception as exc:
                say(f"cleanup: could not delete Redis keys under {prefix}: {exc}")
        shutil.rmtree(tmp, ignore_errors=True)
        say(f"cleanup: removed {tmp}")


def check_prerequisites(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: run `apt-get install -y wrk` (Debian/Ubuntu), then retry.")
    if args.workers > 1 and not args.redis_url:
        raise SystemExit("more than one worker needs Redis: pass --redis-url.")
    if min(args.clients) < args.threads:
        raise SystemExit("--clients must be at least --threads.")
    if args.redis_url:
        from redis import Redis
        from redis.exceptions import RedisError

        redis = Redis.from_url(args.redis_url, socket_connect_timeout=2)
        try:
            redis.ping()
        except RedisError as exc:
            raise SystemExit(
                f"Redis at {args.redis_url} is unreachable ({exc}); start it or pass --redis-url ''."
            ) from None
        finally:
            redis.close()


def bench(args: argparse.Namespace) -> int:
    check_prerequisites(args)
    with workspace(args) as (tmp, env):
        database_url = env["BOARD_DATABASE_URL"]
        say(
            f"database: {database_url.split('://')[0]}  redis: {args.redis_url or 'none (in-process)'}  "
            f"prefix: {env['BOARD_REDIS_PREFIX']}  workers: {args.workers}"
        )
        say(
            "limits raised for the benchmark server so it measures the vote path, not the limiter: "
            + ", ".join(f"{k}={v}" for k, v in BENCH_LIMITS.items())
        )
        say(f"code: {code_revision()}")
        run_board(env, "db", "upgrade")
        run_board(env, "seed")
        server = start_server(env, args.workers, tmp)
        say(f"server: {server.base} (pid {server.process.pid})")
        failed = True
        try:
            failed = asyncio.run(measure(args, server, tmp, database_url))
        finally:
            code = server.stop()
            say(f"server stopped (exit code {code})")
            if failed:
                tail = server.stderr_tail()
                if tail:
                    say("---- server stderr (tail) ----")
                    say(tail)
                    say("------------------------------")
    return 1 if failed else 0


@dataclass(frozen=True)
class Outcome:
    votes_at: dict[int, WrkResult]
    bare_at: dict[int, WrkResult]
    health: WrkResult
    arrivals: WrkResult
    first_votes: WrkResult
    api: tuple[int, int]
    sql: tuple[int, int]
    sql_rows: int
    transfers: list[Transfer]
    vote_bytes: int
    vote_wire: int

    @property
    def votes(self) -> WrkResult:
        """The run at the most connections, which the /healthz budget is written for."""
        return self.votes_at[max(self.votes_at)]

    @property
    def ratio(self) -> float:
        return self.votes.rate / self.health.rate if self.health.rate else 0.0

    def bare_ratio(self, clients: int) -> float:
        bare = self.bare_at.get(clients)
        return self.votes_at[clients].rate / bare.rate if bare and bare.rate else 0.0

    @property
    def lean(self) -> WrkResult | None:
        return self.votes_at.get(LEAN_CLIENTS)

    @property
    def first_votes_seconds(self) -> float:
        rate = self.first_votes.rate
        return FIRST_VOTES_BUDGET[0] / rate if rate else float("inf")

    @property
    def page_bytes(self) -> int:
        return sum(t.wire for t in self.transfers)

    def checks(self) -> dict[str, bool]:
        lean = {}
        if self.lean is not None:
            lean = {
                "lean ratio": self.bare_ratio(LEAN_CLIENTS) >= MIN_BARE_RATIO,
                "lean p99": self.lean.p99_ms <= MAX_LEAN_P99_MS,
            }
        return {
            "ratio": self.ratio >= MIN_RATIO,
            "p99": self.votes.p99_ms <= MAX_P99_MS,
            "errors": all(r.errors == 0 for r in self.votes_at.values()),
            **lean,
            "first votes": self.first_votes_seconds <= FIRST_VOTES_BUDGET[1] and self.first_votes.errors == 0,
            "counts": self.api == self.sql,
            "page_bytes": self.page_bytes <= MAX_PAGE_BYTES and all(t.status == 200 for t in self.transfers),
            "page_requests": len(self.transfers) <= MAX_PAGE_REQUESTS,
            "vote_bytes": self.vote_bytes <= MAX_VOTE_BYTES,
            "joins": self.join_seconds <= JOIN_BUDGET[1] and self.arrivals.errors == 0,
        }

    @property
    def join_seconds(self) -> float:
        """Time for the budget's count of new participants at the rate wrk measured."""
        return JOIN_BUDGET[0] / self.arrivals.rate if self.arrivals.rate else float("inf")


async def measure(args: argparse.Namespace, server: Server, tmp: Path, database_url: str) -> bool:
    """Prepare, load, verify and report; True if any target failed."""
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        thread_id = await first_thread(http)
    answer_ids = await post_answers(server.base, thread_id, args.answers)
    say(f"prepared: {len(answer_ids)} answers on thread {thread_id}")
    joins = await create_participants(server.base, args.participants, args.concurrency)
    say(f"prepared: {joins.summary()}")
    fixture = Fixture(thread_id, answer_ids, joins.csrf, joins.cookies)

    status, vote_bytes, vote_wire = await vote_response(server.base, fixture)
    if status != 200:
        raise SystemExit(f"a single vote failed: {status}")

    script = tmp / "votes.lua"
    write_vote_script(script, fixture, args.threads, gzip=args.accept_gzip)
    health_script = tmp / "healthz.lua"
    health_script.write_text(WRK_DONE)

    first_script = tmp / "first_votes.lua"
    write_first_votes_script(first_script, fixture)
    most = max(args.clients)

    def load(target: Server, path: str, script: Path, clients: int = most) -> Awaitable[WrkResult]:
        """The same wrk run, threads and duration for every path."""
        return run_wrk(
            target,
            path,
            script,
            seconds=args.seconds,
            clients=clients,
            threads=args.threads,
            patience=args.wait_quiet,
        )

    votes_at: dict[int, WrkResult] = {}
    for clients in args.clients:
        votes_at[clients] = await load(server, f"/e/{SLUG}/answers/{answer_ids[0]}/vote", script, clients)
        if not server.alive():
            say("the server died during the vote run")
            return True
        await asyncio.sleep(1)
    health = await load(server, "/healthz", health_script)
    await asyncio.sleep(1)
    arrivals = await load(server, f"/e/{SLUG}", health_script)
    await asyncio.sleep(1)
    first_votes = await load(server, f"/e/{SLUG}/answers/{answer_ids[0]}/vote", first_script)
    if not server.alive():
        say("the server died during the runs of /healthz, page views or first votes")
        return True

    api_agree, api_disagree, sql_agree, sql_disagree, sql_rows = await settled_totals(
        server.base, fixture, database_url
    )
    transfers = await page_weight(server.base, thread_id)
    bare_at = await _load_reference(args, tmp, health_script)
    outcome = Outcome(
        votes_at,
        bare_at,
        health,
        arrivals,
        first_votes,
        (api_agree, api_disagree),
        (sql_agree, sql_disagree),
        sql_rows,
        transfers,
        vote_bytes,
        vote_wire,
    )
    return report(args, fixture, outcome, joins)


async def _load_reference(args: argparse.Namespace, tmp: Path, script: Path) -> dict[int, WrkResult]:
    """The bare app under the same runs, while the board idles."""
    reference = start_reference(dict(os.environ), args.workers, tmp)
    try:
        results = {}
        for clients in args.clients:
            results[clients] = await run_wrk(
                reference,
                "/",
                script,
                seconds=args.seconds,
                clients=clients,
                threads=args.threads,
                patience=args.wait_quiet,
            )
        return results
    finally:
        reference.stop()


def rate_line(name: str, r: WrkResult) -> str:
    cpu = r.cpu_us_per_request
    cpu_text = f"  server CPU {cpu:.0f} µs/req" if cpu is not None else ""
    return (
        f"{name:9s} {r.rate:8.1f} req/s  p50 {r.p50_ms:6.2f} ms  p90 {r.p90_ms:6.2f} ms  "
        f"p99 {r.p99_ms:6.2f} ms  max {r.max_ms:6.1f} ms\n"
        f"{'':9s} {r.requests} requests, errors: {r.status_errors} non-2xx/3xx, {r.socket_errors} socket"
        + (f" [status codes {r.codes}]" if r.codes else "")
        + cpu_text
    )


def report(args: argparse.Namespace, fixture: Fixture, o: Outcome, joins: Joins) -> bool:
    """Print the results against the budgets; True if any target failed."""
    checks = o.checks()
    votes = o.votes
    rule, thick = "-" * 78, "=" * 78
    say()
    say(thick)
    say(
        f"Debate Board vote benchmark: {args.workers} worker(s), wrk -t{args.threads} "
        f"-c{','.join(map(str, args.clients))} "
        f"-d{args.seconds}s,\n{len(fixture.cookies)} participants, {len(fixture.answer_ids)} answers "
        f"on thread {fixture.thread_id}, votes {'with' if args.accept_gzip else 'without'} Accept-Encoding"
    )
    say(rule)
    for clients, run in o.votes_at.items():
        say(rate_line(f"votes -c{clients}", run))
        bare = o.bare_at.get(clients)
        if bare is not None:
            say(rate_line(f"bare -c{clients}", bare))
    say(rate_line("/healthz", o.health))
    say(rate_line("views", o.arrivals))
    say(rate_line("1st votes", o.first_votes))
    say(rule)
    ratio, p99, ok = o.ratio, votes.p99_ms, {name: verdict(passed) for name, passed in checks.items()}
    for clients in o.votes_at:
        share = o.bare_ratio(clients)
        if clients == LEAN_CLIENTS:
            say(
                f"-c{clients}: votes/s ÷ bare Litestar/s {share:6.3f}  target ≥ {MIN_BARE_RATIO:.2f}  "
                f"{ok['lean ratio']};  p99 {o.votes_at[clients].p99_ms:5.1f} ms  target ≤ "
                f"{MAX_LEAN_P99_MS:.0f} ms  {ok['lean p99']}"
            )
        else:
            say(f"-c{clients}: votes/s ÷ bare Litestar/s {share:6.3f}")
    say(f"ratio votes/s ÷ healthz/s  {ratio:6.3f}     target ≥ {MIN_RATIO:.2f}     {ok['ratio']}")
    say(f"vote p99                   {p99:6.1f} ms  target ≤ {MAX_P99_MS:.0f} ms  {ok['p99']}")
    errors = sum(r.errors for r in o.votes_at.values())
    say(f"vote errors                {errors:6d}     target 0         {ok['errors']}")
    count, limit = FIRST_VOTES_BUDGET
    say(
        f"first votes (no participant cookie, each a new participant): {count} in "
        f"{o.first_votes_seconds:.2f} s at that rate, target ≤ {limit:.0f} s, no errors  {ok['first votes']}"
    )
    vote_cpu, health_cpu = votes.cpu_us_per_request, o.health.cpu_us_per_request
    if vote_cpu and health_cpu:
        say(
            f"(server CPU per request: vote {vote_cpu:.0f} µs, /healthz {health_cpu:.0f} µs; "
            f"CPU ratio {health_cpu / vote_cpu:.3f}, which other processes on the machine skew less)"
        )
    say(rule)
    api_total, sql_total = sum(o.api), sum(o.sql)
    say(
        f"counts after load: API agree+disagree {o.api[0]}+{o.api[1]} = {api_total}; vote table "
        f"{o.sql[0]}+{o.sql[1]} = {sql_total} rows (whole table {o.sql_rows})  {verdict(checks['counts'])}"
    )
    say(rule)
    say(f"participant thread page, first load (Accept-Encoding: gzip), thread {fixture.thread_id}:")
    for t in o.transfers:
        say(
            f"  {t.status} {t.wire:7d} B on the wire ({t.encoding:>4}, {t.decoded:7d} B decoded)  "
            f"{urlsplit(t.url).path}"
        )
    say(
        f"  total {o.page_bytes / 1000:.1f} KB in {len(o.transfers)} requests; "
        f"budget ≤ {MAX_PAGE_BYTES / 1000:.0f} KB {verdict(checks['page_bytes'])}, "
        f"≤ {MAX_PAGE_REQUESTS} requests {verdict(checks['page_requests'])}"
    )
    say(
        f"one vote response: {o.vote_bytes} B body ({o.vote_wire} B on the wire, gzip accepted); "
        f"budget ≤ {MAX_VOTE_BYTES / 1000:.0f} KB  {verdict(checks['vote_bytes'])}"
    )
    say(
        f"page views: GET /e/{{slug}} without a cookie (stores nothing): {JOIN_BUDGET[0]} in "
        f"{o.join_seconds:.1f} s at that rate, target ≤ {JOIN_BUDGET[1]:.0f} s, no errors  {verdict(checks['joins'])}"
    )
    say(joins.budget())
    say(thick)
    failed = [name for name, ok in checks.items() if not ok]
    say("ALL PASS" if not failed else f"FAILED: {', '.join(failed)}")
    say()
    return bool(failed)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.bench_votes", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=10, help="duration of each wrk run (default 10)")
    p.add_argument(
        "--clients",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[LEAN_CLIENTS, 50],
        help="wrk connections, one vote run for each (default 20,50)",
    )
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--participants", type=int, default=5000, help="distinct voters (default 5000)")
    p.add_argument("--answers", type=int, default=50, help="answers to vote on (default 50)")
    p.add_argument("--workers", type=int, default=1, help="granian workers (default 1)")
    p.add_argument("--concurrency", type=int, default=50, help="concurrent joins (default 50)")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each wrk run, wait up to this long for other processes to leave the CPUs idle",
    )
    p.add_argument(
        "--accept-gzip",
        action="store_true",
        help="votes carry Accept-Encoding: gzip, as browsers send (default: no Accept-Encoding)",
    )
    p.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL server (a fresh database is created on it and dropped) or another SQLAlchemy URL "
        "(default: a fresh temporary SQLite file)",
    )
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="'' for the in-process live layer")
    args = p.parse_args(argv)
    if args.answers < 1 or args.participants < 1 or args.seconds < 1 or min(args.clients) < 1:
        p.error("--answers, --participants and --seconds must be positive")
    if args.answers > 500:
        p.error("--answers: at most 500, what GET /api/threads/{id}/answers lists for the count check")
    return args


def main(argv: list[str] | None = None) -> None:
    sys.exit(bench(parse_args(argv)))


if __name__ == "__main__":
    main()

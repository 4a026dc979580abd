"""The real app in process over HTTP, on its own SQLite file and, where asked, its own Redis prefix."""

from __future__ import annotations

import asyncio
import copy
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from argon2 import PasswordHasher
from litestar import Litestar
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from board.app import create_app
from board.domain.context import BoardContext
from board.domain.seeding import seed_file
from board.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEMO_SEED = ROOT / "seeds" / "republique-collaborative.toml"
SLUG = "republique-collaborative"
REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PASSWORD = "correct horse battery"
T = TypeVar("T")
CSRF_RE = re.compile(r'name="_csrf_token" value="([^"]+)"')


# Staff accounts are made in most tests, each hash costing 0.1-0.3 s with the production parameters
# (argon2's defaults: 64 MiB, 3 passes, 4 lanes). Hashes made in the test process use the cheapest
# argon2id instead, except in tests marked `real_argon2`; the board's own code is unchanged, and a
# served board (a subprocess) hashes with the production parameters.
CHEAP_ARGON2 = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_argon2: hash passwords with the production argon2 parameters")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Vacuum the PostgreSQL catalogs once per run (in the xdist controller, or the lone process).

    Every PostgreSQL test creates and drops a schema of its own, leaving some 2,500 dead catalog rows;
    where autovacuum is off (it is on this machine), they pile up run after run and every later DDL
    and catalog lookup slows down: five runs in a row took 151, 167, 177, 184 and 194 s.
    """
    if hasattr(session.config, "workerinput"):
        return

    async def vacuum() -> None:
        engine = create_async_engine(POSTGRES_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(
                    text(
                        "VACUUM pg_catalog.pg_attribute, pg_catalog.pg_depend, pg_catalog.pg_class,"
                        " pg_catalog.pg_constraint, pg_catalog.pg_index, pg_catalog.pg_type"
                    )
                )
        finally:
            await engine.dispose()

    asyncio.run(vacuum())


@pytest.fixture(autouse=True)
def cheap_argon2(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("real_argon2") is None:
        from board.domain import accounts

        monkeypatch.setattr(accounts, "_hasher", CHEAP_ARGON2)


def test_settings(tmp_path: Path, *, redis: bool = False, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'board.sqlite3'}",
        "redis_url": REDIS_URL if redis else None,
        "redis_prefix": f"test:{uuid.uuid4().hex[:12]}:",
        "secret_key": "test-secret-key-0123456789abcdef",
        "public_url": "http://testserver.local",
        "seeds_dir": ROOT / "seeds",
    }
    values.update(overrides)
    return Settings(**values)


async def drop_redis_prefix(prefix: str) -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


def get_scope(path: str, headers: list[tuple[bytes, bytes]], client: str = "127.0.0.1") -> dict[str, Any]:
    """The ASGI scope of a GET, for tests that read a streamed response as it is sent
    (httpx's ASGI transport returns only once the response has ended)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "server": ("testserver.local", 80),
        "client": (client, 50000),
    }


class Phone:
    """One participant's browser: its own cookies, the CSRF token it was given, htmx or not."""

    def __init__(self, app: Litestar) -> None:
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver.local", follow_redirects=False
        )
        self.csrf = ""

    async def open(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.get(path, **kwargs)
        found = CSRF_RE.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def submit(
        self, path: str, data: dict[str, Any], *, htmx: bool = False, csrf: bool = True
    ) -> httpx.Response:
        """A form post: htmx sends the token in a header, a plain form in a hidden field."""
        headers = {}
        fields = dict(data)
        if htmx:
            headers["HX-Request"] = "true"
            if csrf:
                headers["x-csrftoken"] = self.csrf
        elif csrf:
            fields["_csrf_token"] = self.csrf
        return await self.http.post(path, data=fields, headers=headers)

    async def close(self) -> None:
        await self.http.aclose()


@dataclass
class Board:
    app: Litestar
    ctx: BoardContext
    tmp_path: Path
    phones: list[Phone]

    async def phone(self, path: str | None = f"/e/{SLUG}") -> Phone:
        phone = Phone(self.app)
        self.phones.append(phone)
        if path:
            response = await phone.open(path)
            assert response.status_code == 200, response.text
        return phone

    async def staff(self, role: str | None = "moderator", *, admin: bool = False) -> Phone:
        """A signed-in account's browser: role on the demo event (None: an account with no role)."""
        from board.domain import accounts

        username = f"{role or 'nobody'}-{uuid.uuid4().hex[:6]}"
        await accounts.add_account(
            self.ctx, username, PASSWORD, is_admin=admin, event_slug=SLUG if role else None, role=role
        )
        phone = await self.phone("/login")
        response = await phone.submit("/login", {"username": username, "password": PASSWORD})
        assert response.status_code == 303, response.text
        return phone

    async def thread_ids(self) -> list[int]:
        from board.domain import events

        event = await events.get_event(self.ctx, SLUG)
        return [t.id for t in await events.list_threads(self.ctx, event.id)]


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A schema of its own in the `test` database, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(POSTGRES_URL, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{name}"'))
        yield name
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        await engine.dispose()


async def start_board(tmp_path: Path, database: str = "sqlite", **settings: Any) -> AsyncIterator[Board]:
    if database == "postgres":
        async with postgres_schema() as schema:
            async for board in _start_board(
                tmp_path, database_url=POSTGRES_URL, database_schema=schema, **settings
            ):
                yield board
    else:
        async for board in _start_board(tmp_path, **settings):
            yield board


async def _start_board(tmp_path: Path, **settings: Any) -> AsyncIterator[Board]:
    app = create_app(test_settings(tmp_path, **settings))
    ctx: BoardContext = app.state.board
    await ctx.db.upgrade()
    await seed_file(ctx, DEMO_SEED)
    board = Board(app, ctx, tmp_path, [])
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    running = asyncio.create_task(lifespan())
    await asyncio.wait_for(started.wait(), 10)
    try:
        yield board
    finally:
        for phone in board.phones:
            await phone.close()
        stop.set()
        await running
    if ctx.settings.redis_url:
        await drop_redis_prefix(ctx.settings.redis_prefix)


@pytest.fixture(params=["sqlite", "postgres"])
async def board(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Board]:
    """The board with the in-process live layer, seeded with the demo event, on SQLite and PostgreSQL."""
    async for b in start_board(tmp_path, database=request.param):
        yield b


@pytest.fixture(params=["sqlite", "postgres"])
async def redis_board(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Board]:
    """The board on the real Redis, under a key prefix of its own, on SQLite and PostgreSQL."""
    async for b in start_board(tmp_path, database=request.param, redis=True):
        yield b


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def served_coverage() -> dict[str, str]:
    """With BOARD_TEST_SERVED_COVERAGE=1, while the suite measures coverage, the served board measures its
    own too: coverage's start-up hook (the .pth file it installs) reads this variable in the server and
    its workers, which save their data beside the suite's for it to combine. Off by default: it made the
    suite some 20 s slower (155 s to 177 s) for under one point of coverage, the served code being covered
    in process already. Other subprocesses are never measured."""
    if os.environ.get("BOARD_TEST_SERVED_COVERAGE") != "1":
        return {}
    from coverage import Coverage

    running = Coverage.current()
    if running is None:
        return {}
    config = copy.copy(running.config)
    config.parallel = True
    return {"COVERAGE_PROCESS_CONFIG": config.serialize()}


def seed_served(env: dict[str, str]) -> None:
    """What `board seed` does, in process, for a server's environment: migrate, then seed the demo.

    On a thread of its own, so that it runs its own event loop whether or not the caller has one.
    """

    async def seed() -> None:
        from board.app import build_context

        ctx = build_context(Settings.from_env(env=env))
        try:
            await ctx.db.upgrade()
            await seed_file(ctx, DEMO_SEED)
        finally:
            await ctx.db.dispose()
            await ctx.live.close()

    in_thread(seed)


def in_thread(job: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on an event loop of its own, whether or not the caller is inside one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, job()).result()


def add_served_account(env: dict[str, str], username: str, password: str, role: str = "moderator") -> None:
    """What `board account add USERNAME --event SLUG --role ROLE` does, for a served board's database."""

    async def add() -> None:
        from board.app import build_context
        from board.domain import accounts

        ctx = build_context(Settings.from_env(env=env))
        try:
            await accounts.add_account(ctx, username, password, event_slug=SLUG, role=role)
        finally:
            await ctx.db.dispose()
            await ctx.live.close()

    in_thread(add)


@dataclass
class Server:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]


def start_server(
    tmp_path: Path,
    *,
    redis_prefix: str | None = None,
    workers: int = 1,
    schema: str | None = None,
    seed: bool = True,
    demo: bool = False,
) -> Server:
    """The real server (granian) in a subprocess, on its own port, database and Redis prefix.

    With `schema`, it runs on PostgreSQL in that schema instead of a SQLite file; with `demo`, as
    `board serve --demo` (which seeds the demo and prints its moderator's password in the log).
    """
    port = free_port()
    env = dict(os.environ)
    env.update(
        BOARD_DATABASE_URL=POSTGRES_URL if schema else f"sqlite+aiosqlite:///{tmp_path / 'served.sqlite3'}",
        BOARD_SECRET_KEY="served-secret-key-0123456789abcdef",
        BOARD_DATA_DIR=str(tmp_path / "var"),
        BOARD_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    env.pop("BOARD_REDIS_URL", None)
    env.pop("BOARD_DATABASE_SCHEMA", None)
    if schema:
        env["BOARD_DATABASE_SCHEMA"] = schema
    if redis_prefix:
        env.update(BOARD_REDIS_URL=REDIS_URL, BOARD_REDIS_PREFIX=redis_prefix)
    env.update(served_coverage())
    if seed:
        seed_served(env)
    # The server's output goes to a file: a pipe nobody reads would stall a long-lived server once full.
    log = tmp_path / f"server-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "board.cli", "serve", "--port", str(port), "--workers", str(workers)),
                *(["--demo"] if demo else []),
            ],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60  # a bound on a hung start, not a speed check
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Server(url, env, process)
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError(f"server did not start within 60 s: {log.read_text(errors='replace')}")


def stop_server(server: Server) -> None:
    server.process.send_signal(signal.SIGINT)
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server (in-process live layer) for the tests that only need one running: they use answers
    of their own and never stop or reconfigure it. Started at its first use, stopped at the end."""
    running = start_server(tmp_path_factory.mktemp("shared"))
    try:
        yield running
    finally:
        stop_server(running)


@pytest.fixture(scope="session")
def shared_redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server on the real Redis, under its own key prefix, shared like `shared_server`."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    running = start_server(tmp_path_factory.mktemp("shared-redis"), redis_prefix=prefix)
    try:
        yield running
    finally:
        stop_server(running)
        asyncio.run(drop_redis_prefix(prefix))


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    """A real server of the test's own, with the in-process live layer."""
    running = start_server(tmp_path)
    try:
        yield running
    finally:
        stop_server(running)


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[Server]:
    """A real server on the real Redis, under its own key prefix."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    running = start_server(tmp_path, redis_prefix=prefix)
    try:
        yield running
    finally:
        stop_server(running)
        await drop_redis_prefix(prefix)

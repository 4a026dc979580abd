"""Engines, sessions, SQLite pragmas, migrations and the SQLite write lock."""

from __future__ import annotations

import asyncio
import contextvars
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import create_engine, make_url
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"

P = ParamSpec("P")
T = TypeVar("T")


class Steps(Protocol):
    """Runs one synchronous step of a write transaction: many statements, one hand-off."""

    def __call__(
        self, step: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Awaitable[T]: ...


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _manual_transactions(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None


def _begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("snapshot") else "BEGIN IMMEDIATE")


@dataclass(frozen=True)
class Mark:
    """What a snapshot of a SQLite file saw: enough to tell later whether anything was committed since.

    `data_version` changes when another connection commits; `commits` counts the steps connection's own.
    """

    connection: int
    data_version: int
    commits: int


_DATA_VERSION = "PRAGMA data_version"


def _create_private(path: Path) -> None:
    """The database holds participants' names and answers: a new file is its owner's alone.

    SQLite gives the -wal and -shm files the main file's mode, so creating it empty with 0600 covers them.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


@dataclass
class _Borrowed:
    """The connection one request borrows: opened at its first query, returned when its response starts.

    Blocks that use it run one at a time (the lock) and each ends its own transaction, so a read after a
    write in the same request sees that write, and SQLite's snapshot never outlives a block.
    """

    conn: AsyncConnection | None = None
    returned: bool = False
    user: asyncio.Task[Any] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_borrowed: contextvars.ContextVar[_Borrowed | None] = contextvars.ContextVar(
    "borrowed_connection", default=None
)


class Database:
    """One engine and session factory per process, plus the lock that serialises SQLite writers."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            path = make_url(url).database
            if path and path != ":memory:" and not path.startswith("file:"):
                _create_private(Path(path))
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
            if schema:
                kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            sa_event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._write_lock = asyncio.Lock()
        self._steps_engine: Engine | None = None
        self._steps_thread: ThreadPoolExecutor | None = None
        self._steps_commits = 0
        if self.is_sqlite and ":memory:" not in url:
            self._steps_engine = create_engine(make_url(url).set(drivername="sqlite"), pool_size=1)
            sa_event.listen(self._steps_engine, "connect", _sqlite_pragmas)
            sa_event.listen(self._steps_engine, "connect", _manual_transactions)
            sa_event.listen(self._steps_engine, "begin", _begin_immediate)
            self._steps_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-steps")

    @asynccontextmanager
    async def one_connection(self) -> AsyncIterator[Callable[[], Awaitable[None]]]:
        """Within the block, every read and write session shares one connection, opened when first needed.

        Yields the function that returns it to the pool early: a request calls it when its response
        starts, so that a live stream never holds a connection for its whole life.
        """
        borrowed = _Borrowed()
        token = _borrowed.set(borrowed)

        async def give_back() -> None:
            async with borrowed.lock:
                borrowed.returned = True
                if borrowed.conn is not None:
                    conn, borrowed.conn = borrowed.conn, None
                    await conn.close()

        try:
            yield give_back
        finally:
            _borrowed.reset(token)
            await asyncio.shield(give_back())

    @asynccontextmanager
    async def _borrowed_connection(self, borrowed: _Borrowed) -> AsyncIterator[AsyncConnection]:
        """The request's connection; a block nested in another one, or after the response began, gets its own."""
        task = asyncio.current_task()
        if borrowed.returned or (borrowed.user is not None and borrowed.user is task):
            async with self.engine.connect() as own:
                yield own
            return
        async with borrowed.lock:
            if borrowed.returned:
                async with self.engine.connect() as own:
                    yield own
                return
            if borrowed.conn is None:
                borrowed.conn = await self.engine.connect()
            conn, borrowed.user = borrowed.conn, task
            try:
                yield conn
            finally:
                borrowed.user = None
                if conn.in_transaction():
                    await asyncio.shield(conn.rollback())

    def connect(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection for reads (Core statements): the request's own when inside `one_connection`."""
        borrowed = _borrowed.get()
        if borrowed is None:
            return self.engine.connect()
        return self._borrowed_connection(borrowed)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads (ORM), on the request's connection when inside `one_connection`."""
        borrowed = _borrowed.get()
        if borrowed is None:
            async with self.sessions() as session:
                yield session
            return
        async with self._borrowed_connection(borrowed) as conn, self.sessions(bind=conn) as session:
            yield session

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A session for one write transaction; on SQLite only one such transaction runs at a time.

        On SQLite the transaction begins IMMEDIATE: a writer in another process waits for it (up to
        the busy timeout) instead of failing when it tries to write after reading.
        """
        if self.is_sqlite:
            async with self._write_lock, self.session() as session:
                await (await session.connection()).exec_driver_sql("BEGIN IMMEDIATE")
                yield session
        else:
            async with self.session() as session:
                yield session

    @asynccontextmanager
    async def write_steps(self) -> AsyncIterator[Steps]:
        """One write transaction made of synchronous steps, committed when the block ends without error.

        On a SQLite file each step runs in the thread that owns a connection of its own, so a step of
        many statements costs one hand-off from the event loop rather than several per statement;
        the transaction begins IMMEDIATE, so no other process writes between its steps. On
        PostgreSQL each step runs on an async connection through `run_sync`.
        """
        if self._steps_engine is None or self._steps_thread is None:
            async with (
                self._write_lock if self.is_sqlite else _no_lock(),
                self.connect() as conn,
                conn.begin(),
            ):
                yield partial(_run_sync, conn)
            return
        engine, thread = self._steps_engine, self._steps_thread
        loop = asyncio.get_running_loop()
        holder: list[Connection] = []

        def opened() -> Connection:
            if not holder:
                holder.append(engine.connect())
                holder[0].begin()
            return holder[0]

        def run(
            step: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
        ) -> Awaitable[T]:
            return loop.run_in_executor(thread, lambda: step(opened(), *args, **kwargs))

        def finish(commit: bool) -> None:
            if holder:
                with holder.pop() as conn:
                    if commit:
                        conn.commit()
                        self._steps_commits += 1
                    else:
                        conn.rollback()

        async with self._write_lock:
            try:
                yield run
            except BaseException:
                await asyncio.shield(loop.run_in_executor(thread, finish, False))
                raise
            await loop.run_in_executor(thread, finish, True)

    async def snapshot(
        self, step: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> tuple[T, Mark | None]:
        """Run a read step in a transaction of its own that locks nothing, and mark what it saw.

        A writer that must wait on something else between its read and its write reads here, then
        asks `unchanged_since` inside `write_steps`: on a SQLite file, a mark tells whether anything was
        committed in between, so the writer reads again only then. Without a mark (PostgreSQL, an
        in-memory database) it always reads again under its locks.
        """
        if self._steps_engine is None or self._steps_thread is None:
            async with self.connect() as conn:
                found = await conn.run_sync(lambda sync: step(sync, *args, **kwargs))
                await conn.rollback()
            return found, None
        engine = self._steps_engine

        def read() -> tuple[T, Mark]:
            with engine.connect() as conn:
                conn.execution_options(snapshot=True)
                found = step(conn, *args, **kwargs)
                mark = Mark(
                    id(conn.connection.dbapi_connection),
                    int(conn.exec_driver_sql(_DATA_VERSION).scalar_one()),
                    self._steps_commits,
                )
                conn.rollback()
            return found, mark

        return await asyncio.get_running_loop().run_in_executor(self._steps_thread, read)

    def unchanged_since(self, conn: Connection, mark: Mark | None) -> bool:
        """Inside a step of `write_steps`: True if nothing was committed since `snapshot` made `mark`."""
        return (
            mark is not None
            and id(conn.connection.dbapi_connection) == mark.connection
            and self._steps_commits == mark.commits
            and int(conn.exec_driver_sql(_DATA_VERSION).scalar_one()) == mark.data_version
        )

    async def upgrade(self) -> None:
        """Apply every Alembic migration up to head."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._steps_engine is not None and self._steps_thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._steps_thread, self._steps_engine.dispose)
            self._steps_thread.shutdown()


def _run_sync(
    conn: AsyncConnection, step: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
) -> Awaitable[T]:
    return conn.run_sync(step, *args, **kwargs)


@asynccontextmanager
async def _no_lock() -> AsyncIterator[None]:
    yield


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic is imported here, not with the module: a worker that serves requests never needs it."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), "head")

"""The command line as an operator runs it: `board seed`, `account add`, `counters rebuild`, `export`, `db upgrade`.

Each test calls `board.cli.main(argv)` in process, with the environment of an operator's shell (its own
SQLite file and data directory), then checks what the command printed, its exit status and what it left
in the database. The commands run their own event loop (`asyncio.run`), so they are called from plain
test functions, or from a thread in the async ones. `board serve` is tested as a real process elsewhere.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis

from board.cli import main
from tests.conftest import DEMO_SEED, REDIS_URL, SLUG, Phone, start_board

SEED = tomllib.loads(DEMO_SEED.read_text(encoding="utf-8"))
OPEN_PROMPTS = [t["prompt"] for t in SEED["threads"] if t.get("status", "open") == "open"]
DRAFT_PROMPTS = [t["prompt"] for t in SEED["threads"] if t.get("status") == "draft"]
SECRET = "cli-password-0123"


@dataclass
class Ran:
    """What a command left: its exit status and what it wrote, as the shell would see them."""

    returncode: int
    stdout: str
    stderr: str


Cli = Callable[..., Ran]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """`board ARGS...` in process, in an operator's environment: a database file and data directory of
    the test's own, no other BOARD_ variable. `env` adds variables for one call.

    Standard output and error go to buffers of the call's own (not capsys: a logging handler set up while
    a capsys buffer is sys.stderr would keep writing to it once pytest has closed it).
    """
    for name in [k for k in os.environ if k.startswith("BOARD_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BOARD_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'board.sqlite3'}")
    monkeypatch.setenv("BOARD_DATA_DIR", str(tmp_path / "var"))

    def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Ran:
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with monkeypatch.context() as scoped, redirect_stdout(out), redirect_stderr(err):
            for name, value in (env or {}).items():
                scoped.setenv(name, value)
            scoped.setattr(sys, "stdin", io.StringIO(stdin or ""))
            try:
                main(list(args))
            except SystemExit as exc:
                # What the interpreter does with sys.exit(...): a string goes to stderr, the status is 1.
                if isinstance(exc.code, str):
                    print(exc.code, file=err)
                    code = 1
                else:
                    code = exc.code or 0
        return Ran(code, out.getvalue(), err.getvalue())

    return run


async def shown(phone: Phone, thread_id: int) -> tuple[int, int]:
    """A thread's (answers, votes) as the public API shows them, from the live counters."""
    listed = (await phone.http.get(f"/api/events/{SLUG}")).json()["threads"]
    thread = next(t for t in listed if t["id"] == thread_id)
    return thread["answers"], thread["votes"]


def threads_in(tmp_path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(tmp_path / "board.sqlite3") as db:
        return list(db.execute("SELECT prompt, status FROM thread ORDER BY position, id"))


def test_seed_twice_creates_the_demo_threads_once(cli: Cli, tmp_path: Path) -> None:
    first = cli("seed")
    assert first.returncode == 0, first.stderr
    assert f"seeded {SLUG}: 5 new thread(s)" in first.stdout
    second = cli("seed")
    assert second.returncode == 0, second.stderr
    assert f"seeded {SLUG}: 0 new thread(s)" in second.stdout

    threads = threads_in(tmp_path)
    assert [p for p, s in threads if s == "open"] == OPEN_PROMPTS and len(OPEN_PROMPTS) == 4
    assert [p for p, s in threads if s == "draft"] == DRAFT_PROMPTS and len(DRAFT_PROMPTS) == 1
    assert len(threads) == 5

    exported = cli("export", SLUG, "--format", "json")
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    assert document["event"]["slug"] == SLUG
    assert document["licence"] == "Licence Ouverte / Etalab 2.0"


def test_the_csv_export_is_utf8_with_a_byte_order_mark_whatever_the_terminal(
    cli: Cli, tmp_path: Path
) -> None:
    assert cli("seed").returncode == 0
    env = {k: v for k, v in os.environ.items() if k.startswith(("BOARD_", "PATH", "HOME"))}
    env["PYTHONIOENCODING"] = "latin-1"
    exported = subprocess.run(
        [sys.executable, "-m", "board.cli", "export", SLUG, "--format", "csv"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr.decode(errors="replace")
    assert exported.stdout.startswith("\ufeffthread,prompt,answer_id,".encode())
    assert "agree étudiant".encode() in exported.stdout


def test_the_json_export_lists_every_prompt_even_before_any_answer(cli: Cli) -> None:
    assert cli("seed").returncode == 0
    exported = cli("export", SLUG, "--format", "json")
    assert exported.returncode == 0, exported.stderr
    prompts = [t["prompt"] for t in json.loads(exported.stdout)["threads"]]
    assert sorted(prompts) == sorted(OPEN_PROMPTS + DRAFT_PROMPTS)


def test_an_account_added_with_password_stdin_signs_in_with_its_role(cli: Cli, tmp_path: Path) -> None:
    assert cli("seed").returncode == 0
    args = ("account", "add", "fatou", "--event", SLUG, "--role", "facilitator", "--password-stdin")
    made = cli(*args, stdin=SECRET + "\n")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == f"account fatou created, facilitator of {SLUG}"
    assert SECRET not in made.stdout + made.stderr

    again = cli(*args, stdin="another-password-456\n")
    assert again.returncode != 0
    assert again.stderr.startswith("board: ") and "fatou" in again.stderr, "one clear line naming the account"
    assert again.stderr.count("\n") == 1 and "Traceback" not in again.stderr

    async def sign_in() -> None:
        async for running in start_board(tmp_path):
            phone = await running.phone("/login")
            assert (
                await phone.submit("/login", {"username": "fatou", "password": "another-password-456"})
            ).status_code == 401
            assert (
                await phone.submit("/login", {"username": "fatou", "password": SECRET})
            ).status_code == 303
            assert (await phone.open(f"/mod/{SLUG}")).status_code == 200
            assert (await phone.open(f"/mod/{SLUG}/audit")).status_code == 403, (
                "a facilitator, not a moderator"
            )

    asyncio.run(sign_in())


def test_account_add_refuses_a_short_password_or_a_role_without_event(cli: Cli, tmp_path: Path) -> None:
    assert cli("seed").returncode == 0
    short = cli("account", "add", "gael", "--password-stdin", stdin="short\n")
    assert short.returncode != 0
    assert short.stderr.startswith("board: ") and "8" in short.stderr, "says how long a password must be"
    orphan = cli("account", "add", "gael", "--role", "moderator", "--password-stdin", stdin=SECRET + "\n")
    assert orphan.returncode != 0
    assert orphan.stderr.startswith("board: ") and "--event" in orphan.stderr
    with sqlite3.connect(tmp_path / "board.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM account").fetchone() == (0,)


async def test_counters_rebuild_repairs_drifted_redis_counters_from_sql(cli: Cli, tmp_path: Path) -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    redis = Redis.from_url(REDIS_URL)
    try:
        async for running in start_board(tmp_path, redis=True, redis_prefix=prefix):
            thread_id = (await running.thread_ids())[0]
            author = await running.phone(f"/e/{SLUG}/t/{thread_id}")
            posted = await author.submit(
                f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Tester, mesurer"}, htmx=True
            )
            assert posted.status_code == 201
            answer_id = int(re.search(r'id="a(\d+)"', posted.text).group(1))  # type: ignore[union-attr]
            for _ in range(2):
                voter = await running.phone(f"/e/{SLUG}/t/{thread_id}")
                voted = await voter.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=True)
                assert voted.status_code == 200

            assert await shown(author, thread_id) == (1, 2)
            await redis.hset(f"{prefix}t:{thread_id}", mapping={"answers": 40, "votes": 99})
            assert await shown(author, thread_id) == (40, 99), "the API reads the live counters"

            # The command runs its own event loop: in a thread, beside the running board's.
            rebuilt = await asyncio.to_thread(
                cli, "counters", "rebuild", env={"BOARD_REDIS_URL": REDIS_URL, "BOARD_REDIS_PREFIX": prefix}
            )
            assert rebuilt.returncode == 0, rebuilt.stderr
            assert f"{SLUG}: counters rebuilt for 5 thread(s)" in rebuilt.stdout
            assert await shown(author, thread_id) == (1, 2), "recounted from SQL"
    finally:
        async for key in redis.scan_iter(match=f"{prefix}*"):
            await redis.delete(key)
        await redis.aclose()


def test_counters_rebuild_runs_without_redis_for_one_event(cli: Cli) -> None:
    assert cli("seed").returncode == 0
    rebuilt = cli("counters", "rebuild", "--event", SLUG)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.strip() == f"{SLUG}: counters rebuilt for 5 thread(s)"


def test_counters_rebuild_for_an_unknown_event_says_so_plainly(cli: Cli) -> None:
    assert cli("seed").returncode == 0
    rebuilt = cli("counters", "rebuild", "--event", "no-such-event")
    assert rebuilt.returncode != 0
    assert "Traceback" not in rebuilt.stderr
    assert rebuilt.stderr.startswith("board: ")


def test_db_upgrade_creates_the_schema_and_can_run_again(cli: Cli, tmp_path: Path) -> None:
    for _ in range(2):
        upgraded = cli("db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        assert "database is up to date" in upgraded.stdout
    with sqlite3.connect(tmp_path / "board.sqlite3") as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {
            "event",
            "thread",
            "participant",
            "answer",
            "vote",
            "account",
            "eventrole",
            "auditentry",
        } <= tables
        assert "alembic_version" in tables
        assert db.execute("SELECT count(*) FROM event").fetchone() == (0,), "upgrading seeds nothing"

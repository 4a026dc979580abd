"""Changing one's password, the reset link of `board account reset`, and the demo moderator's password."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from pathlib import Path

import httpx
import pytest

from board import cli
from board.domain import accounts
from board.domain.context import BoardContext
from tests.conftest import CSRF_RE, PASSWORD, SLUG, Board, Phone, start_board, start_server, stop_server

NEW = "un tout nouveau mot de passe"


async def signed_in(board: Board, username: str, password: str = PASSWORD) -> Phone:
    phone = await board.phone("/login")
    response = await phone.submit("/login", {"username": username, "password": password})
    assert response.status_code == 303, response.text
    return phone


async def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(board: Board) -> None:
    await accounts.add_account(board.ctx, "camille", PASSWORD, event_slug=SLUG, role="moderator")
    laptop = await signed_in(board, "camille")
    phone = await signed_in(board, "camille")
    assert (await phone.open(f"/mod/{SLUG}")).status_code == 200

    await laptop.open("/account/password")
    changed = await laptop.submit("/account/password", {"current": PASSWORD, "new": NEW})
    assert changed.status_code == 303 and changed.headers["location"].startswith("/account/password")
    assert (await laptop.open(f"/mod/{SLUG}")).status_code == 200, "the changing session stays signed in"
    assert (await phone.open(f"/mod/{SLUG}")).status_code == 303, "the other session is over"

    fresh = await board.phone("/login")
    old = await fresh.submit("/login", {"username": "camille", "password": PASSWORD})
    assert old.status_code == 401
    assert (await fresh.submit("/login", {"username": "camille", "password": NEW})).status_code == 303


async def test_a_wrong_current_password_or_a_short_new_one_changes_nothing(board: Board) -> None:
    await accounts.add_account(board.ctx, "dominique", PASSWORD)
    phone = await signed_in(board, "dominique")
    await phone.open("/account/password")
    wrong = await phone.submit("/account/password", {"current": "not the password", "new": NEW})
    assert wrong.status_code == 403 and "incorrect" in wrong.text
    short = await phone.submit("/account/password", {"current": PASSWORD, "new": "court"})
    assert short.status_code == 422 and "12" in short.text
    assert (await phone.open("/account/password")).status_code == 200, "still signed in"
    assert await accounts.authenticate(board.ctx, "dominique", PASSWORD) is not None


async def test_the_password_page_needs_a_session(board: Board) -> None:
    visitor = await board.phone("/login")
    page = await visitor.open("/account/password")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/account/password"
    posted = await visitor.submit("/account/password", {"current": PASSWORD, "new": NEW})
    assert posted.status_code == 303 and posted.headers["location"].startswith("/login")


async def test_a_reset_link_works_once_and_ends_the_other_sessions(board: Board) -> None:
    from board.domain import passwords

    await accounts.add_account(board.ctx, "eden", PASSWORD, event_slug=SLUG, role="moderator")
    before = await signed_in(board, "eden")
    token = await passwords.create_reset(board.ctx, "eden")
    person = await board.phone(None)
    page = await person.open(f"/reset/{token}")
    assert page.status_code == 200 and "eden" in page.text
    short = await person.submit(f"/reset/{token}", {"password": "court"})
    assert short.status_code == 422
    done = await person.submit(f"/reset/{token}", {"password": NEW})
    assert done.status_code == 303
    assert (await person.open(f"/mod/{SLUG}")).status_code == 200, "the reset signs in"
    assert (await before.open(f"/mod/{SLUG}")).status_code == 303, "the older session is over"
    assert (await person.open(f"/reset/{token}")).status_code == 410
    assert (await person.submit(f"/reset/{token}", {"password": NEW + "!"})).status_code == 410
    assert (await person.open("/reset/unknown-token")).status_code == 404


async def test_a_new_reset_link_replaces_the_earlier_one_and_racing_uses_set_one_password(
    board: Board,
) -> None:
    from board.domain import passwords

    await accounts.add_account(board.ctx, "fred", PASSWORD)
    first = await passwords.create_reset(board.ctx, "fred")
    second = await passwords.create_reset(board.ctx, "fred")
    person = await board.phone("/login")
    assert (await person.open(f"/reset/{first}")).status_code == 410
    tries = [await board.phone("/login") for _ in range(8)]
    for phone in tries:
        await phone.open(f"/reset/{second}")
    answers = await asyncio.gather(
        *(p.submit(f"/reset/{second}", {"password": f"{NEW} {i}"}) for i, p in enumerate(tries))
    )
    codes = [r.status_code for r in answers]
    assert codes.count(303) == 1 and set(codes) <= {303, 410}, codes
    winner = codes.index(303)
    assert await accounts.authenticate(board.ctx, "fred", f"{NEW} {winner}") is not None


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main(list(args))
        except SystemExit as exc:
            code = 1 if isinstance(exc.code, str) else int(exc.code or 0)
            if isinstance(exc.code, str):
                err.write(exc.code)
    return code, out.getvalue(), err.getvalue()


def test_board_account_reset_prints_a_one_time_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mp = monkeypatch
    mp.setenv("BOARD_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'board.sqlite3'}")
    mp.setenv("BOARD_DATA_DIR", str(tmp_path / "var"))
    mp.setenv("BOARD_PUBLIC_URL", "https://debat.example")
    mp.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert run_cli("account", "add", "gael", "--admin", "--password-stdin")[0] == 0
    code, out, _ = run_cli("account", "reset", "gael")
    assert code == 0
    assert re.fullmatch(r"https://debat\.example/reset/[A-Za-z0-9_-]{40,}\n", out), out
    missing = run_cli("account", "reset", "nobody")
    assert missing[0] == 1 and "nobody" in missing[2]


async def test_the_demo_prints_the_moderator_password_until_it_is_changed(tmp_path: Path) -> None:
    async for board in start_board(tmp_path, data_dir=tmp_path / "var"):

        async def started(ctx: BoardContext = board.ctx) -> str:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                await cli._demo_account(ctx)
            return out.getvalue()

        first = await started()
        password = re.search(r"moderation / (\S+)", first)
        assert password, first
        assert password.group(1) in await started(), "printed again at the next start"
        assert ((tmp_path / "var" / "demo-password").stat().st_mode & 0o077) == 0, (
            "readable by its owner only"
        )

        moderator = await signed_in(board, "moderation", password.group(1))
        await moderator.open("/account/password")
        changed = await moderator.submit("/account/password", {"current": password.group(1), "new": NEW})
        assert changed.status_code == 303
        after = await started()
        assert password.group(1) not in after and "board account reset moderation" in after


def test_the_demo_moderator_signs_in_on_the_served_demo(tmp_path: Path) -> None:
    """The demo checks its moderator's password before granian forks its worker: the worker must still
    check passwords (it once waited forever on the thread it inherited from the parent)."""
    server = start_server(tmp_path, seed=False, demo=True)
    try:
        (log,) = tmp_path.glob("server-*.log")
        printed = re.search(r"moderation / (\S+)", log.read_text())
        assert printed, log.read_text()
        with httpx.Client(base_url=server.url, timeout=30) as laptop:
            token = CSRF_RE.search(laptop.get("/login").text)
            assert token, "the sign-in page has its form"
            fields = {"username": "moderation", "password": printed.group(1), "_csrf_token": token.group(1)}
            signed = laptop.post("/login", data=fields)
            assert (signed.status_code, signed.headers.get("location")) == (303, "/admin"), signed.text
            assert laptop.get(f"/mod/{cli.DEMO_SLUG}").status_code == 200
    finally:
        stop_server(server)

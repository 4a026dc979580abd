"""Odd input and quiet leaks, as an attacker or a careless client sends them: NUL bytes, invisible
answers, direction overrides in names, cached pages, HEAD requests, seed slugs, file permissions."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests import test_cli
from tests.conftest import ROOT, SLUG, Board, free_port
from tests.test_cli import Cli

cli = test_cli.cli
"""The command line in process, as an operator runs it."""


async def test_a_nul_byte_in_an_answer_is_refused_with_422(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    response = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "avant\x00après"})
    assert response.status_code == 422
    assert "caractère nul" in response.text


async def test_a_nul_byte_in_a_display_name_is_refused_with_422(board: Board) -> None:
    phone = await board.phone()
    response = await phone.submit(f"/e/{SLUG}/profile", {"segment": "", "name": "Ana\x00"})
    assert response.status_code == 422
    assert "caractère nul" in response.text


async def test_a_nul_byte_in_a_thread_prompt_is_refused_with_422(board: Board) -> None:
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    response = await moderator.submit(f"/mod/{SLUG}/threads", {"prompt": "Une question\x00 ?"})
    assert response.status_code == 422
    assert "caractère nul" in response.text


async def test_a_nul_byte_in_an_event_slug_is_a_404(board: Board) -> None:
    phone = await board.phone()
    page = await phone.http.get("/e/%00")
    assert page.status_code == 404 and "<html" in page.text
    api = await phone.http.get("/api/events/%00")
    assert api.status_code == 404 and api.json()["detail"]


async def test_a_nul_byte_in_a_static_path_is_a_404(board: Board) -> None:
    phone = await board.phone()
    assert (await phone.http.get("/static/%00")).status_code == 404
    assert (await phone.http.get("/static/board.css%00.js")).status_code == 404


async def test_a_nul_byte_in_a_sign_in_name_is_refused_with_a_message(board: Board) -> None:
    """Whatever field reaches SQL unchecked, a NUL is the sender's mistake, never a server error."""
    visitor = await board.phone("/login")
    response = await visitor.submit("/login", {"username": "mod\x00", "password": "whatever"})
    assert 400 <= response.status_code < 500
    assert "<html" in response.text


async def test_an_answer_of_only_invisible_characters_is_refused_like_an_empty_one(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    empty = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "   "})
    invisible = await phone.submit(
        f"/e/{SLUG}/t/{thread_id}/answers", {"body": " \u200b\u200c\u200d \u2060\ufeff\u00ad\u2063 "}
    )
    assert empty.status_code == invisible.status_code == 422
    assert "Votre réponse est vide" in invisible.text


async def test_direction_overrides_are_removed_from_display_names(board: Board) -> None:
    phone = await board.phone()
    name = "\u202eAna\u202c \u2066Bo\u2069\u200f\u061c"
    saved = await phone.submit(f"/e/{SLUG}/profile", {"segment": "", "name": name})
    assert saved.status_code == 303
    page = await phone.open(f"/e/{SLUG}")
    assert 'value="Ana Bo"' in page.text


async def test_participant_and_sign_in_pages_are_never_stored_but_static_files_are_cached(
    board: Board,
) -> None:
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(None)
    for path in (f"/e/{SLUG}", f"/e/{SLUG}/t/{thread_id}", "/login", f"/e/{SLUG}/screen", f"/e/{SLUG}/nope"):
        response = await phone.http.get(path)
        assert response.headers.get("cache-control") == "no-store", path
    css = await phone.http.get("/static/board.css")
    assert "max-age=31536000" in css.headers["cache-control"]


async def test_head_answers_like_get_without_a_body(board: Board) -> None:
    thread_id = (await board.thread_ids())[0]
    moderator = await board.staff("moderator")
    for path in (f"/e/{SLUG}", f"/e/{SLUG}/t/{thread_id}", "/login", f"/mod/{SLUG}", "/e/nope", "/healthz"):
        got = await moderator.http.get(path)
        head = await moderator.http.head(path)
        assert head.status_code == got.status_code, path
        assert head.content == b"", path
        for name in ("content-type", "cache-control", "content-security-policy"):
            assert head.headers.get(name) == got.headers.get(name), (path, name)


async def test_the_csv_export_names_its_charset_once(board: Board) -> None:
    moderator = await board.staff("moderator")
    response = await moderator.open(f"/mod/{SLUG}/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"


def _cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOARD_")}
    env["BOARD_DATA_DIR"] = str(tmp_path / "var")
    return env


def test_seed_refuses_a_slug_outside_lowercase_letters_digits_and_hyphens(tmp_path: Path, cli: Cli) -> None:
    seed = tmp_path / "bad.toml"
    seed.write_text('[event]\nslug = "Débat Public"\ntitle = "Un débat"\n', encoding="utf-8")
    done = cli("seed", str(seed))
    assert done.returncode != 0
    assert "slug" in done.stderr and "Débat Public" in done.stderr and "Traceback" not in done.stderr


def test_the_demo_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "board.cli", "serve", "--demo", "--port", str(port)],
        env=_cli_env(tmp_path),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/e/{SLUG}", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "the demo did not start"
            time.sleep(0.1)
        files = [tmp_path / "var" / f"board.sqlite3{suffix}" for suffix in ("", "-wal", "-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_database_folder_the_board_creates_is_its_owners_only(tmp_path: Path, cli: Cli) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'board.sqlite3'}"
    done = cli("db", "upgrade", env={"BOARD_DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "data" / "board.sqlite3").stat().st_mode) == 0o600

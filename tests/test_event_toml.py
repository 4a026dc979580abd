"""An event as TOML, in the seed format, both ways: downloaded from one board, imported into another."""

from __future__ import annotations

import tomllib
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from board.domain.seeding import SeedError, seed_file
from board.models import Event, Thread
from tests.conftest import SLUG, Board, Phone


async def admin_of(board: Board) -> Phone:
    admin = await board.staff(None, admin=True)
    assert (await admin.open("/admin")).status_code == 200
    return admin


async def upload(admin: Phone, content: bytes, name: str = "event.toml") -> httpx.Response:
    return await admin.http.post(
        "/admin/import",
        data={"_csrf_token": admin.csrf},
        files={"file": (name, content, "application/toml")},
    )


async def event_and_threads(board: Board, slug: str) -> tuple[Event, list[tuple[str, str]]]:
    async with board.ctx.db.session() as session:
        event = (await session.exec(select(Event).where(Event.slug == slug))).one()
        threads = await session.exec(
            select(Thread).where(Thread.event_id == event.id).order_by(col(Thread.position))
        )
        return event, [(t.prompt, t.status) for t in threads]


async def test_an_event_moves_to_another_board_as_a_draft(board: Board, tmp_path: Path) -> None:
    admin = await admin_of(board)
    download = await admin.open(f"/admin/events/{SLUG}/event.toml")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == f'attachment; filename="{SLUG}.toml"'
    data = tomllib.loads(download.text)
    assert data["event"]["title"] == "Vers une République collaborative"
    assert data["event"]["status"] == "open"
    assert data["event"]["segments"] == ["citoyen", "étudiant", "agent public"]
    assert [t["status"] for t in data["threads"]] == ["open"] * 4 + ["draft"]

    same = await upload(admin, download.content)
    assert same.status_code == 409
    assert f"L&#39;adresse « {SLUG} » est déjà prise" in same.text

    moved = download.text.replace(f'slug = "{SLUG}"', 'slug = "republique-collaborative-bis"')
    imported = await upload(admin, moved.encode())
    assert imported.status_code == 303
    assert imported.headers["location"] == "/admin/events/republique-collaborative-bis"
    original, original_threads = await event_and_threads(board, SLUG)
    copy, copy_threads = await event_and_threads(board, "republique-collaborative-bis")
    assert copy.status == "draft", "an imported event starts as a draft whatever the file says"
    assert copy_threads == original_threads
    for name in ("title", "place", "date", "organisers", "description", "moderation", "voting", "segments"):
        assert getattr(copy, name) == getattr(original, name), name

    again = (await admin.open("/admin/events/republique-collaborative-bis/event.toml")).text
    assert tomllib.loads(again)["threads"] == data["threads"]
    seeded = tmp_path / "seed.toml"
    seeded.write_text(again.replace("republique-collaborative-bis", "republique-seed"), encoding="utf-8")
    await seed_file(board.ctx, seeded)
    from_seed, seed_threads = await event_and_threads(board, "republique-seed")
    assert from_seed.status == "draft" and seed_threads == original_threads, "the export is a seed file"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[event\nslug = ", "pas du TOML valide"),
        ("[event]\nslug = 'caf\u00e9'".encode("latin-1"), "texte UTF-8"),
        (b"title = 'Sans table'\n", "une table [event]"),
        (b"[event]\nslug = 'ok-slug'\ntitle = 'T'\nthreads = 3\n[[threads]]\nstatus = 'open'\n", "prompt"),
        (
            b"[event]\nslug = 'Bad Slug'\ntitle = ''\nretention_days = -1\n",
            "De 3 à 60 caractères",
        ),
    ],
    ids=["not-toml", "not-utf8", "no-event", "thread-without-prompt", "bad-fields"],
)
async def test_a_broken_file_is_refused_with_a_reason(board: Board, content: bytes, message: str) -> None:
    admin = await admin_of(board)
    refused = await upload(admin, content)
    assert refused.status_code == 422
    assert message in refused.text.replace("&#39;", "'")
    async with board.ctx.db.session() as session:
        assert len(list(await session.exec(select(Event)))) == 1


async def test_an_import_without_a_file_or_with_a_nul_is_refused(board: Board) -> None:
    admin = await admin_of(board)
    nothing = await admin.http.post("/admin/import", data={"_csrf_token": admin.csrf, "file": "text"})
    assert nothing.status_code == 422 and "Choisissez un fichier" in nothing.text
    nul = await upload(admin, b'[event]\nslug = "nul-byte"\ntitle = "Nul \\u0000 ici"\n')
    assert nul.status_code == 422 and "caractère nul" in nul.text


async def test_seed_files_may_set_the_event_status(board: Board, tmp_path: Path) -> None:
    closed = tmp_path / "closed.toml"
    closed.write_text(
        "[event]\nslug = 'deja-clos'\ntitle = 'Déjà clos'\nstatus = 'closed'\nretention_days = 30\n"
        "responsible = 'Mairie'\ncontact = 'dpo@example.org'\n[[threads]]\nprompt = 'Une question ?'\n",
        encoding="utf-8",
    )
    await seed_file(board.ctx, closed)
    event, threads = await event_and_threads(board, "deja-clos")
    assert (event.status, event.retention_days, event.responsible, event.contact) == (
        "closed",
        30,
        "Mairie",
        "dpo@example.org",
    )
    assert event.closed_at is not None and threads == [("Une question ?", "open")]
    demo, _ = await event_and_threads(board, SLUG)
    assert demo.status == "open" and demo.closed_at is None, "without `status`, a seeded event is open"

    for bad in (
        "status = 'finished'",
        "retention_days = 'long'",
        "[[threads]]\nprompt = 'Q'\nstatus = 'later'",
    ):
        broken = tmp_path / "broken.toml"
        broken.write_text(f"[event]\nslug = 'casse'\ntitle = 'Cassé'\n{bad}\n", encoding="utf-8")
        with pytest.raises(SeedError):
            await seed_file(board.ctx, broken)

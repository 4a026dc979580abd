"""Retention: once an event has been closed longer than its retention period, nothing links an answer
or a vote to a person, while texts, every count and the public record stay byte for byte."""

from __future__ import annotations

import asyncio
import re
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from sqlalchemy import text
from sqlmodel import select

from board.cli import main
from board.models import Event
from tests.conftest import SLUG, Board, Phone

SEGMENTS = ["citoyen", "étudiant", "agent public"]


async def close(board: Board, *, ago: timedelta, retention_days: int) -> None:
    """The event as its organisers leave it: closed some time ago, with its retention period."""
    async with board.ctx.db.writing() as session:
        event = (await session.exec(select(Event).where(Event.slug == SLUG))).one()
        event.status, event.closed_at = "closed", datetime.now(UTC) - ago
        event.retention_days = retention_days
        session.add(event)
        await session.commit()


async def retention_apply(board: Board, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    """`board retention apply` as an operator runs it, on the board's own database."""
    settings = board.ctx.settings
    monkeypatch.setenv("BOARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BOARD_DATA_DIR", str(board.tmp_path / "var"))
    monkeypatch.delenv("BOARD_REDIS_URL", raising=False)
    if settings.database_schema:
        monkeypatch.setenv("BOARD_DATABASE_SCHEMA", settings.database_schema)
    out = StringIO()

    def run() -> int:
        with redirect_stdout(out), redirect_stderr(out):
            try:
                main(["retention", "apply", *args])
            except SystemExit as exc:
                return 1 if isinstance(exc.code, str) else int(exc.code or 0)
        return 0

    code = await asyncio.to_thread(run)
    return code, out.getvalue()


async def a_debate(board: Board) -> tuple[int, list[int]]:
    """Fifteen people of three profiles answer and vote; one answer is hidden, one merged."""
    thread_id = (await board.thread_ids())[0]
    people: list[Phone] = []
    for n in range(15):
        phone = await board.phone(f"/e/{SLUG}")
        await phone.submit(f"/e/{SLUG}/profile", {"segment": SEGMENTS[n % 3], "name": f"Personne {n}"})
        people.append(phone)
    ids = []
    for n, body in enumerate(
        ("Expérimenter d'abord", "Former les agents", "Ouvrir les données", "Hors sujet")
    ):
        response = await people[n].submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": body}, htmx=True)
        found = re.search(r'id="a(\d+)"', response.text)
        assert found, response.text
        ids.append(int(found.group(1)))
    for n, phone in enumerate(people):
        for answer_id, value in zip(ids, (1, -1 if n % 4 == 0 else 1, 1 if n % 3 else -1, 1), strict=True):
            vote = await phone.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": str(value)}, htmx=True)
            assert vote.status_code == 200, vote.text
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    await moderator.submit(f"/mod/{SLUG}/answers/{ids[3]}", {"action": "hide", "reason": "offtopic"})
    await moderator.submit(f"/mod/{SLUG}/answers/{ids[2]}", {"action": "merge", "into": str(ids[1])})
    return thread_id, ids


async def everything_public(board: Board, thread_id: int) -> dict[str, bytes]:
    phone = await board.phone(None)
    moderator = await board.staff("moderator")
    pages = {
        "event": await phone.http.get(f"/api/events/{SLUG}"),
        "answers": await phone.http.get(f"/api/threads/{thread_id}/answers"),
        "record": await phone.http.get(f"/e/{SLUG}/record.json"),
        "export.json": await moderator.http.get(f"/mod/{SLUG}/export.json"),
        "export.csv": await moderator.http.get(f"/mod/{SLUG}/export.csv"),
    }
    assert all(r.status_code == 200 for r in pages.values())
    return {name: r.content for name, r in pages.items()}


async def links_to_people(board: Board) -> dict[str, int]:
    """What SQL still ties to a person."""
    queries = {
        "votes": "SELECT count(*) FROM vote",
        "people": "SELECT count(*) FROM participant WHERE id NOT LIKE 'unlinked-%'",
        "names or segments": "SELECT count(*) FROM participant WHERE name IS NOT NULL OR segment IS NOT NULL",
        "authors": "SELECT count(DISTINCT participant_id) FROM answer",
        "audited people": "SELECT count(*) FROM auditentry WHERE target LIKE 'participant %'",
    }
    async with board.ctx.db.connect() as conn:
        return {name: int((await conn.execute(text(sql))).scalar_one()) for name, sql in queries.items()}


async def test_retention_keeps_texts_counts_and_the_record_while_nothing_links_to_a_person(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread_id, _ = await a_debate(board)
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    async with board.ctx.db.connect() as conn:
        banned = (await conn.execute(text("SELECT id FROM participant LIMIT 1"))).scalar_one()
    await moderator.submit(f"/mod/{SLUG}/participants/{banned}/ban", {})
    await close(board, ago=timedelta(days=31), retention_days=30)
    before = await everything_public(board, thread_id)
    assert "agree citoyen" in before["export.csv"].decode()
    assert b'"citoyen":{"agree":' in before["answers"], "segments with 5 voters are published"
    assert (await links_to_people(board))["people"] == 15

    code, said = await retention_apply(board, monkeypatch)
    assert code == 0, said
    assert f"{SLUG}: 15 participant(s) unlinked" in said

    assert await everything_public(board, thread_id) == before, "texts, counts and record byte-identical"
    assert await links_to_people(board) == {
        "votes": 0,
        "people": 0,
        "names or segments": 0,
        "authors": 1,
        "audited people": 0,
    }
    code, said = await retention_apply(board, monkeypatch)
    assert code == 0 and "no event is past its retention period" in said


async def test_an_event_within_its_period_or_still_open_keeps_everything(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    await a_debate(board)
    code, said = await retention_apply(board, monkeypatch, "--event", SLUG)
    assert code == 0 and "no event" in said, "an open event is never due"
    await close(board, ago=timedelta(days=29), retention_days=30)
    code, said = await retention_apply(board, monkeypatch)
    assert (await links_to_people(board))["people"] == 15
    assert (await retention_apply(board, monkeypatch, "--event", "nope"))[0] == 1


async def test_zero_days_applies_as_soon_as_the_event_is_closed_and_old_cookies_never_come_back(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread_id = (await board.thread_ids())[0]
    me = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    await me.submit(f"/e/{SLUG}/profile", {"segment": "citoyen", "name": "Ana"})
    stale = me.http.cookies.get(f"bp_{SLUG}")
    await close(board, ago=timedelta(seconds=1), retention_days=0)
    code, said = await retention_apply(board, monkeypatch, "--event", SLUG)
    assert code == 0 and "1 participant(s) unlinked" in said, said
    assert "Rien n'est enregistré" in (await me.open(f"/e/{SLUG}/me")).text
    async with board.ctx.db.writing() as session:
        event = (await session.exec(select(Event).where(Event.slug == SLUG))).one()
        event.status = "open"
        session.add(event)
        await session.commit()
    me.http.cookies.set(f"bp_{SLUG}", stale or "", path=f"/e/{SLUG}")
    again = await me.submit(f"/e/{SLUG}/profile", {"segment": "citoyen", "name": "Ana"})
    assert again.status_code == 303
    assert any(c.startswith(f"bp_{SLUG}=") for c in again.headers.get_list("set-cookie")), "a new id"
    assert (await me.http.get(f"/api/events/{SLUG}")).json()["participants"] == 2, "one unlinked, one new"

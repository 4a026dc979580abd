"""The public record: published answers, moderation decisions and thread openings and closings, in
a SHA-256 hash chain anyone can download and verify."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from board.cli import main
from board.models import Participant
from tests.conftest import SLUG, Board, Phone, postgres_schema, start_server, stop_server

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def canonical_hash(entry: dict[str, Any]) -> str:
    covered = {k: v for k, v in entry.items() if k not in ("hash", "text")}
    encoded = json.dumps(covered, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def verify(path: Path) -> tuple[int, str]:
    out, err = StringIO(), StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(["record", "verify", str(path)])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue() + err.getvalue()


async def post(phone: Phone, thread_id: int, body: str) -> int:
    response = await phone.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": body}, htmx=True)
    assert response.status_code in (201, 202), response.text
    found = re.search(r'id="a(\d+)"', response.text)
    assert found
    return int(found.group(1))


async def record(phone: Phone) -> dict[str, Any]:
    response = await phone.http.get(f"/e/{SLUG}/record.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document: dict[str, Any] = response.json()
    return document


async def a_debate(board: Board) -> tuple[list[int], int]:
    """Answers published, hidden for personal data, restored, rejected, merged; a ban; a thread closed."""
    thread_id = (await board.thread_ids())[0]
    phone = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    ids = [
        await post(phone, thread_id, text)
        for text in ("Ouvrir les données publiques", "Écrire à jean@example.org", "Des fablabs partout")
    ]
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    for answer_id, fields in (
        (ids[1], {"action": "hide", "reason": "personal-data"}),
        (ids[2], {"action": "hide", "reason": "offtopic"}),
        (ids[2], {"action": "restore"}),
        (ids[2], {"action": "merge", "into": str(ids[0])}),
    ):
        done = await moderator.submit(f"/mod/{SLUG}/answers/{answer_id}", fields)
        assert done.status_code == 303, done.text
    async with board.ctx.db.session() as session:
        author = (await session.exec(select(Participant))).first()
    assert author is not None
    banned = await moderator.submit(f"/mod/{SLUG}/participants/{author.id}/ban", {})
    assert banned.status_code == 303
    closed = await moderator.submit(f"/mod/{SLUG}/threads/{thread_id}", {"action": "close"})
    assert closed.status_code == 303
    return ids, thread_id


async def opened_by_seeding(phone: Phone) -> int:
    """How many entries the seeded event starts with: its open threads' prompts, in their order."""
    threads = (await phone.http.get(f"/api/events/{SLUG}")).json()["threads"]
    opened = [t for t in threads if t["status"] == "open"]
    entries = (await record(phone))["entries"][: len(opened)]
    assert [(e["kind"], e["thread"], e["text"]) for e in entries] == [
        ("open", t["id"], t["prompt"]) for t in opened
    ]
    return len(opened)


async def test_the_record_chains_every_public_decision(board: Board) -> None:
    visitor = await board.phone(None)
    seeded = await opened_by_seeding(visitor)
    assert seeded >= 2
    ids, thread_id = await a_debate(board)
    document = await record(visitor)
    assert document["event"] == SLUG
    chain = document["entries"]
    entries = chain[seeded:]
    assert [(e["kind"], e.get("answer")) for e in entries] == [
        ("answer", ids[0]),
        ("answer", ids[1]),
        ("answer", ids[2]),
        ("hide", ids[1]),
        ("hide", ids[2]),
        ("restore", ids[2]),
        ("merge", ids[2]),
        ("ban", None),
        ("close", None),
    ]
    assert [e["seq"] for e in chain] == list(range(1, len(chain) + 1))
    assert chain[0]["prev"] == "0" * 64
    for before, entry in zip([None, *chain], chain, strict=False):
        assert HEX64.match(entry["hash"]) and HEX64.match(entry["prev"])
        assert entry["hash"] == canonical_hash(entry)
        if before is not None:
            assert entry["prev"] == before["hash"]
        assert entry["at"].endswith("Z")
    assert document["head"] == chain[-1]["hash"]
    shown, withheld = entries[0], entries[1]
    assert shown["text"] == "Ouvrir les données publiques"
    assert shown["text_sha256"] == hashlib.sha256(shown["text"].encode()).hexdigest()
    assert "text" not in withheld, "a text withheld for personal data appears as its hash only"
    assert withheld["text_sha256"] == hashlib.sha256("Écrire à jean@example.org".encode()).hexdigest()
    assert entries[3]["reason"] == "personal-data" and entries[4]["reason"] == "offtopic"
    assert entries[6]["into"] == ids[0]
    assert entries[8]["thread"] == thread_id
    assert [c[0] for c in entries[8]["counts"]] == [ids[0]]
    assert "participant" not in json.dumps(document), "the record names nobody"
    again = await record(visitor)
    assert again == document, "nothing in the file changes between two reads"


async def test_opening_a_thread_chains_its_prompt(board: Board) -> None:
    thread_id = (await board.thread_ids())[1]
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    for action in ("close", "open", "open"):
        assert (
            await moderator.submit(f"/mod/{SLUG}/threads/{thread_id}", {"action": action})
        ).status_code == 303
    seeded = await opened_by_seeding(moderator)
    entries = (await record(moderator))["entries"][seeded:]
    assert [e["kind"] for e in entries] == ["close", "open"], "opening an open thread changes nothing"
    prompt = (await moderator.http.get(f"/api/events/{SLUG}")).json()["threads"][1]["prompt"]
    assert entries[1]["text"] == prompt


async def test_a_saved_record_verifies_and_a_forged_one_names_its_first_broken_entry(
    board: Board, tmp_path: Path
) -> None:
    seeded = await opened_by_seeding(await board.phone(None))
    await a_debate(board)
    document = await record(await board.phone(None))
    saved = tmp_path / "record.json"
    saved.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    code, said = verify(saved)
    assert code == 0, said
    assert f"{len(document['entries'])} entries verified" in said

    forged = json.loads(json.dumps(document))
    forged["entries"][seeded + 2]["text"] = "Des fablabs nulle part"
    saved.write_text(json.dumps(forged, ensure_ascii=False), encoding="utf-8")
    code, said = verify(saved)
    assert code == 1 and f"seq {seeded + 3}:" in said, said

    recounted = json.loads(json.dumps(document))
    recounted["entries"][seeded + 8]["counts"][0][1] += 1
    saved.write_text(json.dumps(recounted), encoding="utf-8")
    code, said = verify(saved)
    assert code == 1 and f"seq {seeded + 9}:" in said, said

    rehashed = json.loads(json.dumps(document))
    rehashed["entries"][seeded + 4]["reason"] = "abusive"
    rehashed["entries"][seeded + 4]["hash"] = canonical_hash(rehashed["entries"][seeded + 4])
    saved.write_text(json.dumps(rehashed), encoding="utf-8")
    code, said = verify(saved)
    assert code == 1 and f"seq {seeded + 6}:" in said, "the next entry no longer points at it"

    with_bom = tmp_path / "saved-by-a-windows-editor.json"
    with_bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(document).encode("utf-8"))
    assert verify(with_bom)[0] == 0

    saved.write_text("{not json", encoding="utf-8")
    assert verify(saved)[0] == 1


async def test_the_results_page_and_the_export_carry_the_head(board: Board) -> None:
    await a_debate(board)
    visitor = await board.phone(None)
    head = (await record(visitor))["head"]
    results = (await visitor.open(f"/e/{SLUG}/results")).text
    assert head[:16] in results
    assert 'src="data:image/svg+xml;base64,' in results
    assert f"/e/{SLUG}/record.json" in results
    moderator = await board.staff("moderator")
    exported = await moderator.open(f"/mod/{SLUG}/export.json")
    assert exported.json()["record"]["head"] == head
    table = await moderator.open(f"/mod/{SLUG}/export.csv")
    assert table.content.startswith(b"\xef\xbb\xbfthread,"), "a UTF-8 byte-order mark for French Excel"
    assert table.content.decode("utf-8-sig").splitlines()[0].endswith(",licence,record_head")
    assert head in table.text


@pytest.fixture
def two_workers_on_postgres(tmp_path: Path) -> Iterator[str]:
    async def schema() -> tuple[str, Any]:
        manager = postgres_schema()
        return await manager.__aenter__(), manager

    loop = asyncio.new_event_loop()
    name, manager = loop.run_until_complete(schema())
    server = start_server(tmp_path, workers=2, schema=name, redis_prefix=f"test:{uuid.uuid4().hex[:12]}:")
    try:
        yield server.url
    finally:
        stop_server(server)
        loop.run_until_complete(manager.__aexit__(None, None, None))
        loop.close()


async def test_two_workers_appending_at_once_keep_one_chain(
    two_workers_on_postgres: str, tmp_path: Path
) -> None:
    base = two_workers_on_postgres
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        thread_id = (await http.get(f"/api/events/{SLUG}")).json()["threads"][0]["id"]

    async def author(n: int) -> int:
        async with httpx.AsyncClient(base_url=base, timeout=30) as phone:
            await phone.get(f"/e/{SLUG}/t/{thread_id}")
            token = phone.cookies.get("csrftoken") or ""
            response = await phone.post(
                f"/e/{SLUG}/t/{thread_id}/answers",
                data={"body": f"Réponse simultanée {n}"},
                headers={"HX-Request": "true", "x-csrftoken": token},
            )
            return response.status_code

    codes = await asyncio.gather(*(author(n) for n in range(40)))
    assert codes == [201] * 40
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        document = (await http.get(f"/e/{SLUG}/record.json")).json()
    entries = [e for e in document["entries"] if e["kind"] == "answer"]
    assert len(entries) == 40
    assert sorted(e["text"] for e in entries) == sorted(f"Réponse simultanée {n}" for n in range(40))
    saved = tmp_path / "record.json"
    saved.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    code, said = verify(saved)
    assert code == 0, said


async def test_closing_the_event_chains_its_open_threads_counts_and_opening_it_their_prompts(
    board: Board,
) -> None:
    from tests.test_event_admin import set_status

    visitor = await board.phone(None)
    seeded = await opened_by_seeding(visitor)
    thread_id = (await board.thread_ids())[0]
    author = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    answer_id = await post(author, thread_id, "Compter jusqu'au bout")
    voter = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    assert (
        await voter.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "-1"}, htmx=True)
    ).status_code == 200
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    assert (
        await moderator.submit(f"/mod/{SLUG}/threads/{thread_id}", {"action": "close"})
    ).status_code == 303
    admin = await board.staff(None, admin=True)
    open_threads = [
        t["id"]
        for t in (await visitor.http.get(f"/api/events/{SLUG}")).json()["threads"]
        if t["status"] == "open"
    ]
    assert len(open_threads) == seeded - 1

    assert (await set_status(admin, SLUG, "closed")).status_code == 303
    closing = (await record(visitor))["entries"][seeded + 1 :]
    assert [(e["kind"], e["thread"]) for e in closing] == [("close", thread_id)] + [
        ("close", t) for t in open_threads
    ]
    assert closing[0]["counts"] == [[answer_id, 0, 1]]
    assert all(e["counts"] == [] for e in closing[1:])

    for status in ("archived", "closed"):
        assert (await set_status(admin, SLUG, status)).status_code == 303
    assert len((await record(visitor))["entries"]) == seeded + 1 + len(closing), "closed once"

    assert (await set_status(admin, SLUG, "open")).status_code == 303
    document = await record(visitor)
    reopened = document["entries"][seeded + 1 + len(closing) :]
    assert [(e["kind"], e["thread"]) for e in reopened] == [("open", t) for t in open_threads]
    assert document["head"] == reopened[-1]["hash"]

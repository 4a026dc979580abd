"""The public record: an append-only SHA-256 hash chain per event, served and verified.

Each entry hashes the previous hash and a canonical JSON of every field but `hash` and `text`; a
text enters through its own `text_sha256`, so withholding it later leaves the chain verifiable.
Votes are not chained one by one: a thread's closing carries its counts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlmodel import col

from board.domain.context import BoardContext
from board.models import Answer, AnswerStatus, EventStatus, RecordEntry, Thread, ThreadStatus, utcnow

GENESIS = "0" * 64
WITHHELD_REASONS = ("personal-data", "abusive")
LOCK_SPACE = 0x5245_0000
"""High bits of the PostgreSQL advisory lock key that serialises one event's appends."""


def sha256_text(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def canonical(entry: Mapping[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same bytes in any language that writes JSON this way."""
    covered = {k: v for k, v in entry.items() if k not in ("hash", "text")}
    return json.dumps(covered, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


_HEAD = (
    select(RecordEntry.seq, RecordEntry.hash)  # type: ignore[call-overload]
    .where(col(RecordEntry.event_id) == bindparam("event"))
    .order_by(col(RecordEntry.seq).desc())
    .limit(1)
)
_INSERT = insert(RecordEntry)


def append(
    conn: Connection, event_id: int, kind: str, detail: Mapping[str, Any], body: str | None = None
) -> str:
    """Chain one entry in the caller's transaction, after every earlier one of the event; its hash.

    On PostgreSQL a transaction-scoped advisory lock per event makes concurrent workers append in
    turn; SQLite's write transactions already run one at a time. The unique (event, seq) is the backstop.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_SPACE << 32 | event_id})
    head = conn.execute(_HEAD, {"event": event_id}).first()
    seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
    at = utcnow().isoformat(timespec="microseconds").replace("+00:00", "Z")
    entry = {
        "seq": seq,
        "kind": kind,
        "at": at,
        **detail,
        "text_sha256": None if body is None else sha256_text(body),
        "prev": prev,
    }
    digest = entry_hash(entry)
    conn.execute(
        _INSERT,
        {
            "event_id": event_id,
            "seq": seq,
            "kind": kind,
            "at": at,
            "detail": dict(detail),
            "text_sha256": entry["text_sha256"],
            "prev": prev,
            "hash": digest,
        },
    )
    return digest


def published_answer(conn: Connection, event_id: int, answer: Answer) -> None:
    append(conn, event_id, "answer", {"thread": answer.thread_id, "answer": answer.id}, answer.body)


def decision(
    conn: Connection, event_id: int, action: str, answer: Answer, reason: str | None, into: int | None
) -> None:
    """A moderation decision on an answer; approving a pending answer is its publication."""
    if action == "approve":
        published_answer(conn, event_id, answer)
    elif action in ("hide", "restore", "reject", "merge"):
        detail: dict[str, Any] = {"thread": answer.thread_id, "answer": answer.id, "reason": reason}
        if action == "merge":
            detail["into"] = into
        append(conn, event_id, action, detail)


def ban(conn: Connection, event_id: int, reason: str | None = None) -> None:
    """A ban names nobody in public: that it happened, when, and why."""
    append(conn, event_id, "ban", {"reason": reason})


_THREAD_ANSWERS = (
    select(Answer.id, Answer.agree, Answer.disagree)  # type: ignore[call-overload]
    .where(
        col(Answer.thread_id) == bindparam("thread"),
        col(Answer.status) == AnswerStatus.PUBLISHED,
        col(Answer.merged_into).is_(None),
    )
    .order_by(col(Answer.id))
)


def thread_change(conn: Connection, event_id: int, thread: Thread, status: str) -> None:
    """A thread opened (with its prompt) or closed (with every published answer's counts)."""
    if status == "open":
        append(conn, event_id, "open", {"thread": thread.id}, thread.prompt)
        return
    counts = [[a, int(ag), int(dis)] for a, ag, dis in conn.execute(_THREAD_ANSWERS, {"thread": thread.id})]
    append(conn, event_id, "close", {"thread": thread.id, "counts": counts})


_THREAD_STATES = (
    select(RecordEntry.kind, RecordEntry.detail)  # type: ignore[call-overload]
    .where(col(RecordEntry.event_id) == bindparam("event"), col(RecordEntry.kind).in_(("open", "close")))
    .order_by(col(RecordEntry.seq))
)
_OPEN_THREADS = (
    select(Thread.id, Thread.prompt)  # type: ignore[call-overload]
    .where(col(Thread.event_id) == bindparam("event"), col(Thread.status) == ThreadStatus.OPEN)
    .order_by(col(Thread.position), col(Thread.id))
)


def event_change(conn: Connection, event_id: int, status: str) -> None:
    """The event's open threads open or close with it in the record: opening the event (or seeding it
    open) chains their prompts, closing it chains their counts, each once per change."""
    chained = {detail["thread"]: kind for kind, detail in conn.execute(_THREAD_STATES, {"event": event_id})}
    for thread_id, prompt in list(conn.execute(_OPEN_THREADS, {"event": event_id})):
        thread = Thread(id=thread_id, event_id=event_id, prompt=prompt)
        if status == EventStatus.OPEN and chained.get(thread.id) != "open":
            thread_change(conn, event_id, thread, "open")
        elif status != EventStatus.OPEN and chained.get(thread.id) == "open":
            thread_change(conn, event_id, thread, "close")


@dataclass(frozen=True)
class Chain:
    event: str
    head: str
    entries: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {"event": self.event, "head": self.head, "entries": self.entries}


_ENTRIES = (
    select(RecordEntry).where(col(RecordEntry.event_id) == bindparam("event")).order_by(col(RecordEntry.seq))
)
_ANSWER_TEXTS = select(Answer.id, Answer.body, Answer.status, Answer.reason).where(  # type: ignore[call-overload]
    col(Answer.id).in_(bindparam("ids", expanding=True))
)
_PROMPTS = select(Thread.id, Thread.prompt).where(  # type: ignore[call-overload]
    col(Thread.event_id) == bindparam("event")
)


def _shown_texts(
    conn: Connection, event_id: int, answer_ids: list[int]
) -> tuple[dict[int, str], dict[int, str]]:
    """Texts that may be shown: published answers (merged ones too) and prompts; never a withheld text."""
    answers = {
        row.id: row.body
        for row in conn.execute(_ANSWER_TEXTS, {"ids": answer_ids})
        if row.status == AnswerStatus.PUBLISHED and row.reason not in WITHHELD_REASONS
    }
    prompts = {row.id: row.prompt for row in conn.execute(_PROMPTS, {"event": event_id})}
    return answers, prompts


def _read_chain(conn: Connection, event_id: int) -> list[dict[str, Any]]:
    rows = list(conn.execute(_ENTRIES, {"event": event_id}).mappings())
    answer_ids = sorted({r["detail"]["answer"] for r in rows if r["kind"] == "answer"})
    answers, prompts = _shown_texts(conn, event_id, answer_ids)
    entries = []
    for r in rows:
        entry: dict[str, Any] = {"seq": r["seq"], "kind": r["kind"], "at": r["at"], **r["detail"]}
        shown = answers.get(entry["answer"]) if r["kind"] == "answer" else None
        if r["kind"] == "open":
            shown = prompts.get(entry["thread"])
        if shown is not None and r["text_sha256"] == sha256_text(shown):
            entry["text"] = shown
        entry.update(text_sha256=r["text_sha256"], prev=r["prev"], hash=r["hash"])
        entries.append(entry)
    return entries


async def chain(ctx: BoardContext, event_id: int, slug: str) -> Chain:
    async with ctx.db.connect() as conn:
        entries = await conn.run_sync(_read_chain, event_id)
    return Chain(slug, entries[-1]["hash"] if entries else GENESIS, entries)


_HEADS = select(RecordEntry.hash).where(  # type: ignore[call-overload]
    col(RecordEntry.event_id) == bindparam("event"),
    col(RecordEntry.seq)
    == select(func.max(RecordEntry.seq))
    .where(col(RecordEntry.event_id) == bindparam("event"))
    .scalar_subquery(),
)


async def head(ctx: BoardContext, event_id: int) -> str:
    """The hash of the event's last entry, or 64 zeros before the first."""
    async with ctx.db.connect() as conn:
        found = (await conn.execute(_HEADS, {"event": event_id})).scalar()
    return str(found) if found else GENESIS


class Broken(Exception):
    """A record that does not verify; `seq` names the first entry at fault (None: the file itself)."""

    def __init__(self, seq: int | None, why: str) -> None:
        super().__init__(why)
        self.seq = seq
        self.why = why


def verify(document: Any) -> int:
    """Recompute the chain of a record.json; how many entries it holds, or Broken at the first fault."""
    if not isinstance(document, dict) or not isinstance(document.get("entries"), list):
        raise Broken(None, "not a record: no list of entries")
    prev = GENESIS
    for position, entry in enumerate(document["entries"], start=1):
        if not isinstance(entry, dict):
            raise Broken(position, "not an object")
        seq = entry.get("seq")
        at = seq if isinstance(seq, int) else position
        if seq != position:
            raise Broken(at, f"seq {seq!r} where {position} was expected")
        if entry.get("prev") != prev:
            raise Broken(at, "prev is not the hash of the entry before")
        if entry.get("hash") != entry_hash(entry):
            raise Broken(at, "hash does not match the entry")
        if "text" in entry and (
            not isinstance(entry["text"], str) or sha256_text(entry["text"]) != entry.get("text_sha256")
        ):
            raise Broken(at, "text does not match text_sha256")
        prev = entry["hash"]
    if document.get("head") != prev:
        raise Broken(None, "head is not the hash of the last entry")
    return len(document["entries"])

"""Open-data export of an event: answers with their counts, never a participant id or name."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlmodel import col, select

from board.domain import record
from board.domain.context import BoardContext
from board.domain.events import list_threads
from board.domain.results import published_segment
from board.domain.tally import recount_answers
from board.domain.views import EventView
from board.models import Answer, AnswerStatus, Thread

BOM = "\ufeff"
"""French Excel reads a CSV as UTF-8 only when it starts with a byte-order mark."""
REDACTED_REASONS = ("personal-data", "abusive")
REDACTED = "[texte retiré par la modération]"


async def rows(ctx: BoardContext, event: EventView) -> list[dict[str, Any]]:
    """One row per answer (merged ones included, with the answer they joined).

    Answers set aside for personal data or abuse keep their row but not their text; a segment's
    counts are empty until enough of its people voted (`published_segment`).
    """
    async with ctx.db.session() as session:
        found = (
            await session.exec(
                select(Answer, Thread)
                .join(Thread, col(Thread.id) == col(Answer.thread_id))
                .where(Thread.event_id == event.id)
                .order_by(col(Thread.position), col(Thread.id), col(Answer.created_at), col(Answer.id))
            )
        ).all()
    async with ctx.db.connect() as conn:
        counts = await recount_answers(conn, [a.id for a, _ in found if a.id is not None])
    result = []
    for answer, thread in found:
        c = counts[answer.id or 0]
        row: dict[str, Any] = {
            "thread": thread.id,
            "prompt": thread.prompt,
            "answer_id": answer.id,
            "answer": REDACTED if answer.reason in REDACTED_REASONS else answer.body,
            "status": "merged"
            if answer.merged_into and answer.status == AnswerStatus.PUBLISHED
            else answer.status,
            "reason": answer.reason or "",
            "merged_into": answer.merged_into or "",
            "agree": c.agree,
            "disagree": c.disagree,
        }
        for segment in event.segments:
            shown = published_segment(c.segments.get(segment))
            row[f"agree {segment}"] = None if shown is None else shown[0]
            row[f"disagree {segment}"] = None if shown is None else shown[1]
        row["created_at"] = answer.created_at.isoformat()
        result.append(row)
    return result


async def as_csv(ctx: BoardContext, event: EventView, licence: str) -> str:
    data = await rows(ctx, event)
    header = [
        "thread",
        "prompt",
        "answer_id",
        "answer",
        "status",
        "reason",
        "merged_into",
        "agree",
        "disagree",
    ]
    for segment in event.segments:
        header += [f"agree {segment}", f"disagree {segment}"]
    header += ["created_at", "licence", "record_head"]
    head = await record.head(ctx, event.id)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(
        {k: spreadsheet_safe(v) for k, v in {**row, "licence": licence, "record_head": head}.items()}
        for row in data
    )
    return BOM + out.getvalue()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading apostrophe.

    As OWASP recommends against CSV injection; numbers, including negative ones, stay numbers.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


async def as_json(ctx: BoardContext, event: EventView, licence: str) -> str:
    data = await rows(ctx, event)
    threads: dict[int, dict[str, Any]] = {
        t.id: {"id": t.id, "prompt": t.prompt, "status": t.status, "answers": []}
        for t in await list_threads(ctx, event.id, public=False)
    }
    for row in data:
        thread = threads[row["thread"]]
        answer = {
            k: v
            for k, v in row.items()
            if k not in ("thread", "prompt") and not k.startswith(("agree ", "disagree "))
        }
        answer["segments"] = {
            s: None
            if row[f"agree {s}"] is None
            else {"agree": row[f"agree {s}"], "disagree": row[f"disagree {s}"]}
            for s in event.segments
        }
        thread["answers"].append(answer)
    document = {
        "event": {
            "slug": event.slug,
            "title": event.title,
            "place": event.place,
            "date": event.date,
            "organisers": event.organisers,
        },
        "licence": licence,
        "record": {
            "url": f"{ctx.settings.public_url}/e/{event.slug}/record.json",
            "head": await record.head(ctx, event.id),
        },
        "segments": list(event.segments),
        "threads": list(threads.values()),
    }
    return json.dumps(document, ensure_ascii=False, indent=2)

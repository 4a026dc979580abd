"""Seeding events and their threads from TOML files; running it twice changes nothing."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from sqlmodel import select

from board.domain import record as public_record
from board.domain.context import BoardContext
from board.domain.join_codes import give_code
from board.domain.look import read_accent
from board.models import DEFAULT_SEGMENTS, Event, EventStatus, Thread, ThreadStatus, utcnow

EVENT_FIELDS = (
    "title",
    "place",
    "date",
    "organisers",
    "description",
    "moderation",
    "voting",
    "responsible",
    "contact",
)
SLUG = re.compile(r"[a-z0-9-]+")
"""A slug is a path segment and a cookie name: only these characters are safe in both."""


class SeedError(ValueError):
    pass


def read_seed(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SeedError(f"{path}: not valid TOML ({exc})") from exc
    event = data.get("event")
    if not isinstance(event, dict) or not event.get("slug") or not event.get("title"):
        raise SeedError(f"{path}: an [event] table with at least slug and title is required")
    if not isinstance(event["slug"], str) or not SLUG.fullmatch(event["slug"]):
        raise SeedError(
            f"{path}: the event slug {event['slug']!r} may only hold lowercase letters a-z, digits and '-'"
        )
    if event.get("status", EventStatus.OPEN) not in tuple(EventStatus):
        raise SeedError(f"{path}: the event status must be one of {', '.join(EventStatus)}")
    retention = event.get("retention_days", 180)
    if not isinstance(retention, int) or isinstance(retention, bool) or retention < 0:
        raise SeedError(f"{path}: retention_days must be a whole number of days, 0 or more")
    _accent, problem = read_accent(event.get("accent"))
    if problem:
        raise SeedError(f"{path}: accent {event.get('accent')!r}: {problem[0].format(**problem[1])}")
    for thread in data.get("threads", []):
        if not str(thread.get("prompt", "")).strip():
            raise SeedError(f"{path}: every [[threads]] entry needs a prompt")
        if thread.get("status", ThreadStatus.OPEN) not in tuple(ThreadStatus):
            raise SeedError(f"{path}: a thread status must be one of {', '.join(ThreadStatus)}")
    return data


async def seed_file(ctx: BoardContext, path: Path) -> tuple[str, int]:
    """Create the event and any missing threads; existing ones keep their state.

    A new event is open unless the file sets its `status`.
    """
    data = read_seed(path)
    spec = data["event"]
    async with ctx.db.writing() as session:
        event = (await session.exec(select(Event).where(Event.slug == spec["slug"]))).first()
        if event is None:
            status = spec.get("status", EventStatus.OPEN)
            event = Event(
                slug=spec["slug"],
                title=str(spec["title"]),
                segments=list(spec.get("segments", DEFAULT_SEGMENTS)),
                status=status,
                retention_days=spec.get("retention_days", 180),
                closed_at=utcnow() if status in (EventStatus.CLOSED, EventStatus.ARCHIVED) else None,
                accent=read_accent(spec.get("accent"))[0],
            )
            for key in EVENT_FIELDS:
                if key in spec:
                    setattr(event, key, str(spec[key]))
            session.add(event)
            await session.flush()
        assert event.id is not None
        existing = {t.prompt for t in await session.exec(select(Thread).where(Thread.event_id == event.id))}
        added: list[Thread] = []
        for position, spec_thread in enumerate(data.get("threads", []), start=1):
            prompt = str(spec_thread["prompt"]).strip()
            if prompt in existing:
                continue
            thread = Thread(
                event_id=event.id,
                prompt=prompt,
                position=position,
                status=spec_thread.get("status", ThreadStatus.OPEN),
            )
            session.add(thread)
            added.append(thread)
        await session.flush()
        if event.screen_thread_id is None:
            first = (
                await session.exec(
                    select(Thread)
                    .where(Thread.event_id == event.id, Thread.status == ThreadStatus.OPEN)
                    .order_by(Thread.position)  # type: ignore[arg-type]
                )
            ).first()
            if first is not None:
                event.screen_thread_id = first.id
                session.add(event)
        if added and event.status == EventStatus.OPEN:
            await (await session.connection()).run_sync(public_record.event_change, event.id, event.status)
        slug = event.slug
        await give_code(session, event.id)
        await session.commit()
    return slug, len(added)


async def seed_paths(ctx: BoardContext, paths: list[Path]) -> list[tuple[str, int]]:
    return [await seed_file(ctx, p) for p in paths]


def default_seed_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.toml"))

"""An event as TOML, in the seed format, both ways: prepared on a laptop, moved to the server."""

from __future__ import annotations

import tomllib
from typing import Any

import tomli_w

from board.domain.audit import Actor
from board.domain.context import BoardContext
from board.domain.errors import Invalid
from board.domain.event_spec import read_spec
from board.domain.events import get_event, list_threads
from board.domain.organising import create_event
from board.domain.views import EventView

HEADER = "# A Debate Board event, in the seed format: `board seed FILE` or « Importer » on /admin.\n\n"


async def export_toml(ctx: BoardContext, slug: str) -> str:
    event = await get_event(ctx, slug, public=False)
    threads = await list_threads(ctx, event.id, public=False)
    data: dict[str, Any] = {
        "event": {
            "slug": event.slug,
            "title": event.title,
            "place": event.place,
            "date": event.date,
            "organisers": event.organisers,
            "description": event.description,
            "moderation": event.moderation,
            "voting": event.voting,
            "segments": list(event.segments),
            "retention_days": event.retention_days,
            "responsible": event.responsible,
            "contact": event.contact,
            "accent": event.accent,
            "status": event.status,
        },
        "threads": [{"prompt": t.prompt, "status": t.status} for t in threads],
    }
    return HEADER + tomli_w.dumps(data, multiline_strings=True)


def read_toml(raw: bytes) -> dict[str, Any]:
    """The [event] table with its [[threads]] as `prompts`, ready for `read_spec`."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise Invalid("Le fichier doit être du texte UTF-8.") from None
    except tomllib.TOMLDecodeError as exc:
        raise Invalid("Ce fichier n'est pas du TOML valide : {problem}.", problem=str(exc)) from None
    event = data.get("event")
    threads = data.get("threads", [])
    if not isinstance(event, dict):
        raise Invalid("Le fichier doit contenir une table [event] (slug, title…).")
    if not isinstance(threads, list) or not all(isinstance(t, dict) for t in threads):
        raise Invalid("Les questions s'écrivent en tables [[threads]], chacune avec son prompt.")
    return {**event, "prompts": threads}


async def import_toml(ctx: BoardContext, actor: Actor, raw: bytes) -> EventView:
    """A new event from a file; it starts as a draft whatever the file says, so organisers check it first."""
    return await create_event(ctx, actor, read_spec(read_toml(raw)))

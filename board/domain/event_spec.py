"""What an organiser writes about an event, checked once, whether it comes from the form or a TOML file."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from board.domain.answers import has_visible
from board.domain.errors import InvalidFields
from board.domain.look import read_accent
from board.models import DEFAULT_SEGMENTS, EventStatus, ThreadStatus

SLUG = re.compile(r"[a-z0-9-]{3,60}")
"""A slug is a path segment and a cookie name: only these characters are safe in both."""
MODERATION = ("post", "pre")
VOTING = ("agree-disagree", "upvote")
RETENTION_MAX = 3650
SEGMENT_MAX = 40
SEGMENTS_MAX = 12
PROMPTS_MAX = 50
PROMPT_MAX = 500
LIMITS = {
    "title": 200,
    "place": 200,
    "organisers": 300,
    "responsible": 300,
    "contact": 300,
    "description": 5000,
}

Problems = dict[str, tuple[str, dict[str, object]]]


@dataclass(frozen=True)
class ThreadSpec:
    prompt: str
    status: str = ThreadStatus.OPEN


@dataclass(frozen=True)
class EventSpec:
    slug: str
    title: str
    place: str = ""
    date: str = ""
    organisers: str = ""
    description: str = ""
    segments: tuple[str, ...] = tuple(DEFAULT_SEGMENTS)
    moderation: str = "post"
    voting: str = "agree-disagree"
    retention_days: int = 180
    responsible: str = ""
    contact: str = ""
    accent: str = ""
    threads: tuple[ThreadSpec, ...] = ()


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _lines(value: object) -> list[str]:
    """A textarea (one a line) or a TOML list."""
    items = value if isinstance(value, list | tuple) else _text(value).splitlines()
    return [" ".join(_text(item).split()) for item in items]


def _plain(name: str, raw: object, problems: Problems, *, multiline: bool = False) -> str:
    text = _text(raw)
    if "\x00" in text:
        problems[name] = ("Ce champ contient un caractère nul (U+0000) : retirez-le.", {})
        return ""
    text = text.strip() if multiline else " ".join(text.split())
    if not has_visible(text):
        text = ""
    most = LIMITS.get(name)
    if most is not None and len(text) > most:
        problems[name] = ("{n} caractères ; {most} au plus.", {"n": len(text), "most": most})
    return text


def _slug(raw: object, problems: Problems) -> str:
    slug = _text(raw).strip()
    if not SLUG.fullmatch(slug):
        problems["slug"] = (
            "De 3 à 60 caractères : lettres minuscules sans accent (a-z), chiffres et tirets (-).",
            {},
        )
    return slug


def _date(raw: object, problems: Problems) -> str:
    text = _text(raw).strip()
    if not text:
        return ""
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        problems["date"] = ("Une date au format AAAA-MM-JJ, par exemple 2017-11-22.", {})
        return text[:40]


def _retention(raw: object, problems: Problems) -> int:
    text = _text(raw).strip()
    if not text:
        return 180
    try:
        days = int(text)
    except ValueError:
        days = -1
    if not 0 <= days <= RETENTION_MAX:
        problems["retention_days"] = ("Un nombre de jours entre 0 et {most}.", {"most": RETENTION_MAX})
        return 180
    return days


def _segments(raw: object, problems: Problems) -> tuple[str, ...]:
    names = _lines(raw)
    if any("\x00" in name for name in names):
        problems["segments"] = ("Ce champ contient un caractère nul (U+0000) : retirez-le.", {})
        return ()
    kept: list[str] = []
    for name in names:
        if has_visible(name) and name not in kept:
            kept.append(name)
    if any(len(name) > SEGMENT_MAX for name in kept):
        problems["segments"] = ("Un profil fait au plus {most} caractères.", {"most": SEGMENT_MAX})
    elif len(kept) > SEGMENTS_MAX:
        problems["segments"] = ("Au plus {most} profils.", {"most": SEGMENTS_MAX})
    return tuple(kept)


def _choice(name: str, raw: object, choices: tuple[str, ...], default: str, problems: Problems) -> str:
    value = _text(raw).strip() or default
    if value not in choices:
        problems[name] = ("Choisissez parmi : {choices}.", {"choices": ", ".join(choices)})
        return default
    return value


def _threads(raw: object, problems: Problems) -> tuple[ThreadSpec, ...]:
    """Prompts from the form (one a line) or from TOML tables ({prompt, status})."""
    entries = raw if isinstance(raw, list) else _text(raw).splitlines()
    threads: list[ThreadSpec] = []
    for entry in entries:
        spec = entry if isinstance(entry, Mapping) else {"prompt": entry}
        prompt = " ".join(_text(spec.get("prompt")).split())
        status = _text(spec.get("status")).strip() or ThreadStatus.OPEN
        if "\x00" in prompt:
            problems["prompts"] = ("Ce champ contient un caractère nul (U+0000) : retirez-le.", {})
        elif not has_visible(prompt):
            if isinstance(entry, Mapping):
                problems["prompts"] = ("Chaque question doit avoir un texte.", {})
            continue
        elif len(prompt) > PROMPT_MAX:
            problems["prompts"] = ("Une question fait au plus {most} caractères.", {"most": PROMPT_MAX})
        elif status not in tuple(ThreadStatus):
            problems["prompts"] = ("État de question inconnu : « {status} ».", {"status": status[:20]})
        elif prompt not in (t.prompt for t in threads):
            threads.append(ThreadSpec(prompt, status))
    if len(threads) > PROMPTS_MAX:
        problems["prompts"] = ("Au plus {most} questions à la fois.", {"most": PROMPTS_MAX})
    return tuple(threads)


def read_spec(fields: Mapping[str, object]) -> EventSpec:
    """The event described by `fields`: a posted form, or a TOML [event] table with its [[threads]] as
    `prompts`.

    Every problem is reported at once, each under its field's name.
    """
    problems: Problems = {}
    accent, accent_problem = read_accent(fields.get("accent"))
    if accent_problem:
        problems["accent"] = accent_problem
    plain = {name: _plain(name, fields.get(name), problems) for name in LIMITS if name != "description"}
    description = _plain("description", fields.get("description"), problems, multiline=True)
    spec = EventSpec(
        slug=_slug(fields.get("slug"), problems),
        title=plain["title"],
        place=plain["place"],
        date=_date(fields.get("date"), problems),
        organisers=plain["organisers"],
        description=description,
        segments=_segments(fields.get("segments", list(DEFAULT_SEGMENTS)), problems),
        moderation=_choice("moderation", fields.get("moderation"), MODERATION, "post", problems),
        voting=_choice("voting", fields.get("voting"), VOTING, "agree-disagree", problems),
        retention_days=_retention(fields.get("retention_days"), problems),
        responsible=plain["responsible"],
        contact=plain["contact"],
        accent=accent,
        threads=_threads(fields.get("prompts", ""), problems),
    )
    if not spec.title and "title" not in problems:
        problems["title"] = ("Donnez un titre à l'événement.", {})
    if problems:
        raise InvalidFields(problems)
    return spec


def read_status(raw: object) -> str:
    status = _text(raw).strip()
    if status not in tuple(EventStatus):
        raise InvalidFields(
            {"status": ("Choisissez parmi : {choices}.", {"choices": ", ".join(EventStatus)})}
        )
    return status

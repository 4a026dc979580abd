"""The Jinja environment shared by page responses and fragments rendered outside a request (SSE)."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_date, format_datetime
from jinja2.environment import TemplateModule
from jinja2_fragments.litestar import HTMXBlockTemplate
from litestar import Request
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from board.web import i18n
from board.web.i18n import N_

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATES = ROOT / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"

REASON_PLURALS = {
    "offtopic": (N_("hors-sujet"), N_("hors-sujet")),
    "abusive": (N_("propos abusif"), N_("propos abusifs")),
    "duplicate": (N_("doublon"), N_("doublons")),
    "personal-data": (N_("donnée personnelle"), N_("données personnelles")),
    "other": (N_("autre motif"), N_("autres motifs")),
}
REASON_LABELS = {
    "offtopic": N_("hors-sujet"),
    "abusive": N_("propos abusifs"),
    "duplicate": N_("doublon"),
    "personal-data": N_("données personnelles"),
    "other": N_("autre motif"),
}
SEGMENT_NAMES = (N_("citoyen"), N_("étudiant"), N_("agent public"))


class ElementIds:
    """Element ids, written once: live fragments swap out of band into them, links and htmx target them."""

    @staticmethod
    def answer(answer_id: int) -> str:
        return f"a{answer_id}"

    @staticmethod
    def vote(answer_id: int) -> str:
        return f"v{answer_id}"

    @staticmethod
    def agree(answer_id: int) -> str:
        return f"ag{answer_id}"

    @staticmethod
    def disagree(answer_id: int) -> str:
        return f"di{answer_id}"

    @staticmethod
    def bar(answer_id: int) -> str:
        return f"s{answer_id}"

    @staticmethod
    def thread(thread_id: int) -> str:
        return f"t{thread_id}"

    @staticmethod
    def thread_answers(thread_id: int) -> str:
        return f"t{thread_id}-answers"

    @staticmethod
    def thread_votes(thread_id: int) -> str:
        return f"t{thread_id}-votes"

    @staticmethod
    def participants(event_id: int) -> str:
        return f"e{event_id}-participants"

    @staticmethod
    def prompt(thread_id: int) -> str:
        return f"prompt-{thread_id}"

    @staticmethod
    def reason(action: str, answer_id: int) -> str:
        return f"{action}-{answer_id}"

    @staticmethod
    def merge_into(answer_id: int) -> str:
        return f"into-{answer_id}"

    @staticmethod
    def tab_count(thread_id: int, tab: str) -> str:
        return f"t{thread_id}-{tab}-n"


@cache
def static_url(name: str) -> str:
    """A cache-busting URL: the file's content hash in the query string."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]
    return f"/static/{name}?v={digest}"


def vendor_file(prefix: str) -> str:
    matches = sorted((STATIC / "vendor").glob(f"{prefix}-[0-9]*.js"))
    if not matches:
        raise RuntimeError(f"missing vendored script {prefix} under {STATIC / 'vendor'}")
    return f"vendor/{matches[-1].name}"


def make_environment(*, auto_reload: bool = False, timezone: str = "Europe/Paris") -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        extensions=["jinja2.ext.i18n"],
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        auto_reload=auto_reload,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.template_gettext, i18n.template_ngettext, newstyle=True
    )
    env.globals.update(
        lang=i18n.current,
        languages=i18n.LANGUAGES,
        static_url=static_url,
        htmx_js=vendor_file("htmx"),
        sse_js=vendor_file("htmx-ext-sse"),
        reason_labels=REASON_LABELS,
        reason_plurals=REASON_PLURALS,
        ids=ElementIds,
        now_iso=lambda: datetime.now(UTC).isoformat(),
    )
    zone = ZoneInfo(timezone)
    env.filters["hhmm"] = lambda value: value.astimezone(zone).strftime("%H:%M")
    env.filters["when"] = lambda value: when(value, zone)
    env.filters["long_date"] = long_date
    env.filters["remaining"] = remaining
    return env


def _local(value: datetime, zone: ZoneInfo) -> datetime:
    """SQLite hands back naive datetimes; the board stores UTC."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)


def long_date(value: str) -> str:
    """An ISO date as people write it in the page's language (« 22 novembre 2017 »); anything else as it is."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return value
    return format_date(day, format="long", locale=i18n.current())


def remaining(ends: datetime | None) -> str:
    """What a countdown shows when the page is drawn (m:ss); scripts keep it running."""
    if ends is None:
        return ""
    seconds = max(0, math.ceil((ends - datetime.now(UTC)).total_seconds()))
    return f"{seconds // 60}:{seconds % 60:02d}"


def when(value: datetime, zone: ZoneInfo) -> str:
    """A date and time as people of the page's language write it: « 22 nov. 2017 19:36 »."""
    return format_datetime(_local(value, zone), "d MMM y HH:mm", locale=i18n.current())


def is_htmx(request: Request) -> bool:
    return isinstance(request, HTMXRequest) and bool(request.htmx)


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
) -> Template:
    """The whole page, or for an htmx request only `block` of the same template."""
    if block and is_htmx(request):
        return HTMXBlockTemplate(
            template_name=template, context=context, block_name=block, status_code=status_code
        )
    return Template(template_name=template, context=context, status_code=status_code)


MAX_STENCILS = 4096

# No request, so no CSRF token: forms in these fragments send the one in <body hx-headers>.
OUTSIDE_REQUEST: dict[str, Any] = {"csrf_token": None}


class Fragments:
    """Renders component macros with no request, for messages pushed to many streams."""

    def __init__(self, env: jinja2.Environment) -> None:
        self.env = env
        self._modules: dict[str, tuple[jinja2.Template, TemplateModule]] = {}
        self._stencils: dict[tuple[str, str, int, bool, bool, str], str] = {}

    def macro(self, template: str, name: str, *args: Any, **kwargs: Any) -> str:
        loaded = self.env.get_template(template)
        cached = self._modules.get(template)
        if cached is None or cached[0] is not loaded:
            cached = self._modules[template] = (loaded, loaded.make_module(OUTSIDE_REQUEST))
        return str(getattr(cached[1], name)(*args, **kwargs))

    def vote_widget(
        self,
        slug: str,
        answer_id: int,
        agree: int,
        disagree: int,
        my_vote: int,
        upvote: bool,
        open: bool,
        scope: str = "",
    ) -> str:
        """The vote widget, as its macro renders it, at the cost of a string format.

        It answers every vote, and its nested macros cost more than the rest of a vote's work, so it
        is rendered once per shape (language, event, the voter's side, voting mode, open, scope) with
        its three numbers marked, and those are filled in per call.
        """
        key = (i18n.current(), slug, my_vote, upvote, open, scope)
        stencil = self._stencils.get(key)
        if stencil is None or self.env.auto_reload:
            stencil = self._vote_stencil(*key)
            if len(self._stencils) >= MAX_STENCILS:
                self._stencils.clear()
            self._stencils[key] = stencil
        return stencil.format(int(answer_id), int(agree), int(disagree))

    def _vote_stencil(
        self, _language: str, slug: str, my_vote: int, upvote: bool, open: bool, scope: str
    ) -> str:
        marks = ("\x00answer\x00", "\x00agree\x00", "\x00disagree\x00")
        html = self.macro(
            "components/vote_widget.html",
            "vote_widget",
            slug,
            marks[0],
            marks[1],
            marks[2],
            my_vote,
            upvote,
            open,
            scope,
        )
        stencil = html.replace("{", "{{").replace("}", "}}")
        for n, mark in enumerate(marks):
            stencil = stencil.replace(mark, f"{{{n}}}")
        return stencil

"""Organiser pages: every event at a glance, creating and editing events, their lifecycle, TOML both ways."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import CacheControlHeader, UploadFile
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from board.domain import counts, event_toml, events, logos, organising
from board.domain.accounts import AccountView
from board.domain.audit import Actor
from board.domain.errors import BoardError, Conflict, Forbidden, Invalid, InvalidFields
from board.domain.event_spec import EventSpec, read_spec
from board.domain.images import MOST_BYTES, TooLarge
from board.domain.lifecycle import ARCHIVED, STATUSES
from board.domain.look import DEFAULT_ACCENT
from board.domain.organising import EventOverview
from board.domain.views import EventView
from board.models import EventStatus
from board.web.deps import Ctx, Opinions, read_form
from board.web.i18n import translate_template
from board.web.staff import SignInRequired, signed_in

FIELDS = (
    "slug",
    "title",
    "place",
    "date",
    "organisers",
    "description",
    "segments",
    "moderation",
    "voting",
    "retention_days",
    "responsible",
    "contact",
    "accent",
    "prompts",
)
BLANK = EventSpec(slug="", title="")
LOGO_BODY = 4 * MOST_BYTES
"""Room for an image a little over the limit, so that it gets its message beside the field."""


async def requires_account(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard: a signed-in account (else 303 to /login); an admin where the handler's `opt["admin"]` says so.

    The account is kept on the connection for the `account` dependency.
    """
    account = await signed_in(connection.app.state.board, connection)
    if account is None:
        raise SignInRequired()
    if handler.opt.get("admin") and not account.is_admin:
        raise Forbidden("Cette page est réservée aux administrateurs.")
    connection.state.account = account


def current_account(request: Request) -> AccountView:
    account: AccountView = request.state.account
    return account


Account = NamedDependency[AccountView]


@dataclass(frozen=True)
class AdminPage:
    account: AccountView
    events: list[EventOverview]
    import_error: str | None = None
    import_problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventForm:
    """The event form, blank, filled from an event, or as posted with a message beside each refused field."""

    account: AccountView
    values: Mapping[str, str]
    errors: Mapping[str, str] = field(default_factory=dict)
    event: EventView | None = None
    status: str = "draft"

    @property
    def creating(self) -> bool:
        return self.event is None

    @property
    def action(self) -> str:
        return "/admin/events" if self.event is None else f"/admin/events/{self.event.slug}"

    @property
    def accent(self) -> str:
        """What the colour picker starts from: the event's accent, else the board's blue."""
        return self.values.get("accent") or DEFAULT_ACCENT

    @property
    def locked(self) -> bool:
        """An archived event is read-only: only its state may change."""
        return self.event is not None and self.event.status == "archived"


def _values(spec: EventSpec | EventView) -> dict[str, str]:
    return {
        "slug": spec.slug,
        "title": spec.title,
        "place": spec.place,
        "date": spec.date,
        "organisers": spec.organisers,
        "description": spec.description,
        "segments": "\n".join(spec.segments),
        "moderation": spec.moderation,
        "voting": spec.voting,
        "retention_days": str(spec.retention_days),
        "responsible": spec.responsible,
        "contact": spec.contact,
        "accent": spec.accent,
        "prompts": "",
    }


def _posted(form: Mapping[str, str]) -> dict[str, str]:
    """A colour picker always sends a colour: the box beside it asks for the board's own blue, unless the
    picker was moved from the colour the page showed (without script, nothing unticks the box)."""
    posted = {name: str(form.get(name, "")) for name in FIELDS}
    shown = str(form.get("accent_shown", posted["accent"])).strip().lower()
    if form.get("accent_default") and posted["accent"].strip().lower() == shown:
        posted["accent"] = ""
    return posted


def _errors(exc: BoardError, where: str = "slug") -> dict[str, str]:
    """Each message under its field; a refusal of the whole event (a slug taken) under `where`."""
    if isinstance(exc, InvalidFields):
        return {name: translate_template(t, params) for name, (t, params) in exc.fields.items()}
    return {where: translate_template(exc.template, exc.params)}


def _actor(account: AccountView) -> Actor:
    return Actor(account.id, account.username, "admin")


def _form_page(form: EventForm, status_code: int = 200) -> Template:
    return Template("admin/event.html", context={"form": form}, status_code=status_code)


class AdminController(Controller):
    path = "/admin"
    include_in_schema = False
    cache_control = CacheControlHeader(no_store=True, private=True)
    guards = [requires_account]  # noqa: RUF012
    opt = {"admin": True}  # noqa: RUF012
    dependencies = {"account": Provide(current_account, sync_to_thread=False)}  # noqa: RUF012

    @get("/", name="admin", opt={"admin": False})
    async def index(self, ctx: Ctx, account: Account) -> Template:
        page = AdminPage(account, await organising.overview(ctx, account))
        return Template("admin/index.html", context={"page": page})

    @get("/events", name="admin_new_event")
    async def new_event(self, account: Account) -> Template:
        return _form_page(EventForm(account, _values(BLANK)))

    @post("/events", name="admin_create_event")
    async def create_event(self, request: Request, ctx: Ctx, account: Account) -> Response[Any]:
        posted = _posted(await read_form(request))
        try:
            event = await organising.create_event(ctx, _actor(account), read_spec(posted))
        except (InvalidFields, Conflict) as exc:
            status = 409 if isinstance(exc, Conflict) else 422
            return _form_page(EventForm(account, posted, _errors(exc)), status)
        return Redirect(f"/admin/events/{event.slug}", status_code=303)

    @get("/events/{slug:str}", name="admin_event")
    async def event(self, ctx: Ctx, account: Account, slug: FromPath[str]) -> Template:
        event = await events.get_event(ctx, slug, public=False)
        return _form_page(EventForm(account, _values(event), event=event, status=event.status))

    @post("/events/{slug:str}", name="admin_update_event")
    async def update_event(
        self, request: Request, ctx: Ctx, opinions: Opinions, account: Account, slug: FromPath[str]
    ) -> Response[Any]:
        event = await events.get_event(ctx, slug, public=False)
        form = await read_form(request)
        posted = _posted(form)
        try:
            event = await organising.update_event(ctx, _actor(account), slug, posted, form.get("status"))
        except (InvalidFields, Conflict) as exc:
            status = 409 if isinstance(exc, Conflict) else 422
            errors = _errors(exc, "status" if exc.template == ARCHIVED else "slug")
            values = _values(event) if event.status == "archived" else posted
            shown = str(form.get("status", "")) if str(form.get("status", "")) in STATUSES else event.status
            return _form_page(EventForm(account, values, errors, event, shown), status)
        if event.status == EventStatus.CLOSED:
            listed = await counts.with_counts(ctx, await events.list_threads(ctx, event.id))
            opinions.prepare(listed)
        return Redirect(f"/admin/events/{event.slug}", status_code=303)

    @get("/events/{slug:str}/event.toml", name="admin_event_toml")
    async def download(self, ctx: Ctx, slug: FromPath[str]) -> Response[str]:
        text = await event_toml.export_toml(ctx, slug)
        return Response(
            text,
            media_type="application/toml; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{slug}.toml"'},
        )

    @post("/import", name="admin_import")
    async def import_event(self, request: Request, ctx: Ctx, account: Account) -> Response[Any]:
        upload = (await request.form()).get("file")
        try:
            if not isinstance(upload, UploadFile):
                raise Invalid("Choisissez un fichier .toml à importer.")
            event = await event_toml.import_toml(ctx, _actor(account), await upload.read())
        except (Invalid, Conflict) as exc:
            problems: tuple[str, ...] = ()
            if isinstance(exc, InvalidFields):
                problems = tuple(f"{name} : {message}" for name, message in _errors(exc).items())
            page = AdminPage(
                account,
                await organising.overview(ctx, account),
                translate_template(exc.template, exc.params),
                problems,
            )
            status = 409 if isinstance(exc, Conflict) else 422
            return Template("admin/index.html", context={"page": page}, status_code=status)
        return Redirect(f"/admin/events/{event.slug}", status_code=303)

    @post("/events/{slug:str}/logo", name="admin_event_logo", request_max_body_size=LOGO_BODY)
    async def upload_logo(
        self, request: Request, ctx: Ctx, account: Account, slug: FromPath[str]
    ) -> Response[Any]:
        event = await events.get_event(ctx, slug, public=False)
        try:
            upload = (await request.form()).get("file")
            data = await upload.read() if isinstance(upload, UploadFile) else b""
            if not data:
                raise Invalid("Choisissez une image PNG, JPEG ou WebP à envoyer.")
            await logos.set_logo(ctx, _actor(account), slug, data)
        except (Invalid, Conflict) as exc:
            status = 413 if isinstance(exc, TooLarge) else 409 if isinstance(exc, Conflict) else 422
            form = EventForm(account, _values(event), _errors(exc, "logo"), event, event.status)
            return _form_page(form, status)
        return Redirect(f"/admin/events/{slug}#logo", status_code=303)

    @post("/events/{slug:str}/logo/remove", name="admin_event_logo_remove")
    async def remove_logo(self, ctx: Ctx, account: Account, slug: FromPath[str]) -> Response[Any]:
        await logos.remove_logo(ctx, _actor(account), slug)
        return Redirect(f"/admin/events/{slug}#logo", status_code=303)

    @get("/events/{slug:str}/logo", name="admin_event_logo_preview")
    async def logo_preview(self, ctx: Ctx, slug: FromPath[str]) -> Response[bytes]:
        """The logo as organisers see it on the event's page, a draft's too (the public address refuses it)."""
        event = await events.get_event(ctx, slug, public=False)
        logo = await logos.read_logo(ctx, event)
        return Response(logo.data, media_type=logo.media_type, headers={"X-Content-Type-Options": "nosniff"})

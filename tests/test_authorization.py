"""Who may do what under /mod and /admin: a sweep over the route table, so a new staff route cannot ship
unguarded.

Every (method, path) of an event's staff routes (under /mod or /admin/events/{slug}) that the app serves
must be listed in CASES below with the least role it needs; the sweep then walks each case as an anonymous
visitor, an account without a role on the event, a facilitator, a moderator and an admin, with real ids in
the paths and the CSRF token on every POST. Every other route under /admin (the organisers' pages) is listed
in ADMIN_CASES, swept the same way: any signed-in account reaches /admin, only admins the rest. The staff
routes outside an event (invitation and reset links, one's password) are checked by their own test at the end.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlmodel import col, func, select

from board.domain import accounts, events, invitations
from board.domain.audit import Actor
from board.models import Answer, AuditEntry, Event, EventRole, Thread
from tests.conftest import PASSWORD, SLUG, Board, Phone, get_scope
from tests.pictures import png

ALLOWED = (200, 201, 303)
ROLES_SWEPT = ("facilitator", "moderator", "admin")
EVENT_ROUTES = ("/mod", "/admin/events/{slug")


@dataclass(frozen=True)
class Case:
    """One request to make on a /mod route: the route template, its form and the least role allowed."""

    method: str
    path: str
    needs: str
    data: dict[str, str] = field(default_factory=dict)
    answer: str = "published"
    upload: bytes | None = None
    query: str = ""

    @property
    def streams(self) -> bool:
        return self.path.endswith("/stream")

    def url(self, world: dict[str, Any]) -> str:
        path = self.path.format(**{**world, "answer_id": world.get(self.answer)})
        return f"{path}?{self.query.format(**world)}" if self.query else path

    def form(self, world: dict[str, Any]) -> dict[str, str]:
        return {key: value.format(**world) for key, value in self.data.items()}

    def __str__(self) -> str:
        return f"{self.method} {self.path}{'?' + self.query if self.query else ''} {self.data or ''}".strip()


def answer_action(action: str, *, answer: str = "published", **fields: str) -> Case:
    return Case("POST", "/mod/{slug}/answers/{answer_id}", "moderator", {"action": action, **fields}, answer)


def thread_action(action: str, needs: str = "facilitator", **fields: str) -> Case:
    return Case("POST", "/mod/{slug}/threads/{thread_id}", needs, {"action": action, **fields})


# In an order a moderator can play from start to end, each request valid in the state the last one left.
CASES = [
    Case("GET", "/mod/{slug}", "facilitator"),
    Case("GET", "/mod/{slug}", "facilitator", query="thread={thread_id}&tab=published&q=Expérimenter&page=1"),
    Case("GET", "/mod/{slug}/answers/search", "moderator", query="q=valuer&thread={thread_id}"),
    Case("GET", "/mod/{slug}/stream", "facilitator"),
    thread_action("close"),
    thread_action("open"),
    thread_action("present"),
    thread_action("down"),
    thread_action("up"),
    thread_action("timer", seconds="90", auto_close="1"),
    thread_action("timer", seconds="0"),
    thread_action(
        "edit", "moderator", prompt="L'expérimentation est-elle compatible avec l'action publique ?"
    ),
    Case("POST", "/mod/{slug}/threads", "moderator", {"prompt": "Une question ajoutée en séance ?"}),
    answer_action("pin"),
    answer_action("unpin"),
    answer_action("hide", reason="offtopic"),
    answer_action("restore"),
    answer_action("hide", reason="duplicate"),
    answer_action("approve"),
    answer_action("reject", answer="pending", reason="abusive"),
    answer_action("merge", into="{other}"),
    Case("POST", "/mod/{slug}/participants/{participant_id}/ban", "moderator"),
    Case("POST", "/mod/{slug}/settings", "moderator", {"moderation": "pre", "voting": "upvote"}),
    Case("GET", "/mod/{slug}/export.csv", "moderator"),
    Case("GET", "/mod/{slug}/export.json", "moderator"),
    Case("GET", "/mod/{slug}/audit", "moderator"),
    Case("GET", "/mod/{slug}/audit", "moderator", query="thread={thread_id}&person={username}"),
    Case("GET", "/mod/{slug}/audit.csv", "moderator"),
    Case("GET", "/admin/events/{slug}/staff", "admin"),
    Case("POST", "/admin/events/{slug}/invitations", "admin", {"role": "facilitator", "label": "Invitée"}),
    Case("POST", "/admin/events/{slug}/invitations/{invitation_id}/withdraw", "admin"),
    Case("POST", "/admin/events/{slug}/staff/{username}/revoke", "admin"),
    Case("POST", "/admin/events/{slug}/logo", "admin", upload=png()),
    Case("GET", "/admin/events/{slug}/logo", "admin"),
    Case("POST", "/admin/events/{slug}/logo/remove", "admin"),
]
KNOWN = {(case.method, case.path) for case in CASES}
FACILITATOR_WRITES = [
    "thread-close",
    "thread-open",
    "thread-present",
    "thread-down",
    "thread-up",
    "thread-timer",
    "thread-timer",
]


EVENT_FORM = {
    "title": "Vers une République collaborative",
    "place": "Lille — Sciences Po Lille",
    "date": "2017-11-22",
    "segments": "citoyen\nétudiant\nagent public",
    "moderation": "post",
    "voting": "agree-disagree",
    "retention_days": "180",
}
SWEPT_TOML = """[event]
slug = "sweep-import"
title = "Un atelier importé"
[[threads]]
prompt = "Une question importée ?"
""".encode()
# In an order an admin can play from start to end.
ADMIN_CASES = [
    Case("GET", "/admin", "account"),
    Case("GET", "/admin/events", "admin"),
    Case(
        "POST", "/admin/events", "admin", {**EVENT_FORM, "slug": "sweep-event", "prompts": "Une question ?"}
    ),
    Case("GET", "/admin/events/{slug}", "admin"),
    Case("POST", "/admin/events/{slug}", "admin", {**EVENT_FORM, "slug": "{slug}", "status": "open"}),
    Case("GET", "/admin/events/{slug}/event.toml", "admin"),
    Case("POST", "/admin/import", "admin", upload=SWEPT_TOML),
]
ADMIN_KNOWN = {(case.method, case.path) for case in ADMIN_CASES}


def mod_routes(board: Board, prefixes: tuple[str, ...] = EVENT_ROUTES) -> set[tuple[str, str]]:
    """(method, path) of every route under `prefixes`; OPTIONS is Litestar's automatic preflight answer."""
    found = set()
    for route in board.app.routes:
        if not route.path.startswith(prefixes):
            continue
        path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)
        for method in getattr(route, "methods", {"GET"}):
            if method != "OPTIONS":
                found.add((method, path))
    return found


async def prepare(board: Board) -> dict[str, Any]:
    """Real ids for the paths: two published answers, one awaiting moderation, their author, a thread."""
    thread_id = (await board.thread_ids())[0]
    author = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    setup = await board.staff("moderator")
    await setup.open(f"/mod/{SLUG}")

    async def post(body: str, expected: int) -> int:
        response = await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": body}, htmx=True)
        assert response.status_code == expected, response.text
        async with board.ctx.db.session() as session:
            answer = (await session.exec(select(Answer).where(Answer.body == body))).one()
        assert answer.id is not None
        return answer.id

    published = await post("Expérimenter, puis évaluer publiquement", 201)
    other = await post("Évaluer chaque expérimentation", 201)
    assert (await setup.submit(f"/mod/{SLUG}/settings", {"moderation": "pre"})).status_code == 303
    pending = await post("Une réponse en attente de modération", 202)
    assert (await setup.submit(f"/mod/{SLUG}/settings", {"moderation": "post"})).status_code == 303
    async with board.ctx.db.session() as session:
        participant_id = (await session.get(Answer, published)).participant_id  # type: ignore[union-attr]
    username = f"revokable-{uuid.uuid4().hex[:6]}"
    await accounts.add_account(board.ctx, username, PASSWORD, event_slug=SLUG, role="facilitator")
    inviter = await accounts.add_account(
        board.ctx, f"inviter-{uuid.uuid4().hex[:6]}", PASSWORD, is_admin=True
    )
    event = await events.get_event(board.ctx, SLUG)
    actor = Actor(inviter.id, inviter.username, "admin")
    invitation, _ = await invitations.invite(board.ctx, event, actor, "moderator", "À retirer")
    return {
        "slug": SLUG,
        "thread_id": thread_id,
        "published": published,
        "other": other,
        "pending": pending,
        "participant_id": participant_id,
        "username": username,
        "invitation_id": invitation.id,
    }


async def open_stream(board: Board, phone: Phone, path: str, *, htmx: bool = False) -> httpx.Response:
    """A GET that a browser closes as soon as the response starts (httpx's ASGI transport would wait forever).

    Returns the status and headers; the body is not read. The server must end the stream once told the
    client has gone.
    """
    headers = [(b"host", b"testserver.local"), (b"accept", b"text/event-stream")]
    cookies = "; ".join(f"{name}={value}" for name, value in phone.http.cookies.items())
    if cookies:
        headers.append((b"cookie", cookies.encode()))
    if htmx:
        headers.append((b"hx-request", b"true"))
    scope = get_scope(path, headers)
    started = asyncio.Event()
    start: dict[str, Any] = {}
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await started.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            started.set()

    serving = asyncio.create_task(board.app(scope, receive, send))  # type: ignore[arg-type]
    try:
        await asyncio.wait_for(started.wait(), 5)
        await asyncio.wait_for(serving, 5)
    finally:
        serving.cancel()
    return httpx.Response(start["status"], headers=[(k.decode(), v.decode()) for k, v in start["headers"]])


async def request(
    board: Board, phone: Phone, case: Case, world: dict[str, Any], *, htmx: bool = False
) -> httpx.Response:
    url = case.url(world)
    if case.streams:
        return await open_stream(board, phone, url, htmx=htmx)
    if case.method == "GET":
        return await phone.open(url, headers={"HX-Request": "true"} if htmx else {})
    assert case.method == "POST", f"the sweep does not know how to send {case}"
    if case.upload is not None:
        headers = {"HX-Request": "true", "x-csrftoken": phone.csrf} if htmx else {}
        fields = {} if htmx else {"_csrf_token": phone.csrf}
        files = {"file": ("event.toml", case.upload, "application/toml")}
        return await phone.http.post(url, data=fields, files=files, headers=headers)
    return await phone.submit(url, case.form(world), htmx=htmx)


async def audit_actions(board: Board) -> list[tuple[str, str]]:
    async with board.ctx.db.session() as session:
        rows = await session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))
        return [(entry.actor, entry.action) for entry in rows]


async def test_the_sweep_knows_every_moderation_route(board: Board) -> None:
    served = mod_routes(board) - ADMIN_KNOWN
    assert served, "no /mod route found: the sweep is reading the route table wrongly"
    assert served - KNOWN == set(), "new /mod routes: add them to CASES with the role they need"
    assert KNOWN - served == set(), "CASES lists /mod routes the app no longer serves"
    assert {case.needs for case in CASES} == set(ROLES_SWEPT)


async def test_anonymous_visitors_are_sent_to_the_login_page(board: Board) -> None:
    world = await prepare(board)
    before = await audit_actions(board)
    visitor = await board.phone("/login")
    assert visitor.csrf, "the login page gives the form its CSRF token"
    for case in CASES:
        plain = await request(board, visitor, case, world)
        assert plain.status_code == 303, f"{case}: {plain.status_code}"
        assert plain.headers["location"].startswith("/login"), f"{case}: {plain.headers['location']}"

        htmx = await request(board, visitor, case, world, htmx=True)
        assert htmx.status_code == 200, f"{case} (htmx): {htmx.status_code}"
        assert htmx.headers.get("HX-Redirect", "").startswith("/login"), f"{case} (htmx): {htmx.headers}"
    assert await audit_actions(board) == before, "a refused request changed something"


async def test_an_account_without_a_role_on_the_event_is_refused_everywhere(board: Board) -> None:
    world = await prepare(board)
    before = await audit_actions(board)
    stranger = await board.staff(None)
    await stranger.open(f"/mod/{SLUG}")
    for case in CASES:
        response = await request(board, stranger, case, world)
        assert response.status_code == 403, f"{case}: {response.status_code}"
        if not case.streams:
            assert response.headers["content-type"].startswith("text/html"), f"{case}: an HTML error page"
    assert await audit_actions(board) == before, "a refused request changed something"


async def test_a_facilitator_runs_threads_and_screen_but_cannot_moderate(board: Board) -> None:
    world = await prepare(board)
    before = await audit_actions(board)
    facilitator = await board.staff("facilitator")
    assert (await facilitator.open(f"/mod/{SLUG}")).status_code == 200
    for case in CASES:
        response = await request(board, facilitator, case, world)
        if case.needs != "facilitator":
            assert response.status_code == 403, f"{case}: {response.status_code}"
        else:
            assert response.status_code in ALLOWED, f"{case}: {response.status_code} {response.text[:300]}"
            if case.streams:
                assert response.headers["content-type"].startswith("text/event-stream")

    after = await audit_actions(board)
    assert after[: len(before)] == before
    assert [action for _, action in after[len(before) :]] == FACILITATOR_WRITES, (
        "only the allowed actions ran"
    )
    async with board.ctx.db.session() as session:
        thread = await session.get(Thread, world["thread_id"])
        answer = await session.get(Answer, world["published"])
    assert thread is not None and thread.prompt.startswith("L'expérimentation et l'action publique")
    assert answer is not None and answer.status == "published" and not answer.pinned


@pytest.mark.parametrize(("role", "admin"), [("moderator", False), (None, True)], ids=["moderator", "admin"])
async def test_a_moderator_or_an_admin_may_do_everything(board: Board, role: str | None, admin: bool) -> None:
    world = await prepare(board)
    before = len(await audit_actions(board))
    moderator = await board.staff(role, admin=admin)
    await moderator.open(f"/mod/{SLUG}")
    role_here = "admin" if admin else role
    for case in CASES:
        response = await request(board, moderator, case, world)
        if ROLES_SWEPT.index(case.needs) > ROLES_SWEPT.index(role_here or "admin"):
            assert response.status_code == 403, f"{case}: {response.status_code}"
            continue
        assert response.status_code in ALLOWED, f"{case}: {response.status_code} {response.text[:300]}"
        if case.streams:
            assert response.headers["content-type"].startswith("text/event-stream")

    writes = [c for c in CASES if c.method == "POST" and (admin or c.needs != "admin")]
    assert len(await audit_actions(board)) - before == len(writes), "every staff action is audited"
    async with board.ctx.db.session() as session:
        merged = await session.get(Answer, world["published"])
        rejected = await session.get(Answer, world["pending"])
        event = (await session.exec(select(Event).where(Event.slug == SLUG))).one()
        threads = (await session.exec(select(func.count()).select_from(Thread))).one()
        roles = (await session.exec(select(func.count()).select_from(EventRole))).one()
    assert merged is not None and merged.merged_into == world["other"]
    assert rejected is not None and (rejected.status, rejected.reason) == ("rejected", "abusive")
    assert (event.moderation, event.voting) == ("pre", "upvote")
    assert threads == 6
    assert roles == (1 if admin else 3), "the admin revoked the facilitator's role; a moderator could not"


async def test_a_post_without_the_csrf_token_is_refused_even_for_a_moderator(board: Board) -> None:
    world = await prepare(board)
    before = await audit_actions(board)
    moderator = await board.staff("moderator")
    await moderator.open(f"/mod/{SLUG}")
    for htmx in (False, True):
        refused = await moderator.submit(
            f"/mod/{SLUG}/settings", {"moderation": "pre"}, htmx=htmx, csrf=False
        )
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("text/html"), "an HTML page, not Litestar's JSON"
        assert "jeton de sécurité" in refused.text
    hide = answer_action("hide", reason="offtopic")
    refused = await moderator.submit(hide.url(world), hide.form(world), csrf=False)
    assert refused.status_code == 403
    async with board.ctx.db.session() as session:
        event = (await session.exec(select(Event).where(Event.slug == SLUG))).one()
        answer = await session.get(Answer, world["published"])
    assert event.moderation == "post"
    assert answer is not None and answer.status == "published"
    assert await audit_actions(board) == before
    accepted = await moderator.submit(f"/mod/{SLUG}/settings", {"moderation": "pre"})
    assert accepted.status_code == 303, "the same form with its token goes through"


async def test_the_sweep_knows_every_admin_route(board: Board) -> None:
    served = mod_routes(board, ("/admin",)) - KNOWN
    assert served - ADMIN_KNOWN == set(), "new /admin routes: add them to ADMIN_CASES with the role they need"
    assert ADMIN_KNOWN - served == set(), "ADMIN_CASES lists /admin routes the app no longer serves"


async def event_slugs(board: Board) -> list[str]:
    async with board.ctx.db.session() as session:
        return sorted(await session.exec(select(Event.slug)))


async def test_admin_routes_send_anonymous_visitors_to_sign_in(board: Board) -> None:
    visitor = await board.phone("/login")
    for case in ADMIN_CASES:
        plain = await request(board, visitor, case, {"slug": SLUG})
        assert plain.status_code == 303, f"{case}: {plain.status_code}"
        assert plain.headers["location"].startswith("/login?next=/admin"), (
            f"{case}: {plain.headers['location']}"
        )
        htmx = await request(board, visitor, case, {"slug": SLUG}, htmx=True)
        assert htmx.headers.get("HX-Redirect", "").startswith("/login"), f"{case} (htmx)"
    assert await event_slugs(board) == [SLUG]


@pytest.mark.parametrize(
    "role", [None, "facilitator", "moderator"], ids=["no-role", "facilitator", "moderator"]
)
async def test_only_admins_go_beyond_the_overview(board: Board, role: str | None) -> None:
    before = await audit_actions(board)
    staff = await board.staff(role)
    await staff.open(f"/mod/{SLUG}" if role else "/login")
    for case in ADMIN_CASES:
        response = await request(board, staff, case, {"slug": SLUG})
        expected = 200 if case.needs == "account" else 403
        assert response.status_code == expected, f"{case}: {response.status_code}"
        assert response.headers["content-type"].startswith("text/html"), f"{case}: an HTML page"
    assert await event_slugs(board) == [SLUG]
    assert await audit_actions(board) == before


async def test_an_admin_may_do_everything_under_admin(board: Board) -> None:
    admin = await board.staff(None, admin=True)
    await admin.open("/admin")
    for case in ADMIN_CASES:
        response = await request(board, admin, case, {"slug": SLUG})
        assert response.status_code in ALLOWED, f"{case}: {response.status_code} {response.text[:300]}"
    assert await event_slugs(board) == [SLUG, "sweep-event", "sweep-import"]
    assert [action for _, action in await audit_actions(board)] == [
        "event-create",
        "event-edit",
        "event-create",
    ]


async def test_staff_routes_outside_an_event_need_a_session_or_a_live_token(board: Board) -> None:
    """/account/password needs a session; /invite/{token} and /reset/{token} are the token's alone."""
    outside = {
        (method, path)
        for route in board.app.routes
        for method in getattr(route, "methods", {"GET"})
        if method in ("GET", "POST")
        for path in [re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)]
        if path.startswith(("/account", "/invite", "/reset"))
    }
    assert outside == {
        ("GET", "/account/password"),
        ("POST", "/account/password"),
        ("GET", "/invite/{token}"),
        ("POST", "/invite/{token}"),
        ("GET", "/reset/{token}"),
        ("POST", "/reset/{token}"),
    }
    visitor = await board.phone("/login")
    for method, path in sorted(outside):
        url = path.format(token="no-such-token")
        response = await (
            visitor.open(url) if method == "GET" else visitor.submit(url, {"password": PASSWORD})
        )
        expected = 303 if path == "/account/password" else 404
        assert response.status_code == expected, f"{method} {path}: {response.status_code}"
        if expected == 303:
            assert response.headers["location"].startswith("/login")


async def test_opinion_groups_are_public_like_the_rest_of_the_api(board: Board) -> None:
    """The opinions API and the projector's opinion view need no account; neither sets a session."""
    thread_id = (await board.thread_ids())[0]
    anonymous = await board.phone(None)
    moderator = await board.staff("moderator")
    for phone in (anonymous, moderator):
        api = await phone.http.get(f"/api/threads/{thread_id}/opinions")
        assert api.status_code == 200, api.text
        assert "set-cookie" not in api.headers
        screen = await phone.http.get(f"/e/{SLUG}/t/{thread_id}/screen?show=opinions")
        assert screen.status_code == 200


PRIVACY_ROUTES = {
    ("GET", "/e/{slug:str}/privacy"),
    ("GET", "/e/{slug:str}/me"),
    ("GET", "/e/{slug:str}/me.json"),
    ("GET", "/e/{slug:str}/me/erase"),
    ("POST", "/e/{slug:str}/me/erase"),
    ("GET", "/e/{slug:str}/record.json"),
}
"""Open to anyone, with no role: each shows or erases only what the caller's own cookie points to."""


async def test_privacy_routes_need_no_account_and_show_only_the_callers_data(board: Board) -> None:
    served = {
        (method, route.path)
        for route in board.app.routes
        for method in getattr(route, "methods", ())
        if route.path.startswith("/e/{slug:str}/")
        and route.path.split("/")[3] in ("privacy", "me", "me.json", "record.json")
    }
    assert (
        served - {("HEAD", path) for _, path in PRIVACY_ROUTES} - {("OPTIONS", p) for _, p in PRIVACY_ROUTES}
        == PRIVACY_ROUTES
    )
    thread_id = (await board.thread_ids())[0]
    author = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    posted = await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Ma réponse à moi"}, htmx=True)
    assert posted.status_code == 201
    for who in (await board.phone(None), await board.staff("moderator"), await board.staff(None, admin=True)):
        await who.open(f"/e/{SLUG}")
        for method, path in sorted(PRIVACY_ROUTES):
            url = path.replace("{slug:str}", SLUG)
            response = await (who.open(url) if method == "GET" else who.submit(url, {"answers": "1"}))
            assert response.status_code in ALLOWED, (method, path, response.status_code)
            if not path.endswith("record.json"):
                assert "Ma réponse à moi" not in response.text, (method, path)
    assert "Ma réponse à moi" in (await author.open(f"/e/{SLUG}/me")).text, "nobody else erased it"

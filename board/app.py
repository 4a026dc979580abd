"""create_app(): plugins, middleware and routes. Wiring only."""

from __future__ import annotations

import asyncio
import gc
import os

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from board.db import Database
from board.domain import retention
from board.domain.context import BoardContext
from board.domain.counts import heal_forever
from board.domain.join_codes import give_missing_codes
from board.domain.opinion_groups import OpinionGroups
from board.domain.timers import close_timers_forever
from board.domain.votes import VoteWriter
from board.live import build_live
from board.settings import Settings
from board.web.accounts import AccountsController
from board.web.admin import AdminController
from board.web.api import ApiController
from board.web.connections import OneConnectionPerRequest
from board.web.errors import HANDLERS
from board.web.headers import HeadAsGet, OfflineRapidoc, SecurityHeaders
from board.web.health import healthz, readyz
from board.web.i18n import LanguageMiddleware
from board.web.invitations import InviteController, StaffController
from board.web.language import switch_language
from board.web.logo import event_logo
from board.web.me import MeController
from board.web.moderation import ModerationController
from board.web.participant import ParticipantController
from board.web.passwords import PasswordController
from board.web.render import STATIC, Fragments, make_environment
from board.web.screen import ScreenController
from board.web.stream import StreamController
from board.web.vote import VoteController, VoteDoor

MAX_BODY = 64 * 1024
UNCOMPRESSED = ["^/healthz$", "/stream$", "/vote$", "/logo$"]


def build_context(settings: Settings) -> BoardContext:
    rules = {
        "answer": settings.answer_limit,
        "vote": settings.vote_limit,
        "join": settings.join_limit,
        "login-user": settings.login_limit,
        "login-address": settings.login_address_limit,
    }
    live = build_live(settings.redis_url, settings.redis_prefix, rules)
    return BoardContext(Database(settings.database_url, schema=settings.database_schema), live, settings)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env(demo=os.environ.get("BOARD_DEMO") == "1")
    ctx = build_context(settings)
    votes = VoteWriter(ctx)
    opinions = OpinionGroups(ctx, settings.opinions_interval)
    env = make_environment(auto_reload=settings.debug, timezone=settings.timezone)

    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        await give_missing_codes(ctx)
        await votes.start()
        tasks.append(asyncio.create_task(heal_forever(ctx), name="counter-healing"))
        tasks.append(asyncio.create_task(close_timers_forever(ctx), name="thread-timers"))
        tasks.append(asyncio.create_task(retention.daily(ctx), name="retention"))
        gc.collect()
        gc.freeze()

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await votes.stop()
        await opinions.stop()
        await ctx.db.dispose()
        await ctx.live.close()

    app = Litestar(
        route_handlers=[
            ParticipantController,
            VoteController,
            MeController,
            StreamController,
            ScreenController,
            AccountsController,
            ModerationController,
            AdminController,
            StaffController,
            InviteController,
            PasswordController,
            ApiController,
            healthz,
            switch_language,
            event_logo,
            readyz,
            create_static_files_router(
                path="/static",
                directories=[STATIC],
                cache_control=CacheControlHeader(max_age=31_536_000, public=True),
                include_in_schema=False,
            ),
        ],
        plugins=[HTMXPlugin(), ctx.live.channels.plugin],
        dependencies={
            "ctx": Provide(lambda: ctx, use_cache=True, sync_to_thread=False),
            "votes": Provide(lambda: votes, use_cache=True, sync_to_thread=False),
            "opinions": Provide(lambda: opinions, use_cache=True, sync_to_thread=False),
        },
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(env)),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_httponly=True,
            cookie_samesite="lax",
            cookie_secure=settings.public_url.startswith("https://"),
            header_name="x-csrftoken",
            exclude=["^/healthz$", "^/readyz$", "^/api/", "^/schema", "/stream$"],
        ),
        compression_config=CompressionConfig(
            backend="gzip", minimum_size=512, gzip_compress_level=6, exclude=UNCOMPRESSED
        ),
        openapi_config=OpenAPIConfig(
            title="Debate Board",
            version="1",
            path="/schema",
            description="Read-only public API: published answers and counts, never a participant id.",
            render_plugins=[OfflineRapidoc()],
        ),
        exception_handlers=HANDLERS,
        middleware=[
            LanguageMiddleware(),
            OneConnectionPerRequest(),
        ],
        request_max_body_size=MAX_BODY,
        on_startup=[start],
        on_shutdown=[stop],
        debug=settings.debug,
    )
    secured = SecurityHeaders(app, HeadAsGet(app.asgi_handler), settings.screen_frame_ancestors)
    app.asgi_handler = VoteDoor(app, secured)
    app.state.board = ctx
    app.state.votes = votes
    app.state.opinions = opinions
    app.state.fragments = Fragments(env)
    return app

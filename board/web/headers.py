"""Security headers on every page: a strict Content-Security-Policy (no inline or eval'd script), pages
never cached, HEAD answered like GET, and an API documentation page that keeps to that policy."""

from __future__ import annotations

import html
from typing import Any, cast

from litestar import Litestar, Request
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import RapidocRenderPlugin
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from board.web.errors import send_error

SCREEN_SUFFIXES = ("/screen",)
RAPIDOC = "/static/vendor/rapidoc-9.3.8.min.js"


def policy(frame_ancestors: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


COMMON_HEADERS = [(b"referrer-policy", b"same-origin"), (b"x-content-type-options", b"nosniff")]
PAGE_HEADERS = [
    (b"content-security-policy", policy("'none'").encode()),
    *COMMON_HEADERS,
    (b"x-frame-options", b"DENY"),
]
"""What every response but the projector's and /healthz carries."""


class SecurityHeaders:
    """The projector page may be framed where configured; nothing else may be framed at all.

    Pages hold a participant's name and a CSRF token, so a shared cache or the back button of a
    borrowed phone must not keep them: HTML is `no-store` unless its route says otherwise. Wrapped
    around the app's whole handler, so that the router's own answers (an unknown URL's 404) carry them too.
    """

    def __init__(self, app: Litestar, inner: ASGIApp, screen_frame_ancestors: str = "'none'") -> None:
        self.app = app
        self.inner = inner
        self.page_headers = PAGE_HEADERS
        self.screen_headers = [
            (b"content-security-policy", policy(screen_frame_ancestors).encode()),
            *COMMON_HEADERS,
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/healthz":
            await self.inner(scope, receive, send)
            return
        added = self.screen_headers if scope["path"].endswith(SCREEN_SUFFIXES) else self.page_headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_defaults(list(message.get("headers", ())), added)
            await send(message)

        if "\x00" in scope["path"]:
            await send_error(self.app, scope, receive, send_with_headers, NotFoundException())
            return
        await self.inner(scope, receive, send_with_headers)


def with_defaults(
    headers: list[tuple[bytes, bytes]], defaults: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """The response's headers plus each default it does not set itself; HTML is `no-store` by default."""
    present = {name.lower(): value for name, value in headers}
    headers.extend(item for item in defaults if item[0] not in present)
    if b"cache-control" not in present and present.get(b"content-type", b"").startswith(b"text/html"):
        headers.append((b"cache-control", b"no-store"))
    return headers


class HeadAsGet:
    """HEAD gets what GET would answer, headers and status alike, without the body.

    Litestar routes a HEAD only to handlers that declare it; pages declare GET alone. Event streams
    and static files are left as they are: a HEAD need not open a stream, and static files answer HEAD.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") != "HEAD"
            or scope["path"].startswith("/static/")
            or scope["path"].endswith("/stream")
        ):
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(cast(Scope, {**scope, "method": "GET"}), receive, without_body)


class OfflineRapidoc(RapidocRenderPlugin):
    """RapiDoc from /static with no web fonts: the page loads nothing from elsewhere and runs
    under the page policy above (no inline script)."""

    def __init__(self) -> None:
        super().__init__(js_url=RAPIDOC, path="/", favicon='<link rel="icon" href="data:,">')

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = html.escape(openapi_schema["info"]["title"])
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
{self.favicon}
<script src="{self.js_url}"></script>
{self.style}
</head>
<body>
<rapi-doc spec-url="{self.get_openapi_json_route(request)}" load-fonts="false" render-style="read"
  regular-font="system-ui, sans-serif" mono-font="monospace" show-header="false"></rapi-doc>
</body>
</html>
""".encode()

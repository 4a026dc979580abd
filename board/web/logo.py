"""An event's logo, served by the board: no third-party address on a participant's phone."""

from __future__ import annotations

from litestar import get
from litestar.params import FromPath, FromQuery
from litestar.response import Response

from board.domain import events, logos
from board.web.deps import Ctx

FOREVER = "public, max-age=31536000, immutable"
"""The address holds the logo's hash: a new logo has a new address."""
UNVERSIONED = "public, max-age=300"


@get("/e/{slug:str}/logo", name="event_logo", include_in_schema=False)
async def event_logo(ctx: Ctx, slug: FromPath[str], v: FromQuery[str | None] = None) -> Response[bytes]:
    """As uploaded, with the type its bytes proved; a draft event has no public logo."""
    event = await events.get_event(ctx, slug)
    logo = await logos.read_logo(ctx, event)
    return Response(
        logo.data,
        media_type=logo.media_type,
        headers={
            "Cache-Control": FOREVER if v == logo.version else UNVERSIONED,
            "X-Content-Type-Options": "nosniff",
        },
    )

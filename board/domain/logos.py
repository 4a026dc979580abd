"""An event's logo: kept in SQL beside the event (it survives a restart and a move to another machine),
checked once on upload, and known to pages by the hash they put in its address."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from board.domain.audit import Actor, record
from board.domain.context import BoardContext
from board.domain.errors import Conflict, NotFound
from board.domain.events import event_view
from board.domain.images import read_image
from board.domain.lifecycle import ARCHIVED
from board.domain.views import EventView
from board.models import Event, EventLogo, EventStatus

NO_LOGO = "Cet événement n'a pas de logo."
VERSION_LENGTH = 16


@dataclass(frozen=True)
class LogoFile:
    media_type: str
    version: str
    data: bytes


async def _locked(session: AsyncSession, slug: str) -> Event:
    if "\x00" in slug:
        raise NotFound("Cet événement n'existe pas.")
    event = (await session.exec(select(Event).where(Event.slug == slug).with_for_update())).first()
    if event is None or event.id is None:
        raise NotFound("Cet événement n'existe pas.")
    if event.status == EventStatus.ARCHIVED:
        raise Conflict(ARCHIVED)
    return event


async def set_logo(ctx: BoardContext, actor: Actor, slug: str, data: bytes) -> EventView:
    """The checked image becomes the event's logo, replacing any other; its new hash makes caches let go."""
    image = read_image(data)
    digest = hashlib.sha256(data).hexdigest()
    async with ctx.db.writing() as session:
        event = await _locked(session, slug)
        assert event.id is not None
        logo = await session.get(EventLogo, event.id)
        if logo is None:
            logo = EventLogo(event_id=event.id, media_type=image.media_type, sha256=digest, data=data)
        else:
            logo.media_type, logo.sha256, logo.data = image.media_type, digest, data
        session.add(logo)
        event.logo_version = digest[:VERSION_LENGTH]
        event.logo_width, event.logo_height = image.width, image.height
        session.add(event)
        record(session, event.id, actor, "logo-set", f"event {event.slug}")
        await session.commit()
    return event_view(event)


async def remove_logo(ctx: BoardContext, actor: Actor, slug: str) -> EventView:
    async with ctx.db.writing() as session:
        event = await _locked(session, slug)
        assert event.id is not None
        logo = await session.get(EventLogo, event.id)
        if logo is None:
            raise NotFound(NO_LOGO)
        await session.delete(logo)
        event.logo_version = event.logo_width = event.logo_height = None
        session.add(event)
        record(session, event.id, actor, "logo-remove", f"event {event.slug}")
        await session.commit()
    return event_view(event)


async def read_logo(ctx: BoardContext, event: EventView) -> LogoFile:
    async with ctx.db.session() as session:
        logo = await session.get(EventLogo, event.id)
    if logo is None:
        raise NotFound(NO_LOGO)
    return LogoFile(logo.media_type, logo.sha256[:VERSION_LENGTH], bytes(logo.data))

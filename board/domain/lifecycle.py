"""An event's lifecycle: draft → open → closed → archived, and what each state allows."""

from __future__ import annotations

from datetime import datetime

from board.domain.errors import Conflict, NotFound
from board.domain.views import EventView
from board.models import EventStatus

STATUSES = tuple(EventStatus)
ARCHIVED = "Cet événement est archivé : il est en lecture seule."
CLOSED_TO_ANSWERS = "Cet événement est clos : il n'accepte plus de réponses. Ses résultats restent en ligne."
CLOSED_TO_VOTES = "Cet événement est clos : les votes sont terminés. Ses résultats restent en ligne."
CLOSED_TO_PROFILES = "Cet événement est clos : les profils ne changent plus."


def refusal(status: str, closed_message: str) -> NotFound | Conflict | None:
    """Why a participant's write on an event in `status` is refused, if it is.

    A draft does not exist for participants; closed and archived events keep their results as they are.
    """
    if status == EventStatus.DRAFT:
        return NotFound("Cet événement n'existe pas.")
    if status == EventStatus.ARCHIVED:
        return Conflict(ARCHIVED)
    if status == EventStatus.CLOSED:
        return Conflict(closed_message)
    return None


def check_open(event: EventView, closed_message: str) -> None:
    error = refusal(event.status, closed_message)
    if error is not None:
        raise error


def check_writable(event: EventView) -> None:
    """Staff may still act on a closed event (hide an abusive answer); an archived one is read-only."""
    if event.status == EventStatus.ARCHIVED:
        raise Conflict(ARCHIVED)


def closed_at_after(status: str, closed_at: datetime | None, now: datetime) -> datetime | None:
    """When the event closed: kept while it stays closed or archived, forgotten if it reopens."""
    if status in (EventStatus.CLOSED, EventStatus.ARCHIVED):
        return closed_at or now
    return None

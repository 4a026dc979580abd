"""A crowd answering one thread through the domain, as a large event would: for the console's tests and
its benchmark. Each person answers at most 4 times, under the per-participant answer limit."""

from __future__ import annotations

from board.domain import answers, events, participants
from board.domain.context import BoardContext

SEGMENTS = ("citoyen", "étudiant", "agent public")
NAMES = ("Zoé", "Yanis", "Odile", "Malik", "Inès", "Théo", "Lou", "Sacha")
TOPICS = (
    "évaluer chaque expérimentation avant de la généraliser",
    "un droit à l'erreur pour les agents publics",
    "ouvrir les données des services publics",
    "des tiers lieux dans chaque quartier",
    "associer les usagers dès la conception",
    "former les élus au numérique",
)


def body(index: int) -> str:
    return f"Proposition {index} : {TOPICS[index % len(TOPICS)]}, avec un suivi public des résultats."


async def answer_thread(
    ctx: BoardContext, slug: str, thread_id: int, count: int, *, start: int = 0
) -> list[int]:
    """`count` answers on the thread from people of every segment; their ids, in posting order."""
    event = await events.get_event(ctx, slug)
    thread = await events.get_thread(ctx, event, thread_id, public=False)
    made: list[int] = []
    person = None
    for index in range(start, start + count):
        if index % 4 == 0 or person is None:
            person, _ = await participants.acting(ctx, event, None, f"10.0.{index // 250}.{index % 250}")
            person = await participants.set_profile(
                ctx, event, person, SEGMENTS[index % 3], f"{NAMES[index % len(NAMES)]} {index}"
            )
        answer, _ = await answers.post(ctx, event, thread, person, body(index))
        made.append(answer.id)
    return made

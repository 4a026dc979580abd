"""Opinion groups as the projector and the results page draw them: map dots, group sizes, telling answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from board.domain.context import BoardContext
from board.models import Answer, AnswerStatus

GROUP_NAMES = "ABCDE"
CONSENSUS_SHOWN = 3
MAP_SIZE = 1000


def group_name(group_id: int) -> str:
    return GROUP_NAMES[group_id] if 0 <= group_id < len(GROUP_NAMES) else str(group_id + 1)


@dataclass(frozen=True)
class Dot:
    x: int
    y: int
    group: int | None


@dataclass(frozen=True)
class GroupSummary:
    id: int
    name: str
    size: int
    share: int
    """Percent of the grouped participants."""
    representative: str | None
    representative_approval: int | None


@dataclass(frozen=True)
class ConsensusAnswer:
    id: int
    body: str
    consensus: int
    approvals: tuple[tuple[str, int], ...]
    """(group name, percent approval) for every group."""


@dataclass(frozen=True)
class OpinionMap:
    computed_at: str
    participants: int
    dots: tuple[Dot, ...]
    groups: tuple[GroupSummary, ...]
    consensus: tuple[ConsensusAnswer, ...]

    @property
    def grouped(self) -> int:
        return sum(g.size for g in self.groups)


def _dots(points: list[list[Any]]) -> tuple[Dot, ...]:
    """Map coordinates scaled to fill a square of MAP_SIZE, the centre of the room in the middle."""
    reach = max((max(abs(p[0]), abs(p[1])) for p in points), default=0.0) or 1.0
    half = MAP_SIZE / 2
    return tuple(
        Dot(round(half + 0.92 * half * p[0] / reach), round(half - 0.92 * half * p[1] / reach), p[2])
        for p in points
    )


async def _bodies(ctx: BoardContext, answer_ids: list[int]) -> dict[int, str]:
    if not answer_ids:
        return {}
    async with ctx.db.session() as session:
        rows = await session.exec(
            select(Answer.id, Answer.body).where(
                col(Answer.id).in_(answer_ids),
                col(Answer.status) == AnswerStatus.PUBLISHED,
                col(Answer.merged_into).is_(None),
            )
        )
        return {a: b for a, b in rows if a is not None}


async def opinion_map(ctx: BoardContext, data: dict[str, Any] | None) -> OpinionMap | None:
    """What to draw from the API's payload; None before anyone voted."""
    if data is None or not data["map"]:
        return None
    answers = data["answers"]
    bridges = sorted((a for a in answers if a["bridge"]), key=lambda a: -a["consensus"])[:CONSENSUS_SHOWN]
    representative: dict[int, dict[str, Any]] = {}
    for a in answers:
        g = a["representative_of"]
        if g is not None and (
            g not in representative or a["approval"][str(g)] > representative[g]["approval"][str(g)]
        ):
            representative[g] = a
    bodies = await _bodies(
        ctx, sorted({a["id"] for a in bridges} | {a["id"] for a in representative.values()})
    )
    bridges = [a for a in bridges if a["id"] in bodies]
    total = sum(g["size"] for g in data["groups"]) or 1
    groups = tuple(
        GroupSummary(
            id=g["id"],
            name=group_name(g["id"]),
            size=g["size"],
            share=round(100 * g["size"] / total),
            representative=bodies.get(representative[g["id"]]["id"]) if g["id"] in representative else None,
            representative_approval=round(100 * (representative[g["id"]]["approval"][str(g["id"])] or 0))
            if g["id"] in representative and representative[g["id"]]["id"] in bodies
            else None,
        )
        for g in data["groups"]
    )
    consensus = tuple(
        ConsensusAnswer(
            id=a["id"],
            body=bodies.get(a["id"], ""),
            consensus=round(100 * a["consensus"]),
            approvals=tuple(
                (group_name(int(g)), round(100 * (v or 0))) for g, v in sorted(a["approval"].items())
            ),
        )
        for a in bridges
    )
    return OpinionMap(data["computed_at"], data["participants"], _dots(data["map"]), groups, consensus)

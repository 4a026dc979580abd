"""Opinion groups from the votes alone: agreement with Pol.is on a real conversation, stability, privacy.

The fixture is a real Pol.is conversation (tests/fixtures/polis/brexit-consensus, CC BY 4.0, The
Computational Democracy Project: see the README beside it).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from board.domain import opinions
from board.domain.opinions import compute, decode_state, describe, find_groups, vote_matrix
from board.domain.polis import read_polis
from tests.compare_polis import polis_groups

BREXIT = Path(__file__).parent / "fixtures" / "polis" / "brexit-consensus"
AGREEMENT_FLOOR = 0.78
"""Measured 0.817 against Pol.is's own groups; a change that loses agreement fails here."""


def brexit_votes() -> tuple[list[tuple[str, int, int]], list[int]]:
    export = read_polis(BREXIT)
    answers = [c.id for c in export.comments if c.status == "published"]
    return [(f"polis:{v}", c, value) for (v, c), value in export.votes.items()], answers


def camps(people: int = 30, answers: int = 10, seed: int = 1) -> list[tuple[str, int, int]]:
    """Two camps that disagree on every answer but the last, which everyone approves."""
    rng = random.Random(seed)
    votes = []
    for p in range(people):
        side = 1 if p % 2 else -1
        for a in range(1, answers + 1):
            if rng.random() < 0.15:
                continue
            value = 1 if a == answers else side * (1 if a % 2 else -1)
            votes.append((f"p{p:03d}", a, value if rng.random() > 0.05 else -value))
    return votes


def test_groups_agree_with_the_groups_polis_found_on_a_real_conversation() -> None:
    votes, answers = brexit_votes()
    matrix = vote_matrix(votes, answers)
    grouping = find_groups(matrix)
    theirs = polis_groups(BREXIT)
    ours = {p: int(g) for p, g in zip(matrix.participants, grouping.labels, strict=True) if g >= 0}
    both = sorted(set(theirs) & set(ours))
    assert len(both) > 150
    assert adjusted_rand_score([theirs[p] for p in both], [ours[p] for p in both]) >= AGREEMENT_FLOOR


def test_the_same_votes_in_any_order_give_the_same_groups() -> None:
    votes, answers = brexit_votes()
    first = find_groups(vote_matrix(votes, answers))
    shuffled = list(votes)
    random.Random(7).shuffle(shuffled)
    second = find_groups(vote_matrix(shuffled, list(reversed(answers))))
    assert first.k == second.k
    assert np.array_equal(first.labels, second.labels)


def test_groups_keep_their_number_and_ids_when_a_few_votes_arrive() -> None:
    votes, answers = brexit_votes()
    first = find_groups(vote_matrix(votes, answers))
    more = votes + [("polis:newcomer", a, 1 if i % 2 else -1) for i, a in enumerate(answers[:12])]
    second = find_groups(vote_matrix(more, answers), first.previous())
    assert second.k == first.k
    same = adjusted_rand_score(first.labels, second.labels[: len(first.labels)])
    assert same > 0.9
    kept = np.mean(first.labels == second.labels[: len(first.labels)])
    assert kept > 0.9, "group ids swapped between two computations"


def test_two_camps_are_found_and_the_answer_both_approve_is_the_consensus() -> None:
    matrix = vote_matrix(camps(), range(1, 11))
    described = describe(matrix, find_groups(matrix))
    assert len(described.groups) == 2
    by_id = {a.id: a for a in described.answers}
    assert by_id[10].bridge
    assert by_id[10].consensus == max(a.consensus for a in described.answers)
    assert not any(by_id[a].bridge for a in range(1, 10))
    assert {a.representative_of for a in described.answers} >= {0, 1}


def test_approval_is_corrected_for_small_counts() -> None:
    matrix = vote_matrix(camps(), range(1, 11))
    described = describe(matrix, find_groups(matrix))
    approvals = [v for a in described.answers for v in a.approval.values() if v is not None]
    assert all(0 < v < 1 for v in approvals), "with the +1/+2 prior no group approves at exactly 0 or 1"


def test_a_group_of_fewer_than_five_people_is_not_published_on_its_own() -> None:
    votes = camps(people=40)
    loners = [(f"z{p}", a, 1) for p in range(3) for a in range(1, 11)]
    matrix = vote_matrix(votes + loners, range(1, 11))
    grouping = find_groups(matrix)
    described = describe(matrix, grouping)
    assert all(size >= opinions.MIN_PUBLISHED_GROUP for _, size in described.groups)
    published = {g for g, _ in described.groups}
    assert all(g is None or g in published for _, _, g in described.map)
    assert len(described.map) == len(matrix.participants)


def test_participants_with_too_few_votes_are_on_the_map_but_do_not_shape_the_groups() -> None:
    votes = [*camps(), ("late", 1, 1), ("late", 2, -1)]
    matrix = vote_matrix(votes, range(1, 11))
    grouping = find_groups(matrix)
    late = matrix.participants.index("late")
    assert not grouping.grouped[late]
    assert grouping.labels[late] == -1
    assert len(describe(matrix, grouping).map) == len(matrix.participants)


def test_the_published_payload_names_nobody() -> None:
    payload, state, members = compute(camps(), list(range(1, 11)), None, "2026-12-02T00:00:00+00:00")
    text = payload.decode()
    assert not any(p in text for p in members)
    data = json.loads(payload)
    assert set(data) == {"computed_at", "participants", "groups", "answers", "map"}
    assert sorted(members.values())[0] in {g["id"] for g in data["groups"]}
    assert decode_state(state) is not None


@pytest.mark.parametrize("votes", [[], [("a", 1, 1)], [("a", 1, 1), ("b", 1, -1)]])
def test_too_few_votes_give_a_map_without_groups(votes: list[tuple[str, int, int]]) -> None:
    payload, _, members = compute(votes, [1, 2], None, "")
    data = json.loads(payload)
    assert data["groups"] == []
    assert members == {}
    assert len(data["map"]) == len({p for p, _, _ in votes})

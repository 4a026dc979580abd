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
from tests.compare_polis import export_matrix, polis_groups

BREXIT = Path(__file__).parent / "fixtures" / "polis" / "brexit-consensus"
AGREEMENT_FLOOR = 0.85
"""Measured 0.876 against Pol.is's own groups (0.817 when the passes are left out); a change that loses
agreement fails here."""


def brexit_votes() -> tuple[list[tuple[str, int, int]], list[int]]:
    """Votes and passes (0) on the published comments, as the worker reads them once imported."""
    export = read_polis(BREXIT)
    answers = [c.id for c in export.comments if c.status == "published"]
    votes = [(f"polis:{v}", c, value) for (v, c), value in export.votes.items()]
    return votes + [(f"polis:{v}", c, 0) for v, c in export.passes], answers


def camps(people: int = 30, answers: int = 10, seed: int = 1, sides: int = 2) -> list[tuple[str, int, int]]:
    """Camps that each agree with their own answers only, except the last, which everyone approves."""
    rng = random.Random(seed)
    votes = []
    for p in range(people):
        side = p % sides
        for a in range(1, answers + 1):
            if rng.random() < 0.15:
                continue
            value = 1 if a == answers or a % sides == side else -1
            votes.append((f"p{p:03d}", a, value if rng.random() > 0.05 else -value))
    return votes


def test_groups_agree_with_the_groups_polis_found_on_a_real_conversation() -> None:
    matrix = export_matrix(read_polis(BREXIT))
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


def test_passes_count_toward_the_seven_answers_needed_to_shape_the_groups() -> None:
    five = [("newcomer", a, 1) for a in range(1, 6)]
    passes = [("newcomer", 6, 0), ("newcomer", 7, 0)]
    without = vote_matrix(camps() + five, range(1, 11))
    assert not find_groups(without).grouped[without.participants.index("newcomer")]
    including = vote_matrix(camps() + five + passes, range(1, 11))
    assert find_groups(including).grouped[including.participants.index("newcomer")]
    assert including.values[including.participants.index("newcomer"), 5] == 0


def test_a_group_that_passed_on_an_answer_approves_it_less_than_one_that_agreed() -> None:
    people = sorted({p for p, _, _ in camps()})
    agreeing = [(p, 11, 1) for p in people[:4]]
    passing = [(p, 11, 0) for p in people[4:]]
    matrix = vote_matrix(camps() + agreeing + passing, range(1, 12))
    described = describe(matrix, find_groups(matrix))
    eleven = next(a for a in described.answers if a.id == 11)
    assert all(v is not None and v < 0.5 for v in eleven.approval.values()), "a pass is seen, not approved"
    assert not eleven.bridge


def test_votes_on_a_withheld_answer_count_as_seen_and_the_answer_is_never_shown() -> None:
    five = [("newcomer", a, 1) for a in range(1, 6)]
    on_withheld = [("newcomer", 20, 1), ("newcomer", 21, -1), ("p000", 20, 1)]
    matrix = vote_matrix(camps() + five + on_withheld, range(1, 11), withheld=[20, 21])
    assert matrix.withheld == 2
    assert find_groups(matrix).grouped[matrix.participants.index("newcomer")]
    assert {a.id for a in describe(matrix, find_groups(matrix)).answers} == set(range(1, 11))
    payload, _, _ = compute(camps() + on_withheld, list(range(1, 11)), None, "", withheld=[20, 21])
    assert {a["id"] for a in json.loads(payload)["answers"]} == set(range(1, 11))


def test_a_vote_on_an_answer_outweighs_a_pass_on_it_whatever_their_order() -> None:
    both = [("p000", 1, 0), ("p000", 1, -1)]
    for votes in (both, both[::-1]):
        matrix = vote_matrix(camps() + votes, range(1, 11))
        assert matrix.values[matrix.participants.index("p000"), 0] == -1


def test_the_number_of_groups_changes_only_once_another_number_has_won_several_times_in_a_row() -> None:
    three = vote_matrix(camps(people=60, answers=12, sides=3), range(1, 13))
    two = vote_matrix(camps(people=60, answers=12, sides=2), range(1, 13))
    assert find_groups(two).k == 2
    previous = find_groups(three).previous()
    assert previous.k == 3
    seen = []
    for _ in range(opinions.K_BUFFER):
        grouping = find_groups(two, previous)
        seen.append(grouping.k)
        previous = grouping.previous()
    assert seen == [3] * (opinions.K_BUFFER - 1) + [2]
    assert decode_state(opinions.encode_state(previous)) is not None


def test_two_people_on_the_same_spot_one_grouped_one_not_are_both_on_the_map() -> None:
    """Same votes on the published answers, but only one also voted on withheld ones: the map still sorts."""
    five = [(who, a, 1) for who in ("twin-a", "twin-b") for a in range(1, 6)]
    withheld = [("twin-a", 20, 1), ("twin-a", 21, 1)]
    matrix = vote_matrix(camps() + five + withheld, range(1, 11), withheld=[20, 21])
    grouping = find_groups(matrix)
    a, b = matrix.participants.index("twin-a"), matrix.participants.index("twin-b")
    assert np.array_equal(grouping.coords[a], grouping.coords[b])
    assert grouping.grouped[a] and not grouping.grouped[b]
    dots = describe(matrix, grouping).map
    assert len(dots) == len(matrix.participants)
    assert dots == sorted(dots, key=lambda d: (d[0], d[1], -1 if d[2] is None else d[2]))

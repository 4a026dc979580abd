"""Opinion groups from the votes alone, the way Pol.is finds them: pure functions over arrays, no I/O.

The vote matrix (participants by published answers, agree 1, disagree -1, pass 0, no vote missing) is
reduced to two dimensions by PCA after filling each missing vote with its answer's mean; each
participant is projected from the answers they saw only and pushed out from the centre by
(answers / answers seen) ** power, so that someone who saw few answers is not pulled to the centre.
As in Pol.is, an answer a moderator withheld after people voted on it stays in that count as an answer
everyone saw (Pol.is keeps it as a column of zeros), and votes on it count toward the 7 a participant
needs to be grouped. Participants with enough votes are grouped in two steps: many small base
clusters, then k-means over their centres (weighted by size) for k = 2 to 5, k chosen by silhouette
over the base clusters, and a new k is taken only once it has won several computations in a row.

The board records no pass itself: passes come only with imported conversations. Without them, an
answer skipped and an answer never seen look alike, and Pol.is's square root pushes people out too far:
the fourth root is used instead.

scikit-learn is imported inside the functions that need it: this module is loaded by the web
process too, and scikit-learn takes seconds to load, so only the process that computes pays for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MIN_VOTES = 7
"""Pol.is groups only participants who voted on 7 answers (or on all of them when there are fewer)."""
MIN_GROUPED = 15
"""Below this many grouped participants, the most active voters are added, as Pol.is does."""
BASE_CLUSTERS = 100
GROUP_RESTARTS = 4
"""k-means restarts when grouping the base clusters: each costs a few milliseconds, the best is kept."""
GROUP_COUNTS = (2, 3, 4, 5)
KEEP_K_MARGIN = 0.03
"""Another number of groups challenges the current one only when its silhouette is this much better."""
K_BUFFER = 4
"""Pol.is's group-k buffer: a challenger replaces the current number of groups once it has won this many
computations in a row."""
MORE_GROUPS_MARGIN = 0.03
"""More groups are chosen only when their silhouette beats fewer groups by this much."""
SCALE_POWER = 0.5
"""Pol.is's scaling: (answers / answers seen) ** 0.5, passes counted as seen."""
SCALE_POWER_WITHOUT_PASSES = 0.25
"""Where no pass is known, answers seen are undercounted and the square root over-corrects."""
MIN_PUBLISHED_GROUP = 5
"""A group of fewer people is never published on its own: its members are shown without a group."""
REPRESENTATIVE_Z = 1.2816
"""One-sided 90 % confidence that a group agrees more than the rest of the room."""
REPRESENTATIVES_PER_GROUP = 2
CONSENSUS_APPROVAL = 0.6
"""A « passerelle » by opinion groups: every published group approves with at least this (corrected) share."""
SEED = 0


@dataclass(frozen=True)
class VoteMatrix:
    """Rows are participants, columns answers, both sorted by id so that the same votes give the same groups."""

    participants: tuple[str, ...]
    answers: tuple[int, ...]
    values: np.ndarray
    """float, 1 agree, -1 disagree, 0 pass, NaN no vote."""
    seen: np.ndarray
    """Per participant: votes and passes on the answers, and on the withheld answers."""
    withheld: int = 0
    """Withheld answers that someone voted on: seen by everyone in the scaling, as Pol.is does."""


def _empty(columns: np.ndarray) -> VoteMatrix:
    return VoteMatrix((), tuple(int(a) for a in columns), np.full((0, len(columns)), np.nan), np.zeros(0))


def vote_matrix(
    votes: Iterable[tuple[str, int, int]], answers: Iterable[int], withheld: Iterable[int] = ()
) -> VoteMatrix:
    """The matrix of (participant, answer, value) votes over `answers` (value 0 is a pass); votes on
    `withheld` answers only count as seen, votes on other answers are ignored."""
    columns = np.array(sorted(set(answers)), dtype=np.int64)
    hidden = np.array(sorted(set(withheld) - set(columns.tolist())), dtype=np.int64)
    rows = list(votes)
    if not rows or not len(columns):
        return _empty(columns)
    index: dict[str, int] = {}
    codes = np.fromiter(
        (index.setdefault(p, len(index)) for p, _, _ in rows), dtype=np.int64, count=len(rows)
    )
    answer_ids = np.fromiter((a for _, a, _ in rows), dtype=np.int64, count=len(rows))
    values = np.fromiter((v for _, _, v in rows), dtype=np.int64, count=len(rows))
    valid = (values == 1) | (values == -1) | (values == 0)
    col = np.clip(np.searchsorted(columns, answer_ids), 0, len(columns) - 1)
    keep = (columns[col] == answer_ids) & valid
    aside = np.zeros(len(rows), dtype=bool)
    if len(hidden):
        aside = (
            hidden[np.clip(np.searchsorted(hidden, answer_ids), 0, len(hidden) - 1)] == answer_ids
        ) & valid
    names = sorted(index)
    rank = np.empty(len(index), dtype=np.int64)
    rank[[index[n] for n in names]] = np.arange(len(names))
    voters = np.unique(rank[codes[keep]])
    if not len(voters):
        return _empty(columns)
    people = [names[i] for i in voters]
    row = np.searchsorted(voters, rank[codes[keep]])
    matrix = np.full((len(people), len(columns)), np.nan)
    passed = values[keep] == 0
    matrix[row[passed], col[keep][passed]] = 0.0
    matrix[row[~passed], col[keep][~passed]] = values[keep][~passed]
    seen = (~np.isnan(matrix)).sum(axis=1).astype(float)
    pairs = np.unique(np.stack([rank[codes[aside]], answer_ids[aside]], axis=1), axis=0)
    at = np.minimum(np.searchsorted(voters, pairs[:, 0]), len(voters) - 1)
    np.add.at(seen, at[voters[at] == pairs[:, 0]], 1.0)
    touched = len(np.unique(answer_ids[aside]))
    return VoteMatrix(tuple(str(p) for p in people), tuple(int(a) for a in columns), matrix, seen, touched)


@dataclass(frozen=True)
class Previous:
    """What the last computation of a thread found, so that the next one keeps its groups in place."""

    k: int
    centres: np.ndarray
    """Group centres on the map, one row per group id."""
    axes: np.ndarray
    """The two principal axes, to keep the map from flipping."""
    answers: tuple[int, ...]
    challenger: int = 0
    """The number of groups that beat `k` last time (0: none), and how many computations in a row it did."""
    streak: int = 0


@dataclass(frozen=True)
class Grouping:
    """Where each participant sits on the map and which group they are in (-1: not grouped)."""

    coords: np.ndarray
    labels: np.ndarray
    grouped: np.ndarray
    """Whether each participant had enough votes to take part in finding the groups."""
    k: int
    centres: np.ndarray
    axes: np.ndarray
    answers: tuple[int, ...]
    challenger: int = 0
    streak: int = 0

    def previous(self) -> Previous:
        return Previous(self.k, self.centres, self.axes, self.answers, self.challenger, self.streak)


def _project(matrix: VoteMatrix, previous: Previous | None) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA

    values = matrix.values
    voted = ~np.isnan(values)
    counts = voted.sum(axis=0)
    means = np.divide(np.nansum(values, axis=0), counts, out=np.zeros(values.shape[1]), where=counts > 0)
    centred = np.where(voted, values - means, 0.0)
    if values.shape[0] < 2 or values.shape[1] < 2:
        return np.zeros((values.shape[0], 2)), np.zeros((2, values.shape[1]))
    pca = PCA(n_components=2, svd_solver="covariance_eigh")
    pca.fit(centred)
    axes = pca.components_.copy()
    if previous is not None:
        axes = _orient(axes, previous, matrix.answers)
    return (centred @ axes.T) * _push_out(matrix)[:, None], axes


def _push_out(matrix: VoteMatrix) -> np.ndarray:
    """Pol.is's factor: (answers / answers seen) ** power, withheld answers seen by everyone."""
    voted = ~np.isnan(matrix.values)
    answers = _answers_in_play(matrix)
    seen = voted.sum(axis=1) + matrix.withheld
    power = SCALE_POWER if bool((matrix.values == 0).any()) else SCALE_POWER_WITHOUT_PASSES
    return np.asarray((answers / np.maximum(seen, 1)) ** power, dtype=float)


def _orient(axes: np.ndarray, previous: Previous, answers: tuple[int, ...]) -> np.ndarray:
    """Flip each axis to point the way it pointed last time, over the answers both computations share."""
    old = {a: i for i, a in enumerate(previous.answers)}
    shared = [(i, old[a]) for i, a in enumerate(answers) if a in old]
    if not shared or previous.axes.shape[0] != axes.shape[0]:
        return axes
    new_idx, old_idx = (list(x) for x in zip(*shared, strict=True))
    for d in range(axes.shape[0]):
        if float(axes[d, new_idx] @ previous.axes[d, old_idx]) < 0:
            axes[d] = -axes[d]
    return axes


def _answers_in_play(matrix: VoteMatrix) -> int:
    """Answers someone voted on or passed, withheld ones included: Pol.is's columns."""
    return int((~np.isnan(matrix.values)).any(axis=0).sum()) + matrix.withheld


def _grouped(matrix: VoteMatrix) -> np.ndarray:
    """Pol.is's rule: 7 answers seen (votes and passes, withheld answers included), or all of them."""
    per_person = matrix.seen
    enough = per_person >= min(MIN_VOTES, _answers_in_play(matrix))
    if enough.sum() < MIN_GROUPED:
        top = np.argsort(-per_person, kind="stable")[:MIN_GROUPED]
        enough[top[per_person[top] > 0]] = True
    return enough


@dataclass(frozen=True)
class _Clustered:
    labels: np.ndarray
    k: int
    centres: np.ndarray
    challenger: int = 0
    streak: int = 0


def _cluster(points: np.ndarray, previous: Previous | None) -> _Clustered:
    """Base clusters, then groups over their weighted centres.

    As in Pol.is, the silhouette is measured over the base clusters' centres, at most
    2 + (base clusters) / 12 groups are tried, and the number of groups changes only once another
    number has won several computations in a row.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    distinct = np.unique(points.round(9), axis=0).shape[0]
    if distinct < 2:
        return _Clustered(np.zeros(len(points), dtype=int), 1, points.mean(axis=0, keepdims=True))
    base_k = min(BASE_CLUSTERS, distinct)
    base = KMeans(n_clusters=base_k, n_init=1, random_state=SEED).fit(points)
    centres = base.cluster_centers_
    weights = np.bincount(base.labels_, minlength=base_k).astype(float)
    options: dict[int, tuple[float, np.ndarray, np.ndarray]] = {}
    for k in GROUP_COUNTS:
        if k > base_k or k > 2 + base_k // 12:
            break
        if previous is not None and previous.k == k and previous.centres.shape == (k, 2):
            model = KMeans(n_clusters=k, init=previous.centres, n_init=1, random_state=SEED)
        else:
            model = KMeans(n_clusters=k, n_init=GROUP_RESTARTS, random_state=SEED)
        model.fit(centres, sample_weight=weights)
        if len(set(model.labels_.tolist())) < 2:
            continue
        if k < base_k:
            score = float(silhouette_score(centres, model.labels_))
        elif len(points) > k:
            score = float(silhouette_score(points, model.labels_[base.labels_]))
        else:
            continue
        options[k] = (score, model.labels_[base.labels_], model.cluster_centers_)
    if not options:
        return _Clustered(np.zeros(len(points), dtype=int), 1, points.mean(axis=0, keepdims=True))
    best = min(options)
    for k in sorted(options):
        if options[k][0] > options[best][0] + MORE_GROUPS_MARGIN:
            best = k
    if previous is None or previous.k not in options or previous.k == best:
        _, labels, group_centres = options[best]
        return _Clustered(labels, best, group_centres)
    if options[best][0] - options[previous.k][0] < KEEP_K_MARGIN:
        _, labels, group_centres = options[previous.k]
        return _Clustered(labels, previous.k, group_centres)
    streak = previous.streak + 1 if previous.challenger == best else 1
    chosen = best if streak >= K_BUFFER else previous.k
    _, labels, group_centres = options[chosen]
    return _Clustered(
        labels, chosen, group_centres, 0 if chosen == best else best, 0 if chosen == best else streak
    )


def _stable_ids(
    labels: np.ndarray, centres: np.ndarray, previous: Previous | None
) -> tuple[np.ndarray, np.ndarray]:
    """Renumber groups: the previous id of the nearest previous centre, else by size, largest first.
    Ids stay 0 to k - 1: when there are fewer groups than before, the ones left keep their order."""
    from scipy.optimize import linear_sum_assignment

    k = centres.shape[0]
    if previous is not None and previous.centres.shape[0] > 0:
        cost = np.linalg.norm(centres[:, None, :] - previous.centres[None, :, :], axis=2)
        rows, cols = linear_sum_assignment(cost)
        order = {int(r): int(c) for r, c in zip(rows, cols, strict=True)}
        spare = iter(i for i in range(max(k, previous.centres.shape[0])) if i not in order.values())
        mapping = np.array([order[i] if i in order else next(spare) for i in range(k)])
        mapping = np.argsort(np.argsort(mapping, kind="stable"), kind="stable")
    else:
        sizes = np.bincount(labels, minlength=k)
        mapping = np.empty(k, dtype=int)
        mapping[np.argsort(-sizes, kind="stable")] = np.arange(k)
    renumbered = np.empty_like(centres)
    renumbered[mapping] = centres
    return mapping[labels], renumbered


def find_groups(matrix: VoteMatrix, previous: Previous | None = None) -> Grouping:
    """The map and the opinion groups of one thread's votes."""
    values = matrix.values
    n = values.shape[0]
    coords, axes = _project(matrix, previous) if n else (np.zeros((0, 2)), np.zeros((2, 0)))
    labels = np.full(n, -1, dtype=int)
    grouped = _grouped(matrix) if n else np.zeros(0, dtype=bool)
    if grouped.sum() < 2:
        return Grouping(coords, labels, grouped, 0, np.zeros((0, 2)), axes, matrix.answers)
    clustered = _cluster(coords[grouped], previous)
    found, centres = _stable_ids(clustered.labels, clustered.centres, previous)
    labels[grouped] = found
    return Grouping(
        coords,
        labels,
        grouped,
        clustered.k,
        centres,
        axes,
        matrix.answers,
        clustered.challenger,
        clustered.streak,
    )


@dataclass(frozen=True)
class AnswerOpinion:
    id: int
    consensus: float
    approval: dict[int, float | None]
    representative_of: int | None
    bridge: bool


@dataclass(frozen=True)
class Opinions:
    """What the groups mean, ready to publish: only groups of at least five people appear."""

    participants: int
    groups: list[tuple[int, int]]
    """(group id, size) of the published groups."""
    answers: list[AnswerOpinion]
    map: list[tuple[float, float, int | None]]
    members: dict[str, int] = field(default_factory=dict)
    """Participant → published group: server-side only, so that a phone may see its own group."""


def _published_labels(labels: np.ndarray) -> np.ndarray:
    sizes = np.bincount(labels[labels >= 0], minlength=1)
    small = [g for g, size in enumerate(sizes) if 0 < size < MIN_PUBLISHED_GROUP]
    return np.where(np.isin(labels, small), -1, labels)


def describe(matrix: VoteMatrix, grouping: Grouping) -> Opinions:
    """Per answer: each group's approval (Laplace-corrected, passes counted as seen, as Pol.is), group-informed
    consensus and representativeness."""
    labels = _published_labels(grouping.labels)
    groups = sorted({int(g) for g in labels if g >= 0})
    agree = matrix.values == 1
    seen = ~np.isnan(matrix.values)
    answers = []
    approvals: dict[int, np.ndarray] = {}
    counts: dict[int, np.ndarray] = {}
    for g in groups:
        inside = labels == g
        counts[g] = seen[inside].sum(axis=0)
        approvals[g] = (1 + agree[inside].sum(axis=0)) / (2 + counts[g])
    consensus = np.prod([approvals[g] for g in groups], axis=0) if groups else np.zeros(len(matrix.answers))
    representative = _representatives(labels, agree, seen, groups, approvals)
    for j, answer in enumerate(matrix.answers):
        approval: dict[int, float | None] = {}
        for g in groups:
            approval[g] = round(float(approvals[g][j]), 4) if counts[g][j] else None
        voted_by_all = bool(groups) and all(approval[g] is not None for g in groups)
        answers.append(
            AnswerOpinion(
                id=answer,
                consensus=round(float(consensus[j]), 4),
                approval=approval,
                representative_of=representative.get(j),
                bridge=len(groups) >= 2
                and voted_by_all
                and all((approval[g] or 0) >= CONSENSUS_APPROVAL for g in groups),
            )
        )
    sizes = [(g, int((labels == g).sum())) for g in groups]
    dots = [
        (x, y, None if g < 0 else g)
        for x, y, g in sorted(
            (round(float(x), 3), round(float(y), 3), int(g))
            for (x, y), g in zip(grouping.coords, labels, strict=True)
        )
    ]
    members = {p: int(g) for p, g in zip(matrix.participants, labels, strict=True) if g >= 0}
    return Opinions(len(matrix.participants), sizes, answers, dots, members)


def _representatives(
    labels: np.ndarray,
    agree: np.ndarray,
    seen: np.ndarray,
    groups: Sequence[int],
    approvals: dict[int, np.ndarray],
) -> dict[int, int]:
    """Answer column → the group it sets apart: agreed within the group, markedly more than by everyone else."""
    scores: dict[int, tuple[float, int]] = {}
    for g in groups:
        inside = labels == g
        outside = (labels >= 0) & ~inside
        n_in, n_out = seen[inside].sum(axis=0), seen[outside].sum(axis=0)
        p_in = approvals[g]
        p_out = (1 + agree[outside].sum(axis=0)) / (2 + n_out)
        pooled = (p_in * (2 + n_in) + p_out * (2 + n_out)) / (4 + n_in + n_out)
        spread = np.sqrt(pooled * (1 - pooled) * (1 / (2 + n_in) + 1 / (2 + n_out)))
        z = np.divide(p_in - p_out, spread, out=np.zeros_like(p_in), where=spread > 0)
        score = (p_in / p_out) * p_in
        eligible = (p_in > 0.5) & (z > REPRESENTATIVE_Z)
        chosen = [
            int(j)
            for j in np.argsort(-np.where(eligible, score, -1), kind="stable")[:REPRESENTATIVES_PER_GROUP]
        ]
        for j in chosen:
            if eligible[j] and (j not in scores or scores[j][0] < score[j]):
                scores[j] = (float(score[j]), g)
    return {j: g for j, (_, g) in scores.items()}


def opinions_of(matrix: VoteMatrix, previous: Previous | None = None) -> tuple[Opinions, Previous]:
    """Groups and their meaning in one call: what a worker process computes for a thread."""
    grouping = find_groups(matrix, previous)
    return describe(matrix, grouping), grouping.previous()


def encode_state(previous: Previous) -> bytes:
    return json.dumps(
        {
            "k": previous.k,
            "centres": previous.centres.tolist(),
            "axes": previous.axes.tolist(),
            "answers": list(previous.answers),
            "challenger": previous.challenger,
            "streak": previous.streak,
        }
    ).encode()


def decode_state(raw: bytes | None) -> Previous | None:
    if not raw:
        return None
    data = json.loads(raw)
    return Previous(
        int(data["k"]),
        np.array(data["centres"], dtype=float).reshape(-1, 2),
        np.array(data["axes"], dtype=float),
        tuple(data["answers"]),
        int(data.get("challenger", 0)),
        int(data.get("streak", 0)),
    )


def public_payload(opinions: Opinions, computed_at: str) -> dict[str, Any]:
    """The API's JSON: no participant id, only published groups."""
    return {
        "computed_at": computed_at,
        "participants": opinions.participants,
        "groups": [{"id": g, "size": size} for g, size in opinions.groups],
        "answers": [
            {
                "id": a.id,
                "consensus": a.consensus,
                "approval": {str(g): v for g, v in a.approval.items()},
                "representative_of": a.representative_of,
                "bridge": a.bridge,
            }
            for a in opinions.answers
        ],
        "map": [list(dot) for dot in opinions.map],
    }


def compute(
    votes: list[tuple[str, int, int]],
    answers: list[int],
    state: bytes | None,
    computed_at: str,
    withheld: Sequence[int] = (),
) -> tuple[bytes, bytes, dict[str, int]]:
    """One thread, start to finish: what the worker process runs. (payload JSON, next state, members)."""
    opinions, previous = opinions_of(vote_matrix(votes, answers, withheld), decode_state(state))
    payload = json.dumps(public_payload(opinions, computed_at), separators=(",", ":")).encode()
    return payload, encode_state(previous), opinions.members


def warm_up() -> None:
    """Load scikit-learn in the worker process, one computing thread, before the first real job."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    compute([("a", 1, 1), ("b", 1, -1), ("a", 2, 1), ("b", 2, -1), ("c", 1, 1)], [1, 2], None, "")

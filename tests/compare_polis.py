"""Our opinion groups against the groups Pol.is itself computed, on real conversations.

    uv run python -m tests.compare_polis [DIR …]

Each DIR is a Pol.is export folder (default: every folder under ../shared/data/polis-open, or
$POLIS_OPEN_DATA). It prints, per conversation: participants, the number of groups Pol.is found and
ours, the adjusted Rand index between the two over the participants both grouped, and the time our
computation took (CPU, one thread, as the worker process runs it). The votes reach the same functions
the board's worker runs, as an import leaves them: votes and passes on published comments, comments
moderated out withheld. `--without-passes` drops the passes, as on a thread the board ran live. The data is Pol.is open data (CC BY 4.0, The Computational Democracy Project).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from pathlib import Path

from board.domain.opinions import VoteMatrix, find_groups, vote_matrix, warm_up
from board.domain.polis import PolisExport, read_polis
from board.models import WITHHELD, AnswerStatus

DEFAULT_DATA = Path(os.environ.get("POLIS_OPEN_DATA", "/work/shared/data/polis-open"))


def polis_groups(folder: Path) -> dict[str, int]:
    """Participant external id → the group Pol.is put them in (participants it left out are absent)."""
    with (folder / "participants-votes.csv").open(newline="", encoding="utf-8") as handle:
        return {
            f"polis:{row['participant']}": int(row["group-id"])
            for row in csv.DictReader(handle)
            if (row.get("group-id") or "").strip()
        }


def export_matrix(export: PolisExport, *, passes: bool = True) -> VoteMatrix:
    """The vote matrix the board's worker builds for this conversation once imported."""
    published = [c.id for c in export.comments if c.status == AnswerStatus.PUBLISHED]
    withheld = [c.id for c in export.comments if c.status in WITHHELD]
    votes = [(f"polis:{v}", c, value) for (v, c), value in export.votes.items()]
    if passes:
        votes += [(f"polis:{v}", c, 0) for v, c in export.passes]
    return vote_matrix(votes, published, withheld)


def compare(folder: Path, *, passes: bool = True) -> tuple[int, int, int, float, float]:
    """(participants, Pol.is groups, our groups, ARI, seconds) for one export folder."""
    from sklearn.metrics import adjusted_rand_score

    matrix = export_matrix(read_polis(folder), passes=passes)
    started = time.process_time()
    grouping = find_groups(matrix)
    seconds = time.process_time() - started
    theirs = polis_groups(folder)
    ours = {p: int(g) for p, g in zip(matrix.participants, grouping.labels, strict=True) if g >= 0}
    both = sorted(set(theirs) & set(ours))
    ari = adjusted_rand_score([theirs[p] for p in both], [ours[p] for p in both]) if both else 0.0
    return len(matrix.participants), len(set(theirs.values())), grouping.k, ari, seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--without-passes", action="store_true", help="leave passes out, as on a live thread")
    args = parser.parse_args(argv)
    folders = args.folders or sorted(p for p in DEFAULT_DATA.iterdir() if (p / "votes.csv").is_file())
    warm_up()
    print(f"{'conversation':32} {'participants':>12} {'Pol.is':>7} {'ours':>5} {'ARI':>6} {'time':>8}")
    scores = []
    for folder in folders:
        people, theirs, ours, ari, seconds = compare(folder, passes=not args.without_passes)
        scores.append(ari)
        print(f"{folder.name:32} {people:>12} {theirs:>7} {ours:>5} {ari:>6.3f} {seconds:>7.3f}s")
    print(f"{'median ARI':32} {'':>12} {'':>7} {'':>5} {statistics.median(scores):>6.3f}")


if __name__ == "__main__":
    main()
